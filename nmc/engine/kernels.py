"""Point and grid evaluation: build the operator table, cost every operator, sum.

evaluate_point is the one path from (model, scenario, arch) vectors to results; the per-point
Python API and the grid kernel both call it."""
import math

import numpy as np
from numba import njit, prange

from .aimc import aimc_summary
from .mapping import map_and_cost, plan_engines
from .layout import (
    A_MEM_CAP, A_MEM_USABLE, A_P_STATIC, BOUND_COMM, BOUND_COMPUTE, BOUND_LATENCY, BOUND_MEMORY,
    N_OF, N_SLOTS, N_TERMS, O_COUNT, O_FLOPS, PHASE_DECODE, PHASE_PREFILL, R_ACT_BYTES, R_BOUND, R_DRAM, R_ENERGY, R_ENERGY_PER_TOKEN, R_FITS, R_FLOPS,
    R_KV_BYTES, R_LATENCY, R_MAX_BATCH, R_MEM_FOOTPRINT, R_T_COMM, R_T_COMPUTE, R_T_LAT, R_T_MEM,
    R_TOKENS_PER_S, R_TPOT, R_TTFT, R_WEIGHT_BYTES, S_ADT, S_BATCH, S_CONTEXT, S_GEN, S_KVDT,
    S_PHASE, S_PROMPT, S_TP, S_WDT, T_BOUND, T_COMM, T_COMPUTE, T_DRAM, T_ENERGY, T_LAT, T_MEM, T_TOTAL,
)
from .ops import build_ops, footprint

# accumulator slots of one or more passes
ACC_COMPUTE, ACC_MEM, ACC_LAT, ACC_COMM, ACC_TIME, ACC_ENERGY, ACC_FLOPS, ACC_DRAM = range(8)
N_ACC = 8


@njit(cache=True)
def cost_ops(ops, a, s, terms, acc):
    """Cost every operator row on its engine, write terms, add totals into acc; return time.
    Reads ops only: evaluate_grid reuses one operator table across architecture points."""
    total = 0.0
    plan_engines(ops, a, s, terms)
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0:
            for j in range(N_TERMS):
                terms[i, j] = 0.0
            continue
        map_and_cost(ops, i, a, s, terms)
        tc = terms[i, T_COMPUTE]
        tm = terms[i, T_MEM]
        tl = terms[i, T_LAT]
        tx = terms[i, T_COMM]
        t = n * (max(tc, tm) + tl + tx)
        terms[i, T_TOTAL] = t
        if tc >= tm:
            acc[ACC_COMPUTE] += n * tc
            big, code = tc, BOUND_COMPUTE
        else:
            acc[ACC_MEM] += n * tm
            big, code = tm, BOUND_MEMORY
        if tl > big:
            big, code = tl, BOUND_LATENCY
        if tx > big:
            code = BOUND_COMM
        terms[i, T_BOUND] = code
        acc[ACC_LAT] += n * tl
        acc[ACC_COMM] += n * tx
        acc[ACC_ENERGY] += n * terms[i, T_ENERGY]
        acc[ACC_FLOPS] += n * ops[i, O_FLOPS]
        acc[ACC_DRAM] += n * terms[i, T_DRAM]
        total += t
    acc[ACC_TIME] += total
    return total


@njit(cache=True)
def run_pass(m, b, q, c, s, a, ops, terms, acc):
    build_ops(m, b, q, c, s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT], ops)
    return cost_ops(ops, a, s, terms, acc)


@njit(cache=True)
def evaluate_point(m, s, a, ops, terms, res):
    """Evaluate one (model, scenario, arch) point into res[N_RESULTS]. ops/terms are scratch
    (after return they hold the last pass evaluated)."""
    acc = np.empty(N_ACC)
    point_into(m, s, a, ops, terms, res, acc, True)


