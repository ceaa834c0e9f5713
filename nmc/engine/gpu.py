"""Cost of one operator instance on a GPU/accelerator host (docs/model.md, "GPU family")."""
import math

import numpy as np
from numba import njit

from .collectives import A_DPN, A_NET_BW, A_NET_LAT, coll_time
from .layout import (
    COLL_CODE_ALLTOALL, O_COLL, O_STRIDE,
    A_E_BF16, A_E_FP8, A_E_FP32, A_E_LINK, A_E_MEM, A_E_SRAM, A_EFF_COMPUTE, A_EFF_LINK, A_EFF_MEM,
    A_EFF_SRAM, A_LAUNCH_OVH, A_KERNEL_OVH, A_LINK_BW, A_LINK_LAT, A_MEM_BW, A_MEM_CAP, A_MEM_USABLE, A_MMA_M,
    A_N_CORES, A_P_STATIC, A_PEAK_BF16, A_PEAK_FP8, A_PEAK_FP16, A_PEAK_FP32, A_PEAK_INT4,
    A_PEAK_INT8, A_SRAM_BW, A_TILE_M, A_TILE_N, K_COMM, K_CONTEXT, K_GEMM, K_LMHEAD, K_SCORE, O_AIN,
    O_AOUT, O_COMM, O_DTYPE, O_FLOPS, O_G, O_K, O_KERNELS, O_KIND, O_KVRD, O_KVWR, O_M, O_N,
    O_TFRAC, O_W, T_COMM, T_COMPUTE, T_DRAM, T_ENERGY, T_LAT, T_MEM, T_PEAK, T_SRAM,
)


@njit(cache=True, inline="always")
def _ceil(x):
    """ceil as a float (np.ceil): same values as math.ceil, without the float->int->float
    round trip (about 20% of sweep time)."""
    return np.ceil(x)


@njit(cache=True, inline="always")
def matrix_peak(a, dt):
    """Dense matrix peak for compute dtype code dt; unsupported types fall back to a wider one."""
    bf16 = a[A_PEAK_BF16]
    fp16 = a[A_PEAK_FP16] if a[A_PEAK_FP16] > 0 else bf16
    if dt == 0:
        return a[A_PEAK_FP32]
    if dt == 1:
        return bf16
    if dt == 2:
        return fp16
    if dt == 3:
        return a[A_PEAK_FP8] if a[A_PEAK_FP8] > 0 else fp16
    int8 = a[A_PEAK_INT8] if a[A_PEAK_INT8] > 0 else fp16
    if dt == 4:
        return int8
    return a[A_PEAK_INT4] if a[A_PEAK_INT4] > 0 else int8


@njit(cache=True, inline="always")
def energy_per_flop(a, dt):
    if dt == 0:
        return a[A_E_FP32]
    if dt <= 2:
        return a[A_E_BF16]
    return a[A_E_FP8]


@njit(cache=True)      # not inlined: compiled once (cold start), called per GEMM row
def _tile_eff(M, N, K, G, tfrac, tm, tn, cores, split_ok):
    """(efficiency, split-K factor) of one tile shape: tiles spread in waves over the cores;
    with split_ok a row of tiles that leaves cores idle splits K (chunks of at least tn)."""
    tiles0 = max(G * _ceil(M / tm) * _ceil(N / tn) * tfrac, 1.0)
    split = 1.0
    if split_ok:
        split = max(1.0, min(math.floor(cores / tiles0), math.floor(K / tn)))
    tiles = _ceil(tiles0 * split)
    waves = _ceil(tiles / cores)
    return (M * N * G * tfrac * split) / (waves * cores * tm * tn), split


