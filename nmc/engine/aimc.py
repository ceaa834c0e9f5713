"""Analog in-memory compute (AIMC): crossbar tiles (engine 2) and the chip's digital unit
(engine 3). Equations: docs/aimc.md.

Everything derived from the raw parameters (cells per weight, tiles per matrix, tile MVM time,
capacity, re-programming) is computed here inside numba, so a sweep over any aimc_* parameter
needs no Python per point."""
import math

from numba import njit

from ..arch.schema import INDEX as _AI
from .gpu import gpu_cost
from .layout import (
    A_E_LINK,
    A_E_MEM,
    A_EFF_LINK,
    A_EFF_MEM,
    A_LINK_BW,
    A_LINK_LAT,
    A_MEM_BW,
    A_MEM_CAP,
    A_MEM_USABLE,
    AIMC_BOUND_NAMES,
    DT_BYTES,
    M_D,
    M_VOCAB,
    N_SLOTS,
    O_AIN,
    O_AOUT,
    O_COUNT,
    O_G,
    O_K,
    O_M,
    O_N,
    O_STATIC,
    O_W,
    OP_EDOWN,
    OP_EUP,
    OP_NORM1,
    OP_ROUTER,
    PHASE_DECODE,
    PHASE_PREFILL,
    R_ACT_BYTES,
    R_AIMC_BOUND,
    R_AIMC_CHIPS,
    R_AIMC_EFF_BITS,
    R_AIMC_LIFETIME,
    R_AIMC_PEAK,
    R_AIMC_REPROG,
    R_AIMC_T_REPROG,
    R_AIMC_TILES,
    R_AIMC_UTIL,
    R_ENERGY,
    R_ENERGY_PER_TOKEN,
    R_FITS,
    R_KV_BYTES,
    R_LATENCY,
    R_MAX_BATCH,
    R_TOKENS_PER_S,
    R_WEIGHT_BYTES,
    S_ADT,
    S_BATCH,
    S_CONTEXT,
    S_GEN,
    S_KVDT,
    S_PHASE,
    S_PROMPT,
    S_RUNTIME,
    S_TP,
    S_WDT,
    T_COMM,
    T_COMPUTE,
    T_DRAM,
    T_ENERGY,
    T_ENGINE,
    T_LAT,
    T_MEM,
    T_PEAK,
    T_SRAM,
    T_TOTAL,
)
from .ops import footprint

ENGINE_AIMC_TILES = 2
ENGINE_AIMC_DIGITAL = 3
N_AIMC_BOUNDS = len(AIMC_BOUND_NAMES)

A_AIMC_ROWS = _AI["aimc_rows"]
A_AIMC_COLS = _AI["aimc_cols"]
A_AIMC_WBITS = _AI["aimc_weight_bits"]
A_AIMC_CBITS = _AI["aimc_cell_bits"]
A_AIMC_DIFF = _AI["aimc_diff_cells"]
A_AIMC_INBITS = _AI["aimc_input_bits"]
A_AIMC_DACBITS = _AI["aimc_dac_bits"]
A_AIMC_ADCBITS = _AI["aimc_adc_bits"]
A_AIMC_ADCS = _AI["aimc_adcs"]
A_AIMC_T_DAC = _AI["aimc_t_dac"]
A_AIMC_T_SETTLE = _AI["aimc_t_settle"]
A_AIMC_T_ADC_BIT = _AI["aimc_t_adc_bit"]
A_AIMC_T_ACCUM = _AI["aimc_t_accum"]
A_AIMC_TILES = _AI["aimc_tiles"]
A_AIMC_CHIPS = _AI["aimc_chips"]
A_AIMC_PIPELINE = _AI["aimc_pipeline"]
A_AIMC_T_WRITE = _AI["aimc_t_write"]
A_AIMC_ITERS = _AI["aimc_verify_iters"]
A_AIMC_PROG_TILES = _AI["aimc_prog_tiles"]
A_AIMC_ENDURANCE = _AI["aimc_endurance"]
A_AIMC_E_DAC = _AI["aimc_e_dac"]
A_AIMC_E_CELL = _AI["aimc_e_cell"]
A_AIMC_E_ADC_FOM = _AI["aimc_e_adc_fom"]
A_AIMC_E_ACCUM = _AI["aimc_e_accum"]
A_AIMC_E_WRITE = _AI["aimc_e_write"]
A_AIMC_P_CHIP = _AI["aimc_p_chip"]


