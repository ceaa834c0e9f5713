"""Point and grid evaluation: build the operator table, cost every operator, sum.

evaluate_point is the one path from (model, scenario, arch) vectors to results; the per-point
Python API and the grid kernel both call it."""
import math

import numpy as np
from numba import njit, prange

from ..arch.schema import N_PARAMS
from .aimc import A_AIMC_TILES, aimc_summary
from .gpu import (
    RATE_PARAMS, RT_E_LINK, RT_E_MEM, RT_E_SRAM, RT_HAS_SRAM, RT_LINK, RT_LINK_LAT, RT_MEM, RT_OVH,
    RT_SRAM, class_rate, energy_per_flop, gpu_rates, gpu_shape, gpu_time, matrix_peak,
)
from .layout import (
    A_MEM_CAP, A_MEM_USABLE, A_P_STATIC, BOUND_COMM, BOUND_COMPUTE, BOUND_LATENCY, BOUND_MEMORY,
    N_OF, N_RESULTS, N_SLOTS, N_TERMS, O_COUNT, O_FLOPS, PHASE_DECODE, PHASE_GENERATE, PHASE_PREFILL, R_ACT_BYTES,
    R_AIMC_TILES, R_BOUND, R_DRAM, R_ENERGY, R_ENERGY_PER_TOKEN, R_FITS, R_FLOPS, R_KV_BYTES, R_LATENCY,
    R_MAX_BATCH, R_MEM_FOOTPRINT, R_T_COMM, R_T_COMPUTE, R_T_LAT, R_T_MEM, R_TOKENS_PER_S, R_TPOT,
    R_TTFT, R_WEIGHT_BYTES, S_ADT, S_BATCH, S_CONTEXT, S_GEN, S_KVDT, S_PHASE, S_PROMPT, S_TP,
    S_WDT, T_BOUND, T_COMM, T_COMPUTE, T_DRAM, T_ENERGY, T_ENGINE, T_LAT, T_MEM, T_PEAK, T_SRAM,
    T_TOTAL,
)
from .mapping import ENGINE_HOST, map_and_cost, plan_engines
from .ops import build_ops, footprint
from .pim import A_PIM_BANKS

# accumulator slots of one or more passes
ACC_COMPUTE, ACC_MEM, ACC_LAT, ACC_COMM, ACC_TIME, ACC_ENERGY, ACC_FLOPS, ACC_DRAM = range(8)
N_ACC = 8

# arch entries whose change keeps the host structure stage (evaluate_grid reads it)
_RATE = np.zeros(N_PARAMS, dtype=np.bool_)
for _k in RATE_PARAMS:
    _RATE[_k] = True

# Host structure stage (prepare_host): prep[P_*, j] for the j-th active operator (column j:
# the rate loop reads each quantity contiguously), with the count folded into the NW/ND/NS
# rows; px[PX_*] holds per-pass sums and the footprint (filled by point_into).
(P_ROW, P_N, P_CLS, P_ECLS, P_WORK, P_FLOPS, P_DRAM, P_SRAM, P_KERN, P_LINK, P_STEPS, P_COMM,
 P_NW, P_ND, P_NS) = range(15)
N_PREP = 15
(PX_ACTIVE, PX_KERN, PX_LINK, PX_STEPS, PX_NCOMM, PX_FLOPS, PX_DRAM, PX_SRAM, PX_F0, PX_W, PX_KV,
 PX_ACT, PX_KV1, PX_ACT1, PX_RC, PX_EC) = (0, 1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 25)
N_PX = 31       # PX_F0..+5: FLOPs per energy class; PX_RC..+5, PX_EC..+5: class rates (cost_host)