@njit(cache=True)      # not inlined: compiled once (cold start), called per GEMM row
def shape_efficiency(a, M, N, K, G, tfrac):
    """Fraction of the matrix units doing useful work for G independent M x N x K products, with
    the tile a GEMM library would pick for the shape (docs/model.md, "Shape efficiency"): M padded
    to the MMA height; tiles of tm x tn spread in waves over n_cores. Tiles of half the preset
    height are a candidate where they pad M less (M = 192 on 128-high tiles). A product with a
    single row of tiles (M_pad <= tm) or one whose preset tiles would leave three quarters of the
    cores idle may take the narrower tiles tile_n/2 and tile_n/4 (>= 16) that libraries keep for
    small problems, and, with a single row of tiles, split K (chunks of at least tn) when its
    tiles leave cores idle; the shape with the highest efficiency (least padded work) wins, ties
    keep the larger tile. Other products keep the preset tile width: a narrower one re-reads A
    more often from L2. Depends on the structure parameters only (tile_m, tile_n,
    mma_m, n_cores): the choice does not move with rates.
    Returns (efficiency, tm, tn, split)."""
    mma = a[A_MMA_M]
    cores = a[A_N_CORES]
    m_pad = _ceil(M / mma) * mma
    tm = min(a[A_TILE_M], m_pad)
    tn0 = a[A_TILE_N]
    preset_tiles = G * _ceil(M / tm) * _ceil(N / tn0) * tfrac
    best, bm, bn, bs = -1.0, tm, tn0, 1.0
    for i in range(2):
        if i > 0:
            # half-height tiles, only where they pad less (M = 192 on 128-high tiles)
            half = 0.5 * a[A_TILE_M]
            if half < mma or half >= tm or _ceil(m_pad / half) * half >= _ceil(m_pad / tm) * tm:
                break
            tm = half
        # narrower tiles for a single row of tiles or when the preset tiles would leave three
        # quarters of the cores idle; split-K only for a single row
        one_row = m_pad <= tm
        small = one_row or preset_tiles < 0.25 * cores
        tn = tn0
        for _ in range(3 if small else 1):
            if tn < 16.0 and tn < tn0:
                break
            eff, split = _tile_eff(M, N, K, G, tfrac, tm, tn, cores, one_row)
            if eff > best * (1.0 + 1e-12):
                best, bm, bn, bs = eff, tm, tn, split
            tn = tn * 0.5
    return best, bm, bn, bs


# Two stages (docs/sweep.md, "Two stages per operator"): gpu_shape holds everything that depends
# on the operator row and on the arch's *structure* (tile, MMA and core counts: padding, waves,
# split-K, on-chip re-reads); gpu_time turns it into time and energy with the arch's *rates*
# (peaks, bandwidths, efficiencies, latencies, energies) by multiplications only. gpu_cost is
# the two in sequence; the sweep kernel keeps gpu_shape's results while only rates move.
# Arch parameters gpu_shape (and ops.footprint) never read: moving one of them keeps the shapes.
RATE_PARAMS = (A_PEAK_FP32, A_PEAK_BF16, A_PEAK_FP16, A_PEAK_FP8, A_PEAK_INT8, A_PEAK_INT4,
               A_MEM_BW, A_SRAM_BW, A_LINK_BW, A_LINK_LAT, A_EFF_COMPUTE, A_EFF_MEM, A_EFF_SRAM,
               A_EFF_LINK, A_KERNEL_OVH, A_LAUNCH_OVH, A_E_FP32, A_E_BF16, A_E_FP8, A_E_MEM, A_E_SRAM,
               A_E_LINK, A_P_STATIC, A_MEM_CAP, A_MEM_USABLE, A_DPN, A_NET_BW, A_NET_LAT)

# gpu_rates tuple (class-independent rates; static indices only: numba compiles a dynamic index
# into a tuple as a branch per element, which made the kernel slow to compile)
RT_MEM, RT_SRAM, RT_HAS_SRAM, RT_LINK, RT_LINK_LAT, RT_OVH, RT_E_MEM, RT_E_SRAM, RT_E_LINK = range(9)


@njit(cache=True, inline="always")
def class_rate(a, dt):
    """Seconds per FLOP at full shape efficiency on compute class dt (inverse effective peak)."""
    return 1.0 / (matrix_peak(a, dt) * a[A_EFF_COMPUTE])


