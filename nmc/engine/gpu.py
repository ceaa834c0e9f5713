"""Cost of one operator instance on a GPU/accelerator host (docs/model.md, "GPU family")."""
import math

import numpy as np
from numba import njit

from .layout import (
    A_E_BF16, A_E_FP32, A_E_FP8, A_E_LINK, A_E_MEM, A_E_SRAM, A_EFF_COMPUTE, A_EFF_LINK,
    A_EFF_MEM, A_EFF_SRAM, A_KERNEL_OVH, A_LINK_BW, A_LINK_LAT, A_MEM_BW, A_MMA_M, A_N_CORES,
    A_PEAK_BF16, A_PEAK_FP16, A_PEAK_FP32, A_PEAK_FP8, A_PEAK_INT4, A_PEAK_INT8, A_SRAM_BW,
    A_TILE_M, A_TILE_N, K_COMM, K_CONTEXT, K_GEMM, K_LMHEAD, K_SCORE, O_AIN, O_AOUT, O_COMM,
    O_DTYPE, O_FLOPS, O_G, O_K, O_KERNELS, O_KIND, O_KVRD, O_KVWR, O_M, O_N, O_TFRAC, O_W,
    T_COMM, T_COMPUTE, T_DRAM, T_ENERGY, T_LAT, T_MEM, T_PEAK, T_SRAM,
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


@njit(cache=True, inline="always")
def shape_efficiency(a, M, N, K, G, tfrac):
    """Fraction of the matrix units doing useful work for G independent M x N x K products:
    M padded to the MMA height, tiles of tile_m x tile_n spread in waves over n_cores. A skinny
    product (M <= mma_m: decode GEMVs) with fewer tiles than cores splits K (split-K GEMV
    kernels, chunks of at least tile_n) to occupy idle cores; wider ones do not (validated
    against TensorRT-LLM time-to-first-token, docs/validation.md)."""
    mma = a[A_MMA_M]
    cores = a[A_N_CORES]
    m_pad = _ceil(M / mma) * mma
    tm = min(a[A_TILE_M], m_pad)
    tn = a[A_TILE_N]
    tiles0 = max(G * _ceil(M / tm) * _ceil(N / tn) * tfrac, 1.0)
    split = 1.0
    if M <= mma:
        split = max(1.0, min(math.floor(cores / tiles0), math.floor(K / tn)))
    tiles = _ceil(tiles0 * split)
    waves = _ceil(tiles / cores)
    return (M * N * G * tfrac * split) / (waves * cores * tm * tn), tm, tn


@njit(cache=True, inline="always")   # inlined into cost_ops: ~1.5x faster sweeps
def gpu_cost(ops, i, a, tp, terms):
    """Fill terms[i] for op row i on the host: compute, memory, latency and comm time per
    instance, DRAM/SRAM bytes and energy."""
    kind = int(ops[i, O_KIND])
    flops = ops[i, O_FLOPS]
    dt = int(ops[i, O_DTYPE])
    dram = ops[i, O_W] + ops[i, O_AIN] + ops[i, O_AOUT] + ops[i, O_KVRD] + ops[i, O_KVWR]
    sram = dram
    t_c = 0.0
    peak = a[A_PEAK_FP32]
    if kind == K_GEMM or kind == K_LMHEAD or kind == K_SCORE or kind == K_CONTEXT:
        M = ops[i, O_M]
        N = ops[i, O_N]
        eff, tm, tn = shape_efficiency(a, M, N, ops[i, O_K], ops[i, O_G], ops[i, O_TFRAC])
        peak = matrix_peak(a, dt)
        if flops > 0:
            t_c = flops / (peak * a[A_EFF_COMPUTE] * eff)
        if kind == K_GEMM or kind == K_LMHEAD:
            # on-chip traffic: A re-read per column of tiles, B per row of tiles
            sram = (ops[i, O_AIN] * _ceil(N / tn) + ops[i, O_W] * _ceil(M / tm)
                    + ops[i, O_AOUT])
    elif flops > 0:
        t_c = flops / (peak * a[A_EFF_COMPUTE])
    t_m = dram / (a[A_MEM_BW] * a[A_EFF_MEM])
    if a[A_SRAM_BW] > 0:
        t_m = max(t_m, sram / (a[A_SRAM_BW] * a[A_EFF_SRAM]))
    else:
        sram = 0.0
    t_l = ops[i, O_KERNELS] * a[A_KERNEL_OVH]
    t_x = 0.0
    link_bytes = 0.0
    if kind == K_COMM and tp > 1.0:
        # ring all-reduce: 2(p-1)/p of the buffer crosses each link, 2(p-1) latency steps
        link_bytes = 2.0 * (tp - 1.0) / tp * ops[i, O_COMM]
        if a[A_LINK_BW] > 0:
            t_x = link_bytes / (a[A_LINK_BW] * a[A_EFF_LINK]) + 2.0 * (tp - 1.0) * a[A_LINK_LAT]
        else:
            t_x = math.inf
        dram = 0.0
        sram = 0.0
        t_m = 0.0
    terms[i, T_COMPUTE] = t_c
    terms[i, T_MEM] = t_m
    terms[i, T_LAT] = t_l
    terms[i, T_COMM] = t_x
    terms[i, T_DRAM] = dram
    terms[i, T_SRAM] = sram
    terms[i, T_PEAK] = peak
    terms[i, T_ENERGY] = (flops * energy_per_flop(a, dt) + dram * a[A_E_MEM]
                          + sram * a[A_E_SRAM] + link_bytes * a[A_E_LINK])
