"""Running a plan: chunks in-process over all numba threads (the next chunk computed while the
last is written) or as Dask tasks, resumable into an output directory; `sweep` is the entry
point behind nmc.sweep."""
from __future__ import annotations

import collections
import json
import os
import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .evaluate import _dask_chunk, chunk_columns, eval_range, result_buffer
from .plan import Plan, make_plan
from .spec import check_precision
from .store import (
    FORMAT_VERSION, MANIFEST, have_pyarrow, load, take_lock, write_chunk, write_json,
)
from .table import Table
from ..engine import layout as L

DEFAULT_CHUNK = 1 << 19


def run(plan: Plan, out: str | os.PathLike | None = None, *, chunk_size: int | None = None,
        fmt: str | None = None, client=None, progress: bool = True, overwrite: bool = False,
        precision: str | None = None, _stop_after: int | None = None) -> dict:
    """Evaluate every point of plan. Without out: returns {"columns": ...} in memory. With out:
    writes chunk files + manifest, skipping chunks already finished; returns the manifest.
    precision: "float64" (default, exact) or "float32" result columns on disk.
    _stop_after (tests): stop after that many new chunks, as an interruption would."""
    n = plan.n_points
    cs = int(chunk_size or (DEFAULT_CHUNK if out else max(n, 1)))
    if cs < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {cs}")
    n_chunks = (n + cs - 1) // cs
    columns = plan.result_columns
    payload = plan.payload()
    outdir = None
    if out is not None:
        outdir = Path(out)
        outdir.mkdir(parents=True, exist_ok=True)
        fmt = fmt or ("parquet" if have_pyarrow() else "csv")
        if fmt not in ("parquet", "csv"):
            raise ConfigError(f"format must be parquet or csv, got {fmt!r}")
        if fmt == "parquet" and not have_pyarrow():
            raise ConfigError("format = parquet needs pyarrow (pip install 'nmc[parquet]'); "
                              "or use csv")
        precision = check_precision(precision or "float64")
        lock = take_lock(outdir)
    try:
        return _run_locked(plan, outdir, n, cs, n_chunks, columns, payload, fmt, client,
                           progress, overwrite, precision, _stop_after)
    finally:
        if outdir is not None:
            lock.unlink(missing_ok=True)