@njit(cache=True, inline="always")
def kernel_cost(a, rt):
    """Per-kernel cost in runtime mode rt (layout.RUNTIME_NAMES): on the device every kernel
    pays kernel_overhead (launch gap, memory-pipeline ramp, tail), in a graph too; in eager mode
    the host launches each kernel and the step runs at the slower of the two."""
    if rt < 0.5:
        return max(a[A_KERNEL_OVH], a[A_LAUNCH_OVH])
    return a[A_KERNEL_OVH]


@njit(cache=True, inline="always")
def gpu_rates(a, rt):
    """Per-arch reciprocals and energies (one division each) so that gpu_time multiplies only;
    per-class rates come from class_rate and energy_per_flop. rt: the runtime mode."""
    sram_bw = a[A_SRAM_BW]
    link_bw = a[A_LINK_BW]
    return (1.0 / (a[A_MEM_BW] * a[A_EFF_MEM]),
            1.0 / (sram_bw * a[A_EFF_SRAM]) if sram_bw > 0 else 0.0,
            1.0 if sram_bw > 0 else 0.0,
            1.0 / (link_bw * a[A_EFF_LINK]) if link_bw > 0 else math.inf,
            a[A_LINK_LAT], kernel_cost(a, rt), a[A_E_MEM], a[A_E_SRAM], a[A_E_LINK])


@njit(cache=True, inline="always")
def gpu_shape(ops, i, a, tp):
    """Structure stage of op row i: (compute class, FLOPs at full shape efficiency `work`,
    FLOPs, energy class, DRAM bytes, on-chip bytes, kernels, link bytes, collective buffer bytes,
    is-collective). Reads the arch's tile_m, tile_n, mma_m and n_cores only."""
    kind = int(ops[i, O_KIND])
    flops = ops[i, O_FLOPS]
    dt = ops[i, O_DTYPE]
    dram = ops[i, O_W] + ops[i, O_AIN] + ops[i, O_AOUT] + ops[i, O_KVRD] + ops[i, O_KVWR]
    sram = dram
    cls = 0.0                   # vector ops run on the FP32 units
    work = flops if flops > 0 else 0.0
    work0 = work
    sram0 = sram
    if kind == K_GEMM or kind == K_LMHEAD or kind == K_SCORE or kind == K_CONTEXT:
        M = ops[i, O_M]
        N = ops[i, O_N]
        G = ops[i, O_G]
        tf = ops[i, O_TFRAC]
        eff, tm, tn, split = shape_efficiency(a, M, N, ops[i, O_K], G, tf)
        # the preset tile as the second candidate: the rate stage takes the faster of the two
        # (a narrower tile or a K split fills more cores but reads more from L2)
        tm0 = min(a[A_TILE_M], _ceil(M / a[A_MMA_M]) * a[A_MMA_M])
        eff0, _ = _tile_eff(M, N, ops[i, O_K], G, tf, tm0, a[A_TILE_N], a[A_N_CORES],
                            tm0 < 0.0)     # False, not a literal: one compiled _tile_eff
        cls = dt
        work = flops / eff if flops > 0 else 0.0
        work0 = flops / eff0 if flops > 0 else 0.0
        if kind == K_GEMM or kind == K_LMHEAD:
            # on-chip traffic: A re-read per column of tiles, B per row of tiles, and split-K's
            # fp32 partial sums written and read back by the reduction
            sram = (ops[i, O_AIN] * _ceil(N / tn) + ops[i, O_W] * _ceil(M / tm)
                    + ops[i, O_AOUT] + 8.0 * (split - 1.0) * M * N * G)
            sram0 = (ops[i, O_AIN] * _ceil(N / a[A_TILE_N]) + ops[i, O_W] * _ceil(M / tm0)
                     + ops[i, O_AOUT])
        else:
            sram0 = sram
    link = 0.0
    buf = 0.0
    comm = 0.0
    p = ops[i, O_G]
    if kind == K_COMM and p > 1.0:
        # the row's collective over p devices of a buffer of S bytes per device (time:
        # collectives.coll_time in the rate stage); comm = code + 1. All-reduce: link bytes (for
        # energy) as a ring's 2(p-1)/p S; HBM traffic: the input read, the partner data read for
        # the sum and the result written, ~3 S. All-to-all: (p-1)/p S leave the device; the
        # send buffer read and the receive buffer written, 2 S.
        buf = ops[i, O_COMM]
        comm = ops[i, O_COLL] + 1.0
        if ops[i, O_COLL] == COLL_CODE_ALLTOALL:
            link = (p - 1.0) / p * buf
            dram = 2.0 * buf
        else:
            link = 2.0 * (p - 1.0) / p * buf
            dram = 3.0 * buf
        sram = 0.0
        sram0 = 0.0
    return cls, work, flops, dt, dram, sram, ops[i, O_KERNELS], link, buf, comm, work0, sram0


