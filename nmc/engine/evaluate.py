"""Point and grid evaluation: build the operator table, price its passes (passes.py), sum.

point_into is the one path from (model, scenario, arch) vectors to results; walk_range is the
one loop over points, behind both evaluate_point (the per-point Python API) and each chunk of
evaluate_grid (sweeps)."""
import math

import numpy as np
from numba import njit, prange

from .aimc import A_AIMC_TILES, aimc_summary
from .layout import (
    ACC_COMM, ACC_COMPUTE, ACC_DRAM, ACC_ENERGY, ACC_FLOPS,
    ACC_LAT, ACC_MEM, ACC_TIME, N_ACC, N_OF, N_PREP, N_PX, N_RESULTS, N_SLOTS, N_TERMS,
    PHASE_DECODE, PHASE_GENERATE, PHASE_PREFILL, PX_ACT, PX_ACT1, PX_KV, PX_KV1, PX_W,
    R_ACT_BYTES, R_AIMC_TILES, R_BOUND, R_DRAM, R_ENERGY, R_ENERGY_PER_TOKEN, R_FITS, R_FLOPS,
    R_KV_BYTES, R_LATENCY, R_MAX_BATCH, R_MEM_FOOTPRINT, R_T_COMM, R_T_COMPUTE, R_T_LAT, R_T_MEM,
    R_TOKENS_PER_S, R_TPOT, R_TTFT, R_WEIGHT_BYTES, S_ADT, S_BATCH, S_CONTEXT, S_GEN, S_KVDT,
    S_DEQUANT, S_EP, S_PHASE, S_PROMPT, S_RUNTIME, S_TP, S_WDT,
)
from .mapping import family_of
from .ops import build_ops, footprint
from .passes import RATE_MASK, cost_pass
from .pim import static_power, usable_capacity
from .warm import warm


@njit(cache=True, inline="always")
def point_into(m, s, a, ops, terms, out, p, acc, prep, px, rebuild, reprep, keep_terms, host,
               pim, aimc):
    """Evaluate one (model, scenario, arch) point into out[p, :N_RESULTS] with caller-owned scratch
    (row p is indexed, not sliced: a slice per point would touch the shared reference count of
    out from every thread).

    Reuse across calls (walk_range): rebuild=False keeps the operator table and footprint left in
    ops/px by the previous call, valid only when m and s are unchanged since then (they depend on
    model and scenario only); reprep=False also keeps the host structure stage (prep, px sums),
    valid when in addition no arch parameter outside gpu.RATE_PARAMS moved. rebuild implies
    reprep. keep_terms=False leaves terms unwritten on host-only arches. The generate phase
    always rebuilds. host, pim, aimc: the engines compiled in, True or None (mapping.py)."""
    for k in range(N_ACC):
        acc[k] = 0.0
    b = s[S_BATCH]
    tp = s[S_TP]
    ep = max(s[S_EP], 1.0)
    phase = int(s[S_PHASE])
    nan = math.nan
    ttft = nan
    tpot = nan
    n_pass = 1
    prompt = s[S_PROMPT]
    if phase == PHASE_GENERATE:
        # prefill of the prompt yields the first new token; each decode step one more
        n_new = s[S_GEN]
        n_pass = max(int(n_new), 1)
        tokens = b * n_new
        span = prompt + n_new
        rebuild = True
    elif phase == PHASE_PREFILL:
        tokens = b * prompt
        span = prompt
    else:
        tokens = b
        span = s[S_CONTEXT] + 1.0
    dec = 0.0
    q = 1.0
    # one cost_pass call site (an inlined body is compiled once per site)
    for i in range(n_pass):
        if phase == PHASE_GENERATE:
            q = prompt if i == 0 else 1.0
            c = 0.0 if i == 0 else prompt + i - 1.0
        elif phase == PHASE_PREFILL:
            q = prompt
            c = 0.0
        else:
            c = s[S_CONTEXT]
        if rebuild:
            build_ops(m, b, q, c, tp, s[S_WDT], s[S_ADT], s[S_KVDT], s[S_RUNTIME], ops,
                      s[S_DEQUANT], ep)
        t_pass = cost_pass(ops, a, s, terms, acc, prep, px, rebuild or reprep, keep_terms,
                           host, pim, aimc)
        if i == 0 and phase != PHASE_DECODE:
            ttft = t_pass
        elif phase == PHASE_DECODE:
            tpot = t_pass
        else:
            dec += t_pass
    if phase == PHASE_GENERATE:
        q = prompt
        if n_pass > 1:
            tpot = dec / (n_pass - 1.0)
    if rebuild:
        w, kv, act = footprint(m, b, span, q, tp, s[S_WDT], s[S_ADT], s[S_KVDT], ep)
        _, kv1, act1 = footprint(m, ep, span, q, tp, s[S_WDT], s[S_ADT], s[S_KVDT], ep)
        px[PX_W] = w
        px[PX_KV] = kv
        px[PX_ACT] = act
        px[PX_KV1] = kv1
        px[PX_ACT1] = act1
    w = px[PX_W]
    kv = px[PX_KV]
    act = px[PX_ACT]
    t = acc[ACC_TIME]
    devices = tp * ep
    energy = (acc[ACC_ENERGY] + static_power(a) * t) * devices     # all tp x ep devices
    cap = usable_capacity(a)
    out[p, R_LATENCY] = t
    out[p, R_TOKENS_PER_S] = tokens / t
    out[p, R_ENERGY] = energy
    out[p, R_ENERGY_PER_TOKEN] = energy / tokens
    out[p, R_T_COMPUTE] = acc[ACC_COMPUTE]
    out[p, R_T_MEM] = acc[ACC_MEM]
    out[p, R_T_LAT] = acc[ACC_LAT]
    out[p, R_T_COMM] = acc[ACC_COMM]
    out[p, R_FLOPS] = acc[ACC_FLOPS] * devices
    out[p, R_DRAM] = acc[ACC_DRAM] * devices
    out[p, R_WEIGHT_BYTES] = w
    out[p, R_KV_BYTES] = kv
    out[p, R_ACT_BYTES] = act
    out[p, R_MEM_FOOTPRINT] = w + kv + act
    out[p, R_FITS] = 1.0 if w + kv + act <= cap else 0.0
    # sequences per device (one per device in kv1/act1) times the ep data-parallel groups
    out[p, R_MAX_BATCH] = max(math.floor((cap - w) / (px[PX_KV1] + px[PX_ACT1])), 0.0) * ep
    out[p, R_TTFT] = ttft
    out[p, R_TPOT] = tpot
    shares = (acc[ACC_COMPUTE], acc[ACC_MEM], acc[ACC_LAT], acc[ACC_COMM])
    best = 0
    for k in range(1, 4):
        if shares[k] > shares[best]:
            best = k
    out[p, R_BOUND] = best
    if aimc is not None and a[A_AIMC_TILES] > 0.0:    # AIMC whole-model figures; NaN on
        aimc_summary(m, s, a, ops, terms, out[p])       # other families (checked here: no
    else:                                               # call, no row slice per point)
        for k in range(R_AIMC_TILES, N_RESULTS):
            out[p, k] = math.nan