@njit(cache=True)
def prepare_host(ops, a, tp, prep, px):
    """Structure stage of every active operator row (gpu_shape) into prep, and the pass sums
    that do not depend on rates into px. Depends on ops, tp and the arch's tile/MMA/core counts
    only (not on gpu.RATE_PARAMS)."""
    for k in range(PX_W):
        px[k] = 0.0
    j = 0
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0:
            continue
        cls, work, flops, ecls, dram, sram, kern, link, steps, comm = gpu_shape(ops, i, a, tp)
        prep[P_ROW, j] = i
        prep[P_N, j] = n
        prep[P_CLS, j] = cls
        prep[P_ECLS, j] = ecls
        prep[P_WORK, j] = work
        prep[P_FLOPS, j] = flops
        prep[P_DRAM, j] = dram
        prep[P_SRAM, j] = sram
        prep[P_KERN, j] = kern
        prep[P_LINK, j] = link
        prep[P_STEPS, j] = steps
        prep[P_COMM, j] = comm
        prep[P_NW, j] = n * work
        prep[P_ND, j] = n * dram
        prep[P_NS, j] = n * sram
        px[PX_KERN] += n * kern
        px[PX_LINK] += n * link
        px[PX_STEPS] += n * steps
        px[PX_NCOMM] += comm
        px[PX_FLOPS] += n * flops
        px[PX_DRAM] += n * dram
        px[PX_SRAM] += n * sram
        px[PX_F0 + int(ecls)] += n * flops
        j += 1
    px[PX_ACTIVE] = j


@njit(cache=True, inline="always")
def cost_host(prep, px, a, terms, acc, keep_terms):
    """Rate stage of a host-only pass: the pass totals from prepare_host's tables and the arch's
    rates (gpu_rates), added into acc; returns the pass time. Per operator only compute and
    memory time are formed (their max and which is larger); latency, link time, energy, FLOPs
    and bytes are sums of n x (per-instance term), i.e. rate x (a per-pass sum of px).
    keep_terms also fills the per-operator terms (gpu_time; the API's breakdown)."""
    r = gpu_rates(a)
    for k in range(6):          # per-class rates into px: an array, indexed by class per op
        px[PX_RC + k] = class_rate(a, k)
        px[PX_EC + k] = energy_per_flop(a, k)
    r_mem = r[RT_MEM]
    r_sram = r[RT_SRAM]          # 0 without an SRAM level: max(dram time, 0) = dram time
    comp = 0.0
    mem = 0.0
    for j in range(int(px[PX_ACTIVE])):
        c = prep[P_NW, j] * px[PX_RC + int(prep[P_CLS, j])]
        m = max(prep[P_ND, j] * r_mem, prep[P_NS, j] * r_sram)
        if c >= m:
            comp += c
        else:
            mem += m
    lat = px[PX_KERN] * r[RT_OVH]
    com = 0.0
    if px[PX_NCOMM] > 0:
        if r[RT_LINK] < math.inf:
            com = px[PX_LINK] * r[RT_LINK] + px[PX_STEPS] * r[RT_LINK_LAT]
        else:
            com = math.inf
    energy = (px[PX_DRAM] * r[RT_E_MEM] + px[PX_SRAM] * r[RT_HAS_SRAM] * r[RT_E_SRAM]
              + px[PX_LINK] * r[RT_E_LINK])
    for k in range(6):
        energy += px[PX_F0 + k] * px[PX_EC + k]
    total = comp + mem + lat + com
    acc[ACC_COMPUTE] += comp
    acc[ACC_MEM] += mem
    acc[ACC_LAT] += lat
    acc[ACC_COMM] += com
    acc[ACC_ENERGY] += energy
    acc[ACC_FLOPS] += px[PX_FLOPS]
    acc[ACC_DRAM] += px[PX_DRAM]
    acc[ACC_TIME] += total
    if keep_terms:
        for i in range(N_SLOTS):
            for k in range(N_TERMS):
                terms[i, k] = 0.0
        for j in range(int(px[PX_ACTIVE])):
            tc, tm, tl, tx, dram, sram, e = gpu_time(
                px[PX_RC + int(prep[P_CLS, j])], px[PX_EC + int(prep[P_ECLS, j])],
                prep[P_WORK, j], prep[P_FLOPS, j], prep[P_DRAM, j], prep[P_SRAM, j],
                prep[P_KERN, j], prep[P_LINK, j], prep[P_STEPS, j], prep[P_COMM, j], r)
            i = int(prep[P_ROW, j])
            terms[i, T_COMPUTE] = tc
            terms[i, T_MEM] = tm
            terms[i, T_LAT] = tl
            terms[i, T_COMM] = tx
            terms[i, T_TOTAL] = prep[P_N, j] * (max(tc, tm) + tl + tx)
            terms[i, T_ENERGY] = e
            terms[i, T_DRAM] = dram
            terms[i, T_SRAM] = sram
            terms[i, T_BOUND] = bound_code(tc, tm, tl, tx)
            terms[i, T_ENGINE] = ENGINE_HOST
            terms[i, T_PEAK] = matrix_peak(a, int(prep[P_CLS, j]))
    return total


