"""The pass loop and its accumulator: one operator table in, per-operator terms and pass
totals out. Inference (evaluate.point_into), training (train.py), the AIMC training step and
the kernel-level API all price their passes here.

add_row is THE accumulator: n instances of one costed operator row added into acc[ACC_*].
cost_rows runs it row by row on the engine the mapping picks (PIM and AIMC systems; training,
which prices every row on the host). Host-only arches take the two-stage fast path instead:
prepare_host (structure, once per table) and cost_host (rates), which is add_row summed over the
rows with the per-arch rates factored out of the sums (tests/test_engine_stages.py holds the two
paths equal to 1e-12). cost_pass chooses between them."""

import numpy as np
from numba import njit

from ..arch.schema import N_PARAMS
from .aimc import A_AIMC_TILES
from .collectives import coll_time
from .gpu import (
    RATE_PARAMS, RT_E_LINK, RT_E_MEM, RT_E_SRAM, RT_HAS_SRAM, RT_MEM, RT_OVH, RT_SRAM, class_rate, energy_per_flop, gpu_cost, gpu_rates, gpu_shape, gpu_time, matrix_peak,
)
from .layout import (
    ACC_COMM, ACC_COMPUTE, ACC_DRAM, ACC_ENERGY, ACC_FLOPS, ACC_LAT, ACC_MEM, ACC_TIME,
    BOUND_COMM, BOUND_COMPUTE, BOUND_LATENCY, BOUND_MEMORY, N_CLASSES, N_PREP, N_PX, N_TERMS,
    O_COUNT, O_FLOPS, O_G, O_STRIDE, P_CLS, P_COMM, P_DRAM, P_ECLS, P_FLOPS, P_KERN, P_LINK, P_N, P_ND,
    P_BUF, P_GRP, P_NS, P_NS0, P_NW, P_NW0, P_ROW, P_SRAM, P_SRAM0, P_STRIDE, P_WORK, P_WORK0, PX_ACTIVE, PX_DRAM, PX_EC, PX_F0, PX_FLOPS,
    PX_KERN, PX_LINK, PX_NCOMM, PX_RC, PX_W, S_ADT, S_DEQUANT, S_KVDT, S_RUNTIME, S_TP,
    S_WDT,
    T_BOUND, T_COMM, T_COMPUTE, T_DRAM, T_ENERGY, T_ENGINE, T_LAT, T_MEM, T_PEAK, T_SRAM,
    T_TOTAL,
)
from .mapping import ENGINE_HOST, map_and_cost, plan_engines
from .ops import build_ops
from .pim import A_PIM_BANKS, A_PIM_OVERLAP, ENGINE_PIM

# arch entries whose change keeps the host structure stage (evaluate_grid reads it)
RATE_MASK = np.zeros(N_PARAMS, dtype=np.bool_)
for _k in RATE_PARAMS:
    RATE_MASK[_k] = True


@njit(cache=True)
def prepare_host(ops, a, tp, prep, px):
    """Structure stage of every active operator row (gpu_shape) into prep, and the pass sums
    that do not depend on rates into px. Depends on ops, tp and the arch's tile/MMA/core counts
    only (not on gpu.RATE_PARAMS)."""
    for k in range(PX_W):
        px[k] = 0.0
    j = 0
    for i in range(ops.shape[0]):
        n = ops[i, O_COUNT]
        if n == 0.0:
            continue
        cls, work, flops, ecls, dram, sram, kern, link, buf, comm, work0, sram0 = gpu_shape(
            ops, i, a, tp)
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
        prep[P_BUF, j] = buf
        prep[P_GRP, j] = ops[i, O_G]
        prep[P_STRIDE, j] = ops[i, O_STRIDE]
        prep[P_COMM, j] = comm
        prep[P_NW, j] = n * work
        prep[P_ND, j] = n * dram
        prep[P_NS, j] = n * sram
        prep[P_WORK0, j] = work0
        prep[P_SRAM0, j] = sram0
        prep[P_NW0, j] = n * work0
        prep[P_NS0, j] = n * sram0
        px[PX_KERN] += n * kern
        px[PX_LINK] += n * link
        px[PX_NCOMM] += comm
        px[PX_FLOPS] += n * flops
        px[PX_DRAM] += n * dram
        px[PX_F0 + int(ecls)] += n * flops
        j += 1
    px[PX_ACTIVE] = j


