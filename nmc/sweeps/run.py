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
from .guard import Limits, check, estimate
from .plan import Plan, make_plan
from .spec import check_precision
from .store import (
    FORMAT_VERSION, MANIFEST, have_pyarrow, load, read_manifest, take_lock, write_chunk,
    write_json,
)
from .table import Table
from ..engine import layout as L

DEFAULT_CHUNK = 1 << 19


def run(plan: Plan, out: str | os.PathLike | None = None, *, chunk_size: int | None = None,
        fmt: str | None = None, client=None, progress: bool = True, overwrite: bool = False,
        precision: str | None = None, limits: Limits | None = None, cli: bool = False,
        announce=None, _stop_after: int | None = None) -> dict:
    """Evaluate every point of plan. Without out: returns {"columns": ...} in memory. With out:
    writes chunk files + manifest, skipping chunks already finished; returns the manifest.
    precision: "float64" (default, exact) or "float32" result columns on disk.
    limits: refuse the sweep before it starts when its estimated points, memory, disk or time
    are above them (guard.py; default Limits()); cli: name the flags, not the keywords.
    announce(estimate): called once the output is locked and checked, before computing.
    _stop_after (tests): stop after that many new chunks, as an interruption would.
    The output's .lock is removed on every way out (errors, KeyboardInterrupt); a lock left by
    a killed process is taken over by the next run on the same host (store.take_lock)."""
    n = plan.n_points
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise ConfigError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    cs = int(chunk_size or (DEFAULT_CHUNK if out else max(n, 1)))
    n_chunks = (n + cs - 1) // cs
    columns = plan.result_columns
    payload = plan.payload()
    outdir = None
    if out is not None:
        outdir = Path(out)
        fmt = fmt or ("parquet" if have_pyarrow() else "csv")
        if fmt not in ("parquet", "csv"):
            raise ConfigError(f"format must be parquet or csv, got {fmt!r}")
        if fmt == "parquet" and not have_pyarrow():
            raise ConfigError("format = parquet needs pyarrow (pip install 'nmc[parquet]'); "
                              "or use csv")
        precision = check_precision(precision or "float64")
    import numba
    est = estimate(plan, outdir, chunk_size=cs, fmt=fmt, precision=precision,
                   threads=numba.get_num_threads(),
                   done_points=0 if overwrite or outdir is None else
                   _done_points(outdir, plan, cs, precision))
    check(est, limits or Limits(), cli=cli)
    lock = None
    try:
        if outdir is not None:
            _make_dir(outdir)
            lock = take_lock(outdir)
        return _run_locked(plan, outdir, n, cs, n_chunks, columns, payload, fmt, client,
                           progress, overwrite, precision, _stop_after,
                           (lambda: announce(est)) if announce else None)
    except OSError as e:           # disk full, permissions, a path that is a file, ...
        raise ConfigError(f"{outdir}: cannot write the sweep ({e.strerror or e})") from None
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


def _make_dir(outdir: Path) -> None:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"{outdir}: exists and is not a directory") from None
    except OSError as e:
        raise ConfigError(f"{outdir}: cannot create the output directory "
                          f"({e.strerror or e})") from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise ConfigError(f"{outdir}: the output directory is not writable")


def _done_points(outdir: Path, plan: Plan, cs: int, precision: str) -> int:
    """Points already written into outdir by an unfinished run of the same sweep (resume)."""
    try:
        man = json.loads((outdir / MANIFEST).read_text())
        if (man.get("fingerprint") != plan.fingerprint() or man.get("chunk_size") != cs
                or man.get("precision", "float64") != precision):
            return 0
        return sum(int(c["hi"]) - int(c["lo"]) for c in man["chunks"].values()
                   if (outdir / c["file"]).exists())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0


def set_threads(threads) -> None:
    """numba threads for this process: an integer between 1 and the number numba started with
    (NUMBA_NUM_THREADS, the cores by default)."""
    import numba
    top = numba.config.NUMBA_NUM_THREADS
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
            or not 1 <= int(threads) <= top:
        raise ConfigError(f"threads must be an integer from 1 to {top} (the cores numba "
                          f"started with; NUMBA_NUM_THREADS raises it), got {threads!r}")
    numba.set_num_threads(int(threads))


def _run_locked(plan, outdir, n, cs, n_chunks, columns, payload, fmt, client, progress,
                overwrite, precision, _stop_after, announce=None):
    manifest = None
    if outdir is not None:
        mpath = outdir / MANIFEST
        fp = plan.fingerprint()
        if mpath.exists() and not overwrite:
            manifest = read_manifest(mpath)
            if (manifest.get("fingerprint") != fp or manifest.get("chunk_size") != cs
                    or manifest.get("precision", "float64") != precision):
                raise ConfigError(f"{outdir}: holds results of a different sweep (or of another "
                                  f"model version / chunk size / precision); use a new "
                                  f"directory or --overwrite")
            fmt = manifest["format"]
        else:
            if overwrite and mpath.exists():
                try:
                    old = read_manifest(mpath)
                except ConfigError:
                    old = {}                    # unreadable: nothing of it to delete
                for c in old.get("chunks", {}).values():
                    if isinstance(c, dict) and isinstance(c.get("file"), str):
                        (outdir / Path(c["file"]).name).unlink(missing_ok=True)
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
    if announce is not None:
        announce()
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
          precision: str | None = None, max_points=None, max_memory=None, max_disk=None,
          max_hours=None, **scenario) -> Table:
    """Evaluate model(s) x arch(s) x grid under a scenario; return a columnar Table.

    model, arch: a name/path or a list of them (a list becomes a grid dimension).
    grid: {param: [values] | {"linspace": [a, b, n]} | {"logspace": [a, b, n]},
           "p,q": [(p1, q1), (p2, q2)]} -- see the module docstring.
    scenario keywords: phase, batch, prompt, context, generate, tp, weights, activations, kv, ...
    out: directory for chunked, resumable output; client: a dask.distributed Client;
    columns: result columns to keep (default all; swept parameters are always kept);
    precision: "float32" stores result columns on disk as float32 (with out only).
    max_points, max_memory, max_disk, max_hours: raise the limits above which the sweep is
    refused before it starts (default 1e10 points, half the available memory, the free disk,
    24 h; units allowed: max_memory="64 GB"; sweeps/guard.py)."""
    limits = Limits.of(max_points, max_memory, max_disk, max_hours)
    if grid is not None and not isinstance(grid, dict):
        raise ConfigError(f"grid must be a dict of parameter -> values, got {type(grid).__name__}")
    plan = make_plan(model, arch, grid, scenario, arch_set=arch_set, columns=columns,
                     limits=limits)
    import numba
    before = numba.get_num_threads()
    if threads:
        set_threads(threads)
    try:
        res = run(plan, out, chunk_size=chunk_size, fmt=format, client=client,
                  progress=progress, overwrite=overwrite, precision=precision, limits=limits)
    finally:
        numba.set_num_threads(before)
    if out is not None:
        return load(out)
    return _assemble(res)