@njit(cache=True)
def walk_range(m, s, a, ax_target, ax_index, ax_dim, ax_values, dim_sizes, moves_ops,
               moves_prep, start, lo, hi, out, keep_terms, ops, terms, host, pim, aimc):
    """Evaluate grid points start+lo .. start+hi-1 into out[lo:hi] on this thread: the one loop
    behind evaluate_point (a grid of one point) and each chunk of evaluate_grid.

    Point p is a row-major multi-index over dim_sizes; axis j sets vector ax_target[j]
    (0 = arch, 1 = scenario, 2 = model) at ax_index[j] to ax_values[j, index of dim ax_dim[j]]
    (axes sharing a dim are zipped), writing m, s, a in place. An odometer steps the index; only
    axes of dims that moved are written; the operator table is rebuilt only when a dim that
    moves_ops moved, the host structure stage only when one that moves_prep (or moves_ops) did.
    host, pim, aimc: the engines compiled in, True or None (mapping.py)."""
    n_dims = dim_sizes.shape[0]
    n_axes = ax_target.shape[0]
    acc = np.empty(N_ACC)
    prep = np.empty((N_PREP, N_SLOTS))
    px = np.empty(N_PX)
    idx = np.empty(n_dims, dtype=np.int64)
    changed = np.ones(n_dims, dtype=np.bool_)
    r = start + lo
    for k in range(n_dims - 1, -1, -1):
        idx[k] = r % dim_sizes[k]
        r //= dim_sizes[k]
    for p in range(lo, hi):
        rebuild = p == lo
        reprep = rebuild
        for j in range(n_axes):
            d = ax_dim[j]
            if changed[d]:
                v = ax_values[j, idx[d]]
                t = ax_target[j]
                if t == 0:
                    a[ax_index[j]] = v
                elif t == 1:
                    s[ax_index[j]] = v
                else:
                    m[ax_index[j]] = v
        for k in range(n_dims):
            if changed[k]:
                if moves_ops[k]:
                    rebuild = True
                if moves_prep[k]:
                    reprep = True
        point_into(m, s, a, ops, terms, out, p, acc, prep, px, rebuild, reprep, keep_terms,
                   host, pim, aimc)
        # odometer step to the next row-major multi-index
        for k in range(n_dims):
            changed[k] = False
        for k in range(n_dims - 1, -1, -1):
            changed[k] = True
            idx[k] += 1
            if idx[k] < dim_sizes[k]:
                break
            idx[k] = 0