# ---- one tile ------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def cells_per_weight(a):
    """Columns one weight occupies: bit slices x cells per slice for the sign."""
    return math.ceil(a[A_AIMC_WBITS] / a[A_AIMC_CBITS]) * a[A_AIMC_DIFF]


@njit(cache=True)
def tile_timing(a):
    """(t_mvm, t_array, t_adc) of one tile MVM: input steps x (DAC + settle + conversion rounds
    x conversion time). A differential pair is summed before conversion, bit slices are
    converted one by one: conversion rounds = ceil((cols / diff_cells) / ADCs),
    t_conv = adc_bits x t_adc_bit."""
    steps = math.ceil(a[A_AIMC_INBITS] / a[A_AIMC_DACBITS])
    outs = math.ceil(a[A_AIMC_COLS] / a[A_AIMC_DIFF])
    rounds = math.ceil(outs / min(a[A_AIMC_ADCS], outs))
    t_arr = steps * (a[A_AIMC_T_DAC] + a[A_AIMC_T_SETTLE])
    t_adc = steps * rounds * a[A_AIMC_ADCBITS] * a[A_AIMC_T_ADC_BIT]
    return t_arr + t_adc, t_arr, t_adc


@njit(cache=True)
def tile_peak_ops(a):
    """Operations (2 per MAC) one fully used tile delivers per second."""
    t_mvm, _, _ = tile_timing(a)
    w_cols = math.floor(a[A_AIMC_COLS] / cells_per_weight(a))
    return 2.0 * a[A_AIMC_ROWS] * w_cols / t_mvm


@njit(cache=True)
def tile_program_time(a):
    """Program-and-verify of one whole tile: rows x iterations x t_write (columns in parallel)."""
    return a[A_AIMC_ROWS] * a[A_AIMC_ITERS] * a[A_AIMC_T_WRITE]


@njit(cache=True)
def adc_energy(a):
    """Energy of one conversion, Walden figure of merit: fom x 2^bits."""
    return a[A_AIMC_E_ADC_FOM] * 2.0 ** a[A_AIMC_ADCBITS]


@njit(cache=True)
def matrix_tiles(a, K, N):
    """(row splits, column splits) of a K x N weight matrix: K inputs on the rows,
    N x cells_per_weight cells on the columns."""
    tk = math.ceil(K / a[A_AIMC_ROWS])
    tn = math.ceil(N * cells_per_weight(a) / a[A_AIMC_COLS])
    return tk, tn


# ---- the whole model -----------------------------------------------------------------------
@njit(cache=True, inline="always")
def stored_groups(ops, i):
    """Matrices stored for row i: every expert of an MoE layer must sit in the tiles although
    only the active ones (O_G) compute; the router's N is the number of experts."""
    if i == OP_EUP or i == OP_EDOWN:
        return ops[OP_ROUTER, O_N]
    return ops[i, O_G]


@njit(cache=True)
def model_tiles(ops, a):
    """(tiles the static weights need, static-GEMM instances per pass)."""
    need = 0.0
    inst = 0.0
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n > 0 and ops[i, O_STATIC] > 0.5:
            tk, tn = matrix_tiles(a, ops[i, O_K], ops[i, O_N])
            need += n * tk * tn * stored_groups(ops, i)
            inst += n
    return need, inst


@njit(cache=True)
def system_chips(a, need):
    """(chips in the system, chips needed to hold every static weight)."""
    needed = max(math.ceil(need / a[A_AIMC_TILES]), 1.0)
    chips = a[A_AIMC_CHIPS] if a[A_AIMC_CHIPS] > 0 else needed
    return chips, needed


@njit(cache=True)
def rewrite_fraction(need, cap):
    """Fraction of the weight tiles re-programmed per pass: tiles beyond the capacity are
    cycled through (Belady-optimal for a cyclic layer order: need - cap writes per pass)."""
    if need <= cap or need <= 0:
        return 0.0
    return (need - cap) / need