@njit(cache=True, inline="always")
def bound_code(tc, tm, tl, tx):
    """Which term of one operator is largest (ties: compute over memory, earlier over later)."""
    if tc >= tm:
        big, code = tc, BOUND_COMPUTE
    else:
        big, code = tm, BOUND_MEMORY
    if tl > big:
        big, code = tl, BOUND_LATENCY
    if tx > big:
        code = BOUND_COMM
    return code


@njit(cache=True, inline="always")
def is_host_only(a):
    return a[A_PIM_BANKS] <= 0.0 and a[A_AIMC_TILES] <= 0.0


@njit(cache=True)
def cost_rows(ops, a, s, terms, acc):
    """PIM and AIMC systems: cost row by row on the engine the mapping picks, add totals into
    acc, return the pass time."""
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
        else:
            acc[ACC_MEM] += n * tm
        terms[i, T_BOUND] = bound_code(tc, tm, tl, tx)
        acc[ACC_LAT] += n * tl
        acc[ACC_COMM] += n * tx
        acc[ACC_ENERGY] += n * terms[i, T_ENERGY]
        acc[ACC_FLOPS] += n * ops[i, O_FLOPS]
        acc[ACC_DRAM] += n * terms[i, T_DRAM]
        total += t
    acc[ACC_TIME] += total
    return total


@njit(cache=True, inline="always")
def cost_pass(ops, a, s, terms, acc, prep, px, reprep, keep_terms):
    """Cost one pass, add totals into acc, return its time. Host-only arches: prepare_host (when
    reprep) then cost_host; PIM and AIMC systems: cost_rows. Reads ops only: the sweep reuses one
    operator table (and one prep) across architecture points."""
    if is_host_only(a):
        if reprep:
            prepare_host(ops, a, s[S_TP], prep, px)
        return cost_host(prep, px, a, terms, acc, keep_terms)
    return cost_rows(ops, a, s, terms, acc)


@njit(cache=True)
def cost_ops(ops, a, s, terms, acc):
    """cost_pass with fresh scratch, every per-operator term written (kernel_cost, aimc_train)."""
    return cost_pass(ops, a, s, terms, acc, np.empty((N_PREP, N_SLOTS)), np.empty(N_PX), True, True)


@njit(cache=True)
def run_pass(m, b, q, c, s, a, ops, terms, acc):
    build_ops(m, b, q, c, s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT], ops)
    return cost_ops(ops, a, s, terms, acc)


@njit(cache=True, inline="always")
def point_into(m, s, a, ops, terms, out, p, acc, prep, px, rebuild, reprep, keep_terms):
    """Evaluate one (model, scenario, arch) point into out[p, :N_RESULTS] with caller-owned scratch
    (row p is indexed, not sliced: a slice per point would touch the shared reference count of
    out from every thread).

    Reuse across calls (walk_range): rebuild=False keeps the operator table and footprint left in
    ops/px by the previous call, valid only when m and s are unchanged since then (they depend on
    model and scenario only); reprep=False also keeps the host structure stage (prep, px sums),
    valid when in addition no arch parameter outside gpu.RATE_PARAMS moved. rebuild implies
    reprep. keep_terms=False leaves terms unwritten on host-only arches. The generate phase
    always rebuilds."""
    for k in range(N_ACC):
        acc[k] = 0.0
    b = s[S_BATCH]
    tp = s[S_TP]
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
            build_ops(m, b, q, c, tp, s[S_WDT], s[S_ADT], s[S_KVDT], ops)
        t_pass = cost_pass(ops, a, s, terms, acc, prep, px, rebuild or reprep, keep_terms)
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
        w, kv, act = footprint(m, b, span, q, tp, s[S_WDT], s[S_ADT], s[S_KVDT])
        _, kv1, act1 = footprint(m, 1.0, span, q, tp, s[S_WDT], s[S_ADT], s[S_KVDT])
        px[PX_W] = w
        px[PX_KV] = kv
        px[PX_ACT] = act
        px[PX_KV1] = kv1
        px[PX_ACT1] = act1
    w = px[PX_W]
    kv = px[PX_KV]
    act = px[PX_ACT]
    t = acc[ACC_TIME]
    energy = (acc[ACC_ENERGY] + a[A_P_STATIC] * t) * tp     # all tp devices
    cap = a[A_MEM_CAP] * a[A_MEM_USABLE]
    out[p, R_LATENCY] = t
    out[p, R_TOKENS_PER_S] = tokens / t
    out[p, R_ENERGY] = energy
    out[p, R_ENERGY_PER_TOKEN] = energy / tokens
    out[p, R_T_COMPUTE] = acc[ACC_COMPUTE]
    out[p, R_T_MEM] = acc[ACC_MEM]
    out[p, R_T_LAT] = acc[ACC_LAT]
    out[p, R_T_COMM] = acc[ACC_COMM]
    out[p, R_FLOPS] = acc[ACC_FLOPS] * tp
    out[p, R_DRAM] = acc[ACC_DRAM] * tp
    out[p, R_WEIGHT_BYTES] = w
    out[p, R_KV_BYTES] = kv
    out[p, R_ACT_BYTES] = act
    out[p, R_MEM_FOOTPRINT] = w + kv + act
    out[p, R_FITS] = 1.0 if w + kv + act <= cap else 0.0
    out[p, R_MAX_BATCH] = max(math.floor((cap - w) / (px[PX_KV1] + px[PX_ACT1])), 0.0)
    out[p, R_TTFT] = ttft
    out[p, R_TPOT] = tpot
    shares = (acc[ACC_COMPUTE], acc[ACC_MEM], acc[ACC_LAT], acc[ACC_COMM])
    best = 0
    for k in range(1, 4):
        if shares[k] > shares[best]:
            best = k
    out[p, R_BOUND] = best
    if a[A_AIMC_TILES] > 0.0:      # AIMC whole-model figures; NaN on other families (checked
        aimc_summary(m, s, a, ops, terms, out[p])     # here: no call, no row slice per point)
    else:
        for k in range(R_AIMC_TILES, N_RESULTS):
            out[p, k] = math.nan


