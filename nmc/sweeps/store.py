"""A sweep's output directory: chunk files (Parquet or CSV, written atomically), the manifest,
the one-writer lock, and reading it back into a Table (docs/sweep.md, "Output and resume")."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..engine import layout as L
from ..errors import ConfigError
from .spec import SHARE_COLS
from .table import Table

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
RESULT_SET = frozenset(L.RESULT_FIELDS) | frozenset(SHARE_COLS)


def have_pyarrow() -> bool:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
        return True
    except ImportError:
        return False


def write_chunk(path: Path, cols: dict[str, np.ndarray], fmt: str,
                 precision: str = "float64") -> None:
    """Write one chunk atomically (temp file, then rename). precision="float32" stores result
    columns as float32 (7 significant digits; parameter columns stay exact): half the bytes and
    about half the encoding time of a large sweep (docs/sweep.md)."""
    if precision == "float32":
        cols = {k: (v.astype(np.float32) if k in RESULT_SET else v) for k, v in cols.items()}
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        params = [k for k in cols if k not in L.RESULT_FIELDS and k not in SHARE_COLS]
        # lz4, dictionary pages for the (repeating) parameter columns only, no statistics:
        # the fastest writer settings measured (docs/sweep.md), ~20 B per point
        pq.write_table(pa.table({k: np.ascontiguousarray(v) for k, v in cols.items()}), tmp,
                       use_dictionary=params, compression="lz4", write_statistics=False)
    else:
        arr = np.column_stack([np.asarray(v, dtype=float) for v in cols.values()])
        with open(tmp, "w") as f:
            f.write(",".join(cols) + "\n")
            np.savetxt(f, arr, delimiter=",", fmt="%.9g" if precision == "float32" else "%.17g")
    os.replace(tmp, path)


def read_chunk(path: Path, fmt: str, columns: list[str]) -> dict[str, np.ndarray]:
    if fmt == "parquet":
        import pyarrow.parquet as pq
        t = pq.read_table(path)
        return {k: t.column(k).to_numpy() for k in columns}
    with open(path) as f:
        header = f.readline().strip().split(",")
    if header != columns:
        raise ConfigError(f"{path}: columns {header} differ from the manifest's")
    arr = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return {k: arr[:, i] for i, k in enumerate(columns)}


def read_manifest(path: Path) -> dict:
    """A sweep directory's manifest.json, checked enough to use (a damaged one is an error
    naming the file, never a traceback)."""
    try:
        man = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a sweep manifest (not UTF-8 text)") from None
    except ValueError as e:
        raise ConfigError(f"{path}: damaged manifest (not JSON: {e}); run the sweep again "
                          f"with --overwrite, or into a new directory") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    need = {"format": str, "columns": list, "chunks": dict, "params": list, "labels": dict,
            "n_points": int}
    if not isinstance(man, dict) or any(not isinstance(man.get(k), t) for k, t in need.items()):
        raise ConfigError(f"{path}: damaged manifest (missing or wrong keys); run the sweep "
                          f"again with --overwrite, or into a new directory")
    return man


def write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def take_lock(outdir: Path) -> Path:
    """One writer per output directory: DIR/.lock holds 'pid host'; a lock of a dead process
    on this host is taken over."""
    import socket
    path = outdir / ".lock"
    host = socket.gethostname()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid_s, other = path.read_text().split()[:2]
                pid = int(pid_s)
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            if other == host and not _alive(pid):
                path.unlink(missing_ok=True)
                continue
            raise ConfigError(f"{outdir}: another sweep (pid {pid} on {other}) is writing here; "
                              f"wait for it, or delete {path} if that process is gone") from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {host}\n")
        return path
    raise ConfigError(f"{outdir}: cannot take {path}")



def load(out: str | os.PathLike, columns: list[str] | None = None) -> Table:
    """Read a sweep directory (all finished chunks, in point order) into a Table."""
    outdir = Path(out)
    mpath = outdir / MANIFEST
    if not outdir.is_dir():
        raise ConfigError(f"{outdir}: no such directory (a sweep output directory: "
                          f"`nmc sweep SPEC -o DIR`)")
    if not mpath.exists():
        raise ConfigError(f"{outdir}: no {MANIFEST} (not a sweep output directory)")
    man = read_manifest(mpath)
    cols = man["columns"]
    want = columns or cols
    bad = [c for c in want if c not in cols]
    if bad:
        raise ConfigError(f"{outdir}: unknown column(s) {', '.join(bad)}; have {', '.join(cols)}")
    parts = []
    try:
        for k in sorted(man["chunks"], key=int):
            c = man["chunks"][k]
            d = read_chunk(outdir / Path(c["file"]).name, man["format"], cols)
            parts.append({k2: d[k2] for k2 in want})
    except ConfigError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise ConfigError(f"{outdir}: damaged sweep output ({type(e).__name__}: {e}); run "
                          f"the sweep again with --overwrite") from None
    data = {k: (np.concatenate([p[k] for p in parts]) if parts else np.empty(0)) for k in want}
    prec = man.get("precision", "float64")
    if prec == "float32":                 # csv reads back as float64: same dtype as parquet
        data = {k: (v.astype(np.float32) if k in RESULT_SET else v) for k, v in data.items()}
    meta = {"params": man["params"], "sweep": man.get("sweep", {}),
            "complete": bool(man.get("complete")), "n_points": man["n_points"], "precision": prec}
    return Table(data, {k: v for k, v in man["labels"].items() if k in want}, meta)
