"""Kernel evaluation of a plan's points in chunks: result buffers, the grid kernel, and the
parameter/result/share columns of a chunk."""
from __future__ import annotations

import numpy as np

from ..engine import layout as L
from .plan import Dim
from .spec import SHARE_COLS


def _threads() -> int:
    import numba
    return numba.get_num_threads()


def result_buffer(n: int) -> np.ndarray:
    """An output array for at least n points: [rows, N_RESULTS] in column-major (Fortran)
    order, so that each result column is contiguous (chunk writers take columns without
    copying; the kernel is compiled for this layout, and evaluate_point passes the same).
    rows = n rounded up to 512, plus 8: the column stride is then 64 B past a multiple of 4 KiB.
    With a stride of exactly k x 4 KiB the ~20 stores of one point all fall in the same L1 cache
    set (4K aliasing), which made the kernel ~1.6x slower (docs/sweep.md)."""
    return np.empty((-(-max(n, 1) // 512) * 512 + 8, L.N_RESULTS), order="F")


def result_buffer_bytes(n: int) -> float:
    """Bytes of result_buffer(n)."""
    return float((-(-max(n, 1) // 512) * 512 + 8) * L.N_RESULTS * 8)


def eval_range(payload: tuple, lo: int, hi: int, n_chunks: int | None = None,
               out: np.ndarray | None = None, warm: bool = True) -> np.ndarray:
    """Kernel results [hi-lo, N_RESULTS] for points lo..hi-1 of a plan payload: a view of the
    first hi-lo rows of out, a result_buffer with at least that many rows that the caller
    reuses (a fresh 100 MB array per chunk costs its page faults, more than the kernel itself
    at 0.5M points per chunk; docs/sweep.md), or of a new one. warm: on a cold cache, compile
    the kernel in two processes (engine/warm.py; Dask workers do not: they share the machine)."""
    from ..engine import evaluate_grid
    if warm:
        from ..engine.warm import warm as warm_kernels
        warm_kernels("grid")
    m0, s0, a0, at, ai, ad, av, ds = payload
    if out is None or out.shape[0] < hi - lo:
        out = result_buffer(hi - lo)
    n_chunks = n_chunks or max(1, min(4 * _threads(), hi - lo))
    evaluate_grid(m0, s0, a0, at, ai, ad, av, ds, lo, hi, out, n_chunks)
    return out[:hi - lo]


def param_columns(plan_dims: list[Dim], lo: int, hi: int) -> dict[str, np.ndarray]:
    """The swept parameters' values (codes for labels) at points lo..hi-1."""
    cols = {}
    if plan_dims:
        idx = np.unravel_index(np.arange(lo, hi, dtype=np.int64), [d.size for d in plan_dims])
        for d, ix in zip(plan_dims, idx):
            for name, vals in d.columns.items():
                cols[name] = vals[ix]
    return cols


def chunk_columns(plan_dims: list[Dim], res: np.ndarray, lo: int, hi: int,
                  columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Parameter columns, result columns and bound shares of points lo..hi-1 (only those in
    columns when given). Result columns are views of res."""
    cols = param_columns(plan_dims, lo, hi)
    want = None if columns is None else set(columns)
    for i, name in enumerate(L.RESULT_FIELDS):
        if want is None or name in want:
            cols[name] = res[:, i]
    if want is None or want & set(SHARE_COLS):
        parts = [res[:, getattr(L, k)] for k in ("R_T_COMPUTE", "R_T_MEM", "R_T_LAT", "R_T_COMM")]
        tot = parts[0] + parts[1] + parts[2] + parts[3]
        with np.errstate(invalid="ignore", divide="ignore"):
            for name, p in zip(SHARE_COLS, parts):
                if want is None or name in want:
                    cols[name] = np.where(tot > 0, p / tot, 0.0)
    return cols


def _dask_chunk(payload, lo, hi):
    """Dask task: kernel results of points lo..hi-1 (the client builds the columns)."""
    return eval_range(payload, lo, hi, warm=False)