def _run_locked(plan, outdir, n, cs, n_chunks, columns, payload, fmt, client, progress,
                overwrite, precision, _stop_after):
    manifest = None
    if outdir is not None:
        mpath = outdir / MANIFEST
        fp = plan.fingerprint()
        if mpath.exists() and not overwrite:
            manifest = json.loads(mpath.read_text())
            if (manifest.get("fingerprint") != fp or manifest.get("chunk_size") != cs
                    or manifest.get("precision", "float64") != precision):
                raise ConfigError(f"{outdir}: holds results of a different sweep (or of another "
                                  f"model version / chunk size / precision); use a new "
                                  f"directory or --overwrite")
            fmt = manifest["format"]
        else:
            if overwrite and mpath.exists():
                old = json.loads(mpath.read_text())
                for c in old.get("chunks", {}).values():
                    (outdir / c["file"]).unlink(missing_ok=True)
            manifest = {"version": FORMAT_VERSION, "fingerprint": fp, "format": fmt,
                        "n_points": n, "chunk_size": cs, "n_chunks": n_chunks,
                        "columns": columns, "params": plan.param_names,
                        "labels": plan.labels, "bound_names": list(L.BOUND_NAMES),
                        "sweep": plan.describe, "precision": precision, "chunks": {},
                        "complete": False, "seconds": 0.0}
            write_json(mpath, manifest)
        done = {int(k) for k, c in manifest["chunks"].items() if (outdir / c["file"]).exists()}
    else:
        done = set()
    todo = [i for i in range(n_chunks) if i not in done]
    mem: dict[int, dict] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, initial=sum(min(cs, n - i * cs) for i in done), unit="pt",
                   unit_scale=True, desc="sweep", smoothing=0.1, leave=False)
    t0 = time.perf_counter()

    def finish(i, res):
        lo, hi = i * cs, min(n, (i + 1) * cs)
        cols = chunk_columns(plan.dims, res, lo, hi, columns)
        if outdir is not None:
            name = f"chunk-{i:06d}.{'parquet' if fmt == 'parquet' else 'csv'}"
            write_chunk(outdir / name, cols, fmt, precision)
            manifest["chunks"][str(i)] = {"file": name, "lo": lo, "hi": hi}
            write_json(outdir / MANIFEST, manifest)
        else:
            mem[i] = cols
        if bar is not None:
            bar.update(hi - lo)

    writer = None
    pending: collections.deque = collections.deque()
    if outdir is not None and client is None and len(todo) > 1:
        from concurrent.futures import ThreadPoolExecutor
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nmc-sweep-writer")
    try:
        new = 0
        if client is None:
            # chunk i is written by one background thread while the kernel (which releases
            # the GIL) computes chunk i+1 into the other of two buffers; at most one write
            # waits, so the buffer of chunk i-1 is free again when chunk i+1 starts
            # (in memory, each chunk keeps its own array: columns are views of it)
            bufs = ([result_buffer(min(cs, n)) for _ in range(2 if writer else 1)]
                    if outdir is not None else [None])
            for k, i in enumerate(todo):
                if _stop_after is not None and new >= _stop_after:
                    raise KeyboardInterrupt
                lo, hi = i * cs, min(n, (i + 1) * cs)
                res = eval_range(payload, lo, hi, out=bufs[k % len(bufs)])
                if writer is None:
                    finish(i, res)
                else:
                    pending.append(writer.submit(finish, i, res))
                    while len(pending) > 1:
                        pending.popleft().result()
                new += 1
        else:
            from dask.distributed import as_completed
            pf = client.scatter(payload, broadcast=True)
            window = max(2, 2 * sum(client.nthreads().values()))
            queue = list(todo)
            futs = {}

            def submit():
                i = queue.pop(0)
                lo, hi = i * cs, min(n, (i + 1) * cs)
                f = client.submit(_dask_chunk, pf, lo, hi, pure=False)
                futs[f] = i
                return f

            ac = as_completed([submit() for _ in range(min(window, len(queue)))])
            for f in ac:
                i = futs.pop(f)
                finish(i, f.result())
                new += 1
                if _stop_after is not None and new >= _stop_after:
                    for g in futs:
                        g.cancel()
                    raise KeyboardInterrupt
                if queue:
                    ac.add(submit())
    finally:
        try:
            while pending:                    # finished chunks are never lost
                pending.popleft().result()
        finally:
            if writer is not None:
                writer.shutdown(wait=True)
        if bar is not None:
            bar.close()
        if outdir is not None:
            manifest["seconds"] = manifest.get("seconds", 0.0) + time.perf_counter() - t0
            manifest["complete"] = len(manifest["chunks"]) == n_chunks
            write_json(outdir / MANIFEST, manifest)
    if outdir is not None:
        return manifest
    return {"columns": columns, "chunks": mem, "params": plan.param_names,
            "labels": plan.labels, "sweep": plan.describe}



def _assemble(result: dict) -> Table:
    chunks = result["chunks"]
    data = {k: np.concatenate([chunks[i][k] for i in sorted(chunks)]) for k in result["columns"]}
    return Table(data, result["labels"], {"params": result["params"], "sweep": result["sweep"]})


def sweep(model, arch, grid: dict | None = None, *, out=None, client=None, chunk_size=None,
          format: str | None = None, progress: bool = False, overwrite: bool = False,
          threads: int | None = None, arch_set: dict | None = None, columns=None,
          precision: str | None = None, **scenario) -> Table:
    """Evaluate model(s) x arch(s) x grid under a scenario; return a columnar Table.

    model, arch: a name/path or a list of them (a list becomes a grid dimension).
    grid: {param: [values] | {"linspace": [a, b, n]} | {"logspace": [a, b, n]},
           "p,q": [(p1, q1), (p2, q2)]} -- see the module docstring.
    scenario keywords: phase, batch, prompt, context, generate, tp, weights, activations, kv, ...
    out: directory for chunked, resumable output; client: a dask.distributed Client;
    columns: result columns to keep (default all; swept parameters are always kept);
    precision: "float32" stores result columns on disk as float32 (with out only)."""
    plan = make_plan(model, arch, grid, scenario, arch_set=arch_set, columns=columns)
    import numba
    before = numba.get_num_threads()
    if threads:
        numba.set_num_threads(int(threads))
    try:
        res = run(plan, out, chunk_size=chunk_size, fmt=format, client=client,
                  progress=progress, overwrite=overwrite, precision=precision)
    finally:
        numba.set_num_threads(before)
    if out is not None:
        return load(out)
    return _assemble(res)