# point_into compiled as a function of its own (not inlined) for the per-point entries below:
# inlining copies its IR into the caller, which costs ~2 s of a cold start; the sweep kernel
# inlines it (walk_range: a call per point would cost ~10% of the sweep speed). Same Python
# function, same arithmetic: only the call boundary differs.
point_into_call = njit(cache=True)(point_into.py_func)


@njit(cache=True, inline="always")
def _point(m, s, a, ops, terms, res, host, pim, aimc):
    """point_into for one point: fresh scratch, every per-operator term kept."""
    acc = np.empty(N_ACC)
    prep = np.empty((N_PREP, N_SLOTS))
    px = np.empty(N_PX)
    keep = ops.shape[0] >= 0           # run-time True: a literal would add a compiled variant
    point_into_call(m, s, a, ops, terms, res.reshape((res.shape[0], 1)).T, 0, acc, prep, px,
                    keep, keep, keep, host, pim, aimc)
    # res as a [1, N_RESULTS] column-major array: the layout sweeps use (sweep.result_buffer)


@njit(cache=True)
def evaluate_point(m, s, a, ops, terms, res):
    """Evaluate one (model, scenario, arch) point into res[N_RESULTS]. ops/terms are scratch
    (after return they hold the last pass evaluated, every per-operator term filled). Compiles
    every family's engines, through the sweep kernel's walk_range (compiled once for both);
    point_entry(a) gives an entry that compiles only a's family, with the same results bit for
    bit."""
    none = np.empty(0, dtype=np.int64)
    flags = np.empty(0, dtype=np.bool_)
    zero = none.shape[0]        # run-time values: literal arguments would compile walk_range
    walk_range(m, s, a, none, none, none, np.empty((0, 1)), none, flags, flags, zero, zero,
               zero + 1, res.reshape((res.shape[0], 1)).T, zero == 0, ops, terms, True, True,
               True)            # again; res as a [1, N_RESULTS] column-major array: the layout
    # sweeps use (sweep.result_buffer), so walk_range is compiled once


@njit(cache=True)
def evaluate_point_host(m, s, a, ops, terms, res):
    """evaluate_point for a host-only arch (no PIM units, no AIMC tiles): host engine only."""
    _point(m, s, a, ops, terms, res, True, None, None)


@njit(cache=True)
def evaluate_point_pim(m, s, a, ops, terms, res):
    """evaluate_point for a PIM system (pim_banks > 0, no AIMC tiles): host and PIM engines."""
    _point(m, s, a, ops, terms, res, None, True, None)


@njit(cache=True)
def evaluate_point_aimc(m, s, a, ops, terms, res):
    """evaluate_point for an AIMC chip (aimc_tiles > 0, no PIM units): tiles, digital unit."""
    _point(m, s, a, ops, terms, res, None, None, True)


def point_entry(a):
    """The evaluate_point entry that compiles only the engines of arch vector a's family (a
    first `nmc analyze` on a GPU compiles in ~1/4 of the time of evaluate_point); on a cold
    cache, compiled in two processes (warm.py)."""
    family = family_of(a)
    warm(family)
    return {"host": evaluate_point_host, "pim": evaluate_point_pim,
            "aimc": evaluate_point_aimc}.get(family, evaluate_point)


@njit(cache=True, parallel=True, nogil=True)   # nogil: sweeps write chunks meanwhile
def evaluate_grid(m, s0, a0, ax_target, ax_index, ax_dim, ax_values, dim_sizes, start, stop,
                  out, n_chunks):
    """Evaluate grid points start..stop-1 into out[stop-start, N_RESULTS] (walk_range per
    chunk of points, chunks in parallel)."""
    n = stop - start
    n_dims = dim_sizes.shape[0]
    n_axes = ax_target.shape[0]
    # dims that move a model or scenario entry: when none of them changed since the previous
    # point, the operator table is reused (it does not depend on the arch vector); dims that
    # move an arch entry outside RATE_PARAMS: the host structure stage is redone
    moves_ops = np.zeros(n_dims, dtype=np.bool_)
    moves_prep = np.zeros(n_dims, dtype=np.bool_)
    for j in range(n_axes):
        if ax_target[j] != 0:
            moves_ops[ax_dim[j]] = True
        elif not RATE_MASK[ax_index[j]]:
            moves_prep[ax_dim[j]] = True
    per = (n + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        lo = ch * per
        hi = min(n, lo + per)
        if lo >= hi:
            continue
        walk_range(m.copy(), s0.copy(), a0.copy(), ax_target, ax_index, ax_dim, ax_values,
                   dim_sizes, moves_ops, moves_prep, start, lo, hi, out, n < 0,
                   np.empty((N_SLOTS, N_OF)), np.empty((N_SLOTS, N_TERMS)), True, True, True)