@njit(cache=True, inline="always")
def pick_tile(work, sram, work0, sram0, r_c, r_mem, dram, r_sram):
    """The faster of gpu_shape's two tile candidates with these rates: (work, sram) of the
    chosen tile (docs/model.md, Tile choice). Ties keep the preset tile (work0, sram0)."""
    t = max(work * r_c, dram * r_mem, sram * r_sram)
    t0 = max(work0 * r_c, dram * r_mem, sram0 * r_sram)
    if t < t0:
        return work, sram
    return work0, sram0


@njit(cache=True, inline="always")
def gpu_time(r_c, e_c, work, flops, dram, sram, kernels, link, t_coll, comm, r, work0, sram0):
    """Rate stage: (t_compute, t_memory, t_latency, t_comm, DRAM bytes, SRAM bytes, energy) of
    one instance from gpu_shape's values, its class's rate r_c (class_rate) and energy per FLOP
    e_c (energy_per_flop), gpu_rates' tuple r and, for a collective, its time t_coll
    (collectives.tp_allreduce_time), which runs alongside its HBM traffic. (work, sram) and
    (work0, sram0) are the two tile candidates; the faster is taken (pick_tile)."""
    has_sram = r[RT_HAS_SRAM] > 0
    work, sram = pick_tile(work, sram, work0, sram0, r_c, r[RT_MEM], dram,
                           r[RT_SRAM] if has_sram else 0.0)
    t_c = work * r_c
    t_m = dram * r[RT_MEM]
    if has_sram:
        t_m = max(t_m, sram * r[RT_SRAM])
    else:
        sram = 0.0
    t_x = 0.0
    if comm > 0:
        t_x = max(t_coll, t_m)
        t_m = 0.0
    energy = flops * e_c + dram * r[RT_E_MEM] + sram * r[RT_E_SRAM] + link * r[RT_E_LINK]
    return t_c, t_m, kernels * r[RT_OVH], t_x, dram, sram, energy


@njit(cache=True)      # not inlined: host-only passes use gpu_shape/gpu_time directly (passes.py)
def gpu_cost(ops, i, a, tp, rt, terms):
    """Fill terms[i] for op row i on the host in runtime mode rt: compute, memory, latency and
    comm time per instance, DRAM/SRAM bytes and energy (gpu_shape then gpu_time)."""
    cls, work, flops, ecls, dram, sram, kern, link, buf, comm, work0, sram0 = gpu_shape(
        ops, i, a, tp)
    t_coll = (coll_time(comm - 1.0, buf, ops[i, O_G], ops[i, O_STRIDE], a) if comm > 0
              else 0.0)
    t_c, t_m, t_l, t_x, dram, sram, energy = gpu_time(
        class_rate(a, int(cls)), energy_per_flop(a, int(ecls)), work, flops, dram, sram, kern,
        link, t_coll, comm, gpu_rates(a, rt), work0, sram0)
    terms[i, T_COMPUTE] = t_c
    terms[i, T_MEM] = t_m
    terms[i, T_LAT] = t_l
    terms[i, T_COMM] = t_x
    terms[i, T_DRAM] = dram
    terms[i, T_SRAM] = sram
    terms[i, T_PEAK] = matrix_peak(a, int(cls))
    terms[i, T_ENERGY] = energy