@njit(cache=True)
def walk_range(m, s, a, ax_target, ax_index, ax_dim, ax_values, dim_sizes, moves_ops,
               moves_prep, start, lo, hi, out, keep_terms, ops, terms):
    """Evaluate grid points start+lo .. start+hi-1 into out[lo:hi] on this thread: the one loop
    behind evaluate_point (a grid of one point) and each chunk of evaluate_grid.

    Point p is a row-major multi-index over dim_sizes; axis j sets vector ax_target[j]
    (0 = arch, 1 = scenario, 2 = model) at ax_index[j] to ax_values[j, index of dim ax_dim[j]]
    (axes sharing a dim are zipped), writing m, s, a in place. An odometer steps the index; only
    axes of dims that moved are written; the operator table is rebuilt only when a dim that
    moves_ops moved, the host structure stage only when one that moves_prep (or moves_ops) did."""
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
        point_into(m, s, a, ops, terms, out, p, acc, prep, px, rebuild, reprep, keep_terms)
        # odometer step to the next row-major multi-index
        for k in range(n_dims):
            changed[k] = False
        for k in range(n_dims - 1, -1, -1):
            changed[k] = True
            idx[k] += 1
            if idx[k] < dim_sizes[k]:
                break
            idx[k] = 0


@njit(cache=True)
def evaluate_point(m, s, a, ops, terms, res):
    """Evaluate one (model, scenario, arch) point into res[N_RESULTS]. ops/terms are scratch
    (after return they hold the last pass evaluated, every per-operator term filled)."""
    none = np.empty(0, dtype=np.int64)
    flags = np.empty(0, dtype=np.bool_)
    zero = none.shape[0]        # run-time values: literal arguments would compile walk_range
    walk_range(m, s, a, none, none, none, np.empty((0, 1)), none, flags, flags, zero, zero,
               zero + 1, res.reshape((res.shape[0], 1)).T, zero == 0, ops, terms)   # again;
    # res as a [1, N_RESULTS] column-major array: the layout sweeps use (sweep.result_buffer),
    # so walk_range is compiled once


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
        elif not _RATE[ax_index[j]]:
            moves_prep[ax_dim[j]] = True
    per = (n + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        lo = ch * per
        hi = min(n, lo + per)
        if lo >= hi:
            continue
        walk_range(m.copy(), s0.copy(), a0.copy(), ax_target, ax_index, ax_dim, ax_values,
                   dim_sizes, moves_ops, moves_prep, start, lo, hi, out, n < 0,
                   np.empty((N_SLOTS, N_OF)), np.empty((N_SLOTS, N_TERMS)))