@njit(cache=True)
def aimc_tile_cost(ops, i, a, s, terms):
    """Static-weight GEMM row i on the crossbar tiles."""
    need, n_inst = model_tiles(ops, a)
    chips, needed = system_chips(a, need)
    cap = chips * a[A_AIMC_TILES]
    frac = rewrite_fraction(need, cap)
    M = ops[i, O_M]
    N = ops[i, O_N]
    K = ops[i, O_K]
    G = ops[i, O_G]
    L = ops[i, O_COUNT]
    tk, tn = matrix_tiles(a, K, N)
    t_mvm, _, _ = tile_timing(a)
    # every tile of the matrix fires at once; tokens stream through one after the other
    stream = M * t_mvm
    if a[A_AIMC_PIPELINE] > 0.5 and frac == 0.0 and L > 1.0:
        stream = t_mvm * (M + L - 1.0) / L          # L layers busy on different tokens
    # partial sums of the tk row splits: adder tree, plus one stage of scaling/activation
    t_acc = (1.0 + math.ceil(math.log2(tk))) * a[A_AIMC_T_ACCUM]
    # capacity: tiles re-programmed this pass, and their weights fetched from memory
    gst = stored_groups(ops, i)
    rewrite = tk * tn * gst * frac
    t_prog = rewrite * tile_program_time(a) / (a[A_AIMC_PROG_TILES] * chips)
    wbytes = ops[i, O_W] / G * gst * frac if G > 0 else 0.0
    t_load = wbytes / (a[A_MEM_BW] * a[A_EFF_MEM])
    t_rep = max(t_prog, t_load)
    # weights spread over several chips: activations cross (chips used - 1) boundaries
    used = min(chips, needed)
    t_x = 0.0
    link_bytes = 0.0
    if used > 1.0 and n_inst > 0:
        act = ops[OP_NORM1, O_AIN]                  # T x d activations of one layer boundary
        bw = a[A_LINK_BW] if a[A_LINK_BW] > 0 else a[A_MEM_BW]
        per = a[A_LINK_LAT] + act / (bw * a[A_EFF_LINK])
        t_x = (used - 1.0) * per / n_inst
        link_bytes = (used - 1.0) * act / n_inst
    # energy: DACs on the K rows of each column split, cells, one conversion per bit slice of
    # each output per row split, periphery per output per row split
    steps = math.ceil(a[A_AIMC_INBITS] / a[A_AIMC_DACBITS])
    cols_used = N * cells_per_weight(a)
    slices = math.ceil(a[A_AIMC_WBITS] / a[A_AIMC_CBITS])
    e_tok = (steps * (K * tn * a[A_AIMC_E_DAC] + K * cols_used * a[A_AIMC_E_CELL]
                      + tk * N * slices * adc_energy(a)) + tk * N * a[A_AIMC_E_ACCUM])
    e_prog = rewrite * a[A_AIMC_ROWS] * a[A_AIMC_COLS] * a[A_AIMC_ITERS] * a[A_AIMC_E_WRITE]
    terms[i, T_COMPUTE] = stream
    terms[i, T_LAT] = t_acc
    terms[i, T_MEM] = t_rep
    terms[i, T_COMM] = t_x
    terms[i, T_DRAM] = wbytes
    terms[i, T_SRAM] = ops[i, O_AIN] + ops[i, O_AOUT]
    terms[i, T_PEAK] = chips * a[A_AIMC_TILES] * tile_peak_ops(a)
    terms[i, T_ENERGY] = (M * G * e_tok + e_prog + wbytes * a[A_E_MEM]
                          + link_bytes * a[A_E_LINK])


@njit(cache=True)
def aimc_map_and_cost(ops, i, a, s, terms):
    """AIMC mapping: static-weight GEMMs on the tiles, everything else on the digital unit
    (the host roofline with the host block describing the digital unit)."""
    if ops[i, O_STATIC] > 0.5:
        aimc_tile_cost(ops, i, a, s, terms)
        terms[i, T_ENGINE] = ENGINE_AIMC_TILES
    else:
        gpu_cost(ops, i, a, s[S_TP], s[S_RUNTIME], terms)
        terms[i, T_ENGINE] = ENGINE_AIMC_DIGITAL