@njit(cache=True, inline="always")
def cost_host(prep, px, a, s, terms, acc, keep_terms):
    """Rate stage of a host-only pass: the pass totals from prepare_host's tables and the arch's
    rates (gpu_rates), added into acc; returns the pass time. Per operator only compute and
    memory time are formed (their max and which is larger); latency, link time, energy, FLOPs
    and bytes are sums of n x (per-instance term), i.e. rate x (a per-pass sum of px).
    keep_terms also fills the per-operator terms (gpu_time; the API's breakdown)."""
    r = gpu_rates(a, s[S_RUNTIME])
    for k in range(N_CLASSES):  # per-class rates into px: an array, indexed by class per op
        px[PX_RC + k] = class_rate(a, k)
        px[PX_EC + k] = energy_per_flop(a, k)
    r_mem = r[RT_MEM]
    r_sram = r[RT_SRAM]          # 0 without an SRAM level: max(dram time, 0) = dram time
    comp = 0.0
    mem = 0.0
    com = 0.0
    sram_bytes = 0.0
    for j in range(int(px[PX_ACTIVE])):
        if prep[P_COMM, j] > 0.0:       # a collective: its time alongside its HBM traffic
            com += prep[P_N, j] * max(coll_time(prep[P_COMM, j] - 1.0, prep[P_BUF, j],
                                                prep[P_GRP, j], prep[P_STRIDE, j], a),
                                      prep[P_DRAM, j] * r_mem)
            continue
        rc = px[PX_RC + int(prep[P_CLS, j])]
        nd = prep[P_ND, j] * r_mem
        c = prep[P_NW, j] * rc
        m = max(nd, prep[P_NS, j] * r_sram)
        ns = prep[P_NS, j]
        c0 = prep[P_NW0, j] * rc            # the preset tile (gpu.pick_tile: the faster; ties
        m0 = max(nd, prep[P_NS0, j] * r_sram)   # keep the preset tile)
        if max(c0, m0) <= max(c, m):
            c, m, ns = c0, m0, prep[P_NS0, j]
        sram_bytes += ns
        if c >= m:
            comp += c
        else:
            mem += m
    lat = px[PX_KERN] * r[RT_OVH]
    energy = (px[PX_DRAM] * r[RT_E_MEM] + sram_bytes * r[RT_HAS_SRAM] * r[RT_E_SRAM]
              + px[PX_LINK] * r[RT_E_LINK])
    for k in range(N_CLASSES):
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
        host_terms(prep, px, a, r, terms)
    return total


@njit(cache=True)      # not inlined: sweeps never keep terms, and its IR copied into every
def host_terms(prep, px, a, r, terms):      # caller of cost_host cost ~0.5 s of cold start
    """The per-operator terms of a host-only pass (the API's breakdown; cost_host with
    keep_terms): gpu_time per active row from prepare_host's tables, rates r (gpu_rates) and
    the per-class rates in px."""
    for i in range(terms.shape[0]):
        for k in range(N_TERMS):
            terms[i, k] = 0.0
    for j in range(int(px[PX_ACTIVE])):
        t_coll = (coll_time(prep[P_COMM, j] - 1.0, prep[P_BUF, j], prep[P_GRP, j],
                            prep[P_STRIDE, j], a) if prep[P_COMM, j] > 0 else 0.0)
        tc, tm, tl, tx, dram, sram, e = gpu_time(
            px[PX_RC + int(prep[P_CLS, j])], px[PX_EC + int(prep[P_ECLS, j])],
            prep[P_WORK, j], prep[P_FLOPS, j], prep[P_DRAM, j], prep[P_SRAM, j],
            prep[P_KERN, j], prep[P_LINK, j], t_coll, prep[P_COMM, j], r, prep[P_WORK0, j],
            prep[P_SRAM0, j])
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