@njit(cache=True)
def point_into(m, s, a, ops, terms, res, acc, rebuild):
    """evaluate_point with caller-owned scratch acc[N_ACC]. rebuild=False reuses the operator
    table left in ops by the previous call; valid only when m and s are unchanged since then
    (ops depend on model and scenario only, never on arch). The generate phase always rebuilds."""
    for k in range(N_ACC):
        acc[k] = 0.0
    b = s[S_BATCH]
    tp = s[S_TP]
    phase = int(s[S_PHASE])
    nan = math.nan
    ttft = nan
    tpot = nan
    if phase == PHASE_PREFILL:
        q = s[S_PROMPT]
        if rebuild:
            build_ops(m, b, q, 0.0, s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT], ops)
        cost_ops(ops, a, s, terms, acc)
        tokens = b * q
        span = q
        ttft = acc[ACC_TIME]
    elif phase == PHASE_DECODE:
        q = 1.0
        if rebuild:
            build_ops(m, b, 1.0, s[S_CONTEXT], s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT], ops)
        cost_ops(ops, a, s, terms, acc)
        tokens = b
        span = s[S_CONTEXT] + 1.0
        tpot = acc[ACC_TIME]
    else:
        q = s[S_PROMPT]
        n_new = s[S_GEN]
        ttft = run_pass(m, b, q, 0.0, s, a, ops, terms, acc)
        dec = 0.0
        # the prefill yields the first new token; each decode step yields one more
        for i in range(1, int(n_new)):
            dec += run_pass(m, b, 1.0, q + i - 1.0, s, a, ops, terms, acc)
        if n_new > 1:
            tpot = dec / (n_new - 1.0)
        tokens = b * n_new
        span = q + n_new
    t = acc[ACC_TIME]
    energy = (acc[ACC_ENERGY] + a[A_P_STATIC] * t) * tp     # all tp devices
    w, kv, act = footprint(m, b, span, q, tp, s[S_WDT], s[S_ADT], s[S_KVDT])
    w1, kv1, act1 = footprint(m, 1.0, span, q, tp, s[S_WDT], s[S_ADT], s[S_KVDT])
    cap = a[A_MEM_CAP] * a[A_MEM_USABLE]
    res[R_LATENCY] = t
    res[R_TOKENS_PER_S] = tokens / t
    res[R_ENERGY] = energy
    res[R_ENERGY_PER_TOKEN] = energy / tokens
    res[R_T_COMPUTE] = acc[ACC_COMPUTE]
    res[R_T_MEM] = acc[ACC_MEM]
    res[R_T_LAT] = acc[ACC_LAT]
    res[R_T_COMM] = acc[ACC_COMM]
    res[R_FLOPS] = acc[ACC_FLOPS] * tp
    res[R_DRAM] = acc[ACC_DRAM] * tp
    res[R_WEIGHT_BYTES] = w
    res[R_KV_BYTES] = kv
    res[R_ACT_BYTES] = act
    res[R_MEM_FOOTPRINT] = w + kv + act
    res[R_FITS] = 1.0 if w + kv + act <= cap else 0.0
    res[R_MAX_BATCH] = max(math.floor((cap - w) / (kv1 + act1)), 0.0)
    res[R_TTFT] = ttft
    res[R_TPOT] = tpot
    shares = (acc[ACC_COMPUTE], acc[ACC_MEM], acc[ACC_LAT], acc[ACC_COMM])
    best = 0
    for k in range(1, 4):
        if shares[k] > shares[best]:
            best = k
    res[R_BOUND] = best
    aimc_summary(m, s, a, ops, terms, res)     # AIMC whole-model figures (NaN otherwise)


@njit(cache=True, parallel=True, nogil=True)   # nogil: sweeps write chunks meanwhile
def evaluate_grid(m, s0, a0, ax_target, ax_index, ax_dim, ax_values, dim_sizes, start, stop,
                  out, n_chunks):
    """Evaluate grid points start..stop-1 into out[stop-start, N_RESULTS].

    Point p is a row-major multi-index over dim_sizes; axis j sets vector ax_target[j]
    (0 = arch, 1 = scenario, 2 = model) at ax_index[j] to ax_values[j, index of dim ax_dim[j]].
    Axes that share a dim are zipped."""
    n = stop - start
    n_dims = dim_sizes.shape[0]
    n_axes = ax_target.shape[0]
    # dims that move a model or scenario entry: when none of them changed since the previous
    # point, the operator table is reused (it does not depend on the arch vector)
    moves_ops = np.zeros(n_dims, dtype=np.bool_)
    for j in range(n_axes):
        if ax_target[j] != 0:
            moves_ops[ax_dim[j]] = True
    per = (n + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        lo = ch * per
        hi = min(n, lo + per)
        if lo >= hi:
            continue
        a = a0.copy()
        s = s0.copy()
        mm = m.copy()
        ops = np.empty((N_SLOTS, N_OF))
        terms = np.empty((N_SLOTS, N_TERMS))
        acc = np.empty(N_ACC)
        idx = np.empty(n_dims, dtype=np.int64)
        changed = np.ones(n_dims, dtype=np.bool_)
        r = start + lo
        for k in range(n_dims - 1, -1, -1):
            idx[k] = r % dim_sizes[k]
            r //= dim_sizes[k]
        for p in range(lo, hi):
            rebuild = p == lo
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
                        mm[ax_index[j]] = v
            for k in range(n_dims):
                if changed[k] and moves_ops[k]:
                    rebuild = True
            point_into(mm, s, a, ops, terms, out[p], acc, rebuild)
            # odometer step to the next row-major multi-index
            for k in range(n_dims):
                changed[k] = False
            for k in range(n_dims - 1, -1, -1):
                changed[k] = True
                idx[k] += 1
                if idx[k] < dim_sizes[k]:
                    break
                idx[k] = 0