@njit(cache=True)
def tokens_span_q(s):
    """(tokens per pass, sequence span, new tokens per sequence) of the last pass evaluated."""
    b = s[S_BATCH]
    phase = int(s[S_PHASE])
    if phase == PHASE_PREFILL:
        return b * s[S_PROMPT], s[S_PROMPT], s[S_PROMPT]
    if phase == PHASE_DECODE:
        return b, s[S_CONTEXT] + 1.0, 1.0
    return b, s[S_PROMPT] + s[S_GEN], s[S_PROMPT]


@njit(cache=True)
def aimc_summary(m, s, a, ops, terms, res):
    """Whole-model AIMC figures into res, for an architecture with tiles (kernels.point_into
    writes NaN for the others). ops/terms hold the last pass evaluated (for `generate`: the
    last decode step)."""
    need, _ = model_tiles(ops, a)
    chips, needed = system_chips(a, need)
    cap = chips * a[A_AIMC_TILES]
    frac = rewrite_fraction(need, cap)
    tokens, span, q = tokens_span_q(s)
    t_mvm, t_arr, t_adc = tile_timing(a)
    buckets = [0.0] * N_AIMC_BOUNDS           # array, adc, digital, capacity, interchip
    t_rep = 0.0
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0:
            continue
        if terms[i, T_ENGINE] == ENGINE_AIMC_TILES:
            tc = terms[i, T_COMPUTE]
            buckets[0] += n * (tc * t_arr / t_mvm + terms[i, T_LAT])
            buckets[1] += n * tc * t_adc / t_mvm
            buckets[3] += n * terms[i, T_MEM]
            buckets[4] += n * terms[i, T_COMM]
            t_rep += n * terms[i, T_MEM]
        else:
            buckets[2] += terms[i, T_TOTAL]
    best = 0
    for k in range(1, N_AIMC_BOUNDS):
        if buckets[k] > buckets[best]:
            best = k
    res[R_AIMC_TILES] = need
    res[R_AIMC_CHIPS] = needed
    res[R_AIMC_REPROG] = 1.0 if frac > 0 else 0.0
    res[R_AIMC_T_REPROG] = t_rep / tokens
    if frac > 0:
        # wear-levelled: each physical tile is rewritten (need - cap) / cap times per pass
        pulses = a[A_AIMC_ITERS] * (need - cap) / cap
        res[R_AIMC_LIFETIME] = a[A_AIMC_ENDURANCE] / pulses * tokens
    else:
        res[R_AIMC_LIFETIME] = math.inf
    res[R_AIMC_EFF_BITS] = min(a[A_AIMC_WBITS], a[A_AIMC_INBITS], a[A_AIMC_ADCBITS])
    res[R_AIMC_BOUND] = best
    res[R_AIMC_UTIL] = min(need / cap, 1.0)
    res[R_AIMC_PEAK] = chips * a[A_AIMC_TILES] * tile_peak_ops(a)
    # static power of every AIMC chip in the system, for the whole time
    e_chips = chips * a[A_AIMC_P_CHIP] * res[R_LATENCY]
    res[R_ENERGY] += e_chips
    res[R_ENERGY_PER_TOKEN] = res[R_ENERGY] / (res[R_TOKENS_PER_S] * res[R_LATENCY])
    # the digital unit's memory holds KV cache, activations and the embedding table; all
    # weights too when they must be re-programmed from it
    wb = DT_BYTES[int(s[S_WDT])]
    w_dig = res[R_WEIGHT_BYTES] if frac > 0 else m[M_VOCAB] * m[M_D] * wb
    mcap = a[A_MEM_CAP] * a[A_MEM_USABLE]
    res[R_FITS] = 1.0 if w_dig + res[R_KV_BYTES] + res[R_ACT_BYTES] <= mcap else 0.0
    _, kv1, act1 = footprint(m, 1.0, span, q, s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT])
    res[R_MAX_BATCH] = max(math.floor((mcap - w_dig) / (kv1 + act1)), 0.0)