@njit(cache=True, inline="always")
def add_row(acc, n, tc, tm, tl, tx, energy, flops, dram):
    """The accumulator: n instances of one operator row with per-instance compute, memory,
    latency and communication times tc, tm, tl, tx (compute and memory overlap; the larger
    counts), energy, FLOPs and DRAM bytes, added into acc. Returns their time
    n (max(tc, tm) + tl + tx) (docs/model.md §1)."""
    t = n * (max(tc, tm) + tl + tx)
    if tc >= tm:
        acc[ACC_COMPUTE] += n * tc
    else:
        acc[ACC_MEM] += n * tm
    acc[ACC_LAT] += n * tl
    acc[ACC_COMM] += n * tx
    acc[ACC_ENERGY] += n * energy
    acc[ACC_FLOPS] += n * flops
    acc[ACC_DRAM] += n * dram
    return t


@njit(cache=True)
def cost_rows(ops, a, s, terms, acc, on_host, pim=True, aimc=True):
    """Cost every row of ops (any number of rows) one by one and add it into acc with add_row;
    return the pass time. on_host: every row on the host roofline (gpu.gpu_cost; training);
    else on the engine the mapping picks (PIM and AIMC systems, planned per pass by
    mapping.plan_engines, which reads the standard N_SLOTS operator table). pim, aimc: None
    leaves that engine out of the compiled code (mapping.py)."""
    total = 0.0
    t_pim = 0.0
    if not on_host:
        plan_engines(ops, a, s, terms, pim)
    for i in range(ops.shape[0]):
        n = ops[i, O_COUNT]
        if n == 0.0:
            for j in range(N_TERMS):
                terms[i, j] = 0.0
            continue
        if on_host:
            gpu_cost(ops, i, a, s[S_TP], s[S_RUNTIME], terms)
            terms[i, T_ENGINE] = ENGINE_HOST
        else:
            map_and_cost(ops, i, a, s, terms, pim, aimc)
        tc = terms[i, T_COMPUTE]
        tm = terms[i, T_MEM]
        tl = terms[i, T_LAT]
        tx = terms[i, T_COMM]
        t = add_row(acc, n, tc, tm, tl, tx, terms[i, T_ENERGY], ops[i, O_FLOPS], terms[i, T_DRAM])
        terms[i, T_TOTAL] = t
        terms[i, T_BOUND] = bound_code(tc, tm, tl, tx)
        total += t
        if int(terms[i, T_ENGINE]) == ENGINE_PIM:
            t_pim += t
    if t_pim > 0.0 and a[A_PIM_OVERLAP] > 0.0:
        # host and PIM work at the same time for a share of the pass (docs/nmc.md section 5)
        total -= a[A_PIM_OVERLAP] * min(total - t_pim, t_pim)
    acc[ACC_TIME] += total
    return total


@njit(cache=True, inline="always")
def cost_pass(ops, a, s, terms, acc, prep, px, reprep, keep_terms, host, pim, aimc):
    """Cost one pass, add totals into acc, return its time. Host-only arches: prepare_host (when
    reprep) then cost_host; PIM and AIMC systems: cost_rows. Reads ops only: the sweep reuses one
    operator table (and one prep) across architecture points. host, pim, aimc: the engines
    compiled in, True or None (mapping.py): with all three the arch vector chooses at run time;
    with the host alone only the host path is compiled, without it only cost_rows."""
    if host is None:                    # PIM or AIMC engines only
        return cost_rows(ops, a, s, terms, acc, False, pim, aimc)
    if pim is not None or aimc is not None:     # (the host engine alone: no cost_rows)
        if not is_host_only(a):
            return cost_rows(ops, a, s, terms, acc, False, pim, aimc)
    if reprep:                          # one call site of each inlined function: numba copies
        prepare_host(ops, a, s[S_TP], prep, px)     # its IR per site (compile time)
    return cost_host(prep, px, a, s, terms, acc, keep_terms)


@njit(cache=True)
def cost_ops(ops, a, s, terms, acc):
    """cost_pass with fresh scratch, every per-operator term written (kernel API, aimc_train)."""
    return cost_pass(ops, a, s, terms, acc, np.empty((N_PREP, ops.shape[0])), np.empty(N_PX),
                     True, True, True, True, True)


@njit(cache=True)
def run_pass(m, b, q, c, s, a, ops, terms, acc):
    build_ops(m, b, q, c, s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT], s[S_RUNTIME], ops, s[S_DEQUANT])
    return cost_ops(ops, a, s, terms, acc)


