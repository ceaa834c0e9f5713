"""Analog in-memory compute (AIMC): crossbar tiles (engine 2) and the chip's digital unit
(engine 3). Equations: docs/aimc.md.

Everything derived from the raw parameters (cells per weight, tiles per matrix, tile MVM time,
capacity, re-programming) is computed here inside numba, so a sweep over any aimc_* parameter
needs no Python per point."""
import math

import numpy as np
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
    OP_DOWN,
    OP_EDOWN,
    OP_EUP,
    OP_KVB,
    OP_LMHEAD,
    OP_NORM1,
    OP_OPROJ,
    OP_QKV,
    OP_ROUTER,
    OP_SDOWN,
    OP_SUP,
    OP_UP,
    PHASE_DECODE,
    PHASE_PREFILL,
    R_ACT_BYTES,
    R_AIMC_BOUND,
    R_AIMC_CHIPS,
    R_AIMC_EFF_BITS,
    R_AIMC_LIFETIME,
    R_AIMC_PEAK,
    R_AIMC_REPROG,
    R_AIMC_RESIDENT,
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
A_AIMC_ADC_PIPE = _AI["aimc_adc_pipelined"]
A_AIMC_RESIDENCY = _AI["aimc_residency"]
A_AIMC_READ_NOISE = _AI["aimc_read_noise"]
A_AIMC_DRIFT_NU = _AI["aimc_drift_nu"]
A_AIMC_DRIFT_T = _AI["aimc_drift_t"]
A_AIMC_DRIFT_T0 = _AI["aimc_drift_t0"]

RES_LAYERS = 0          # aimc_residency: whole layers in model order, the rest streamed
RES_LARGEST = 1         # largest matrices first, the rest streamed
RES_REPROGRAM = 2       # every weight on the tiles, re-programmed each pass (opt-in)


# ---- one tile ------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def cells_per_weight(a):
    """Columns one weight occupies: bit slices x cells per slice for the sign."""
    return math.ceil(a[A_AIMC_WBITS] / a[A_AIMC_CBITS]) * a[A_AIMC_DIFF]


@njit(cache=True)
def tile_steps(a):
    """(input steps, array time of one step, conversion time of one step): a step applies
    dac_bits of the input (DAC + settle); its conversion takes rounds = ceil((cols / diff_cells)
    / ADCs) conversions of adc_bits x t_adc_bit each (a differential pair is summed before
    conversion, bit slices are converted one by one)."""
    steps = math.ceil(a[A_AIMC_INBITS] / a[A_AIMC_DACBITS])
    outs = math.ceil(a[A_AIMC_COLS] / a[A_AIMC_DIFF])
    rounds = math.ceil(outs / min(a[A_AIMC_ADCS], outs))
    arr = a[A_AIMC_T_DAC] + a[A_AIMC_T_SETTLE]
    conv = rounds * a[A_AIMC_ADCBITS] * a[A_AIMC_T_ADC_BIT]
    return steps, arr, conv


@njit(cache=True)
def tile_timing(a):
    """(t_mvm, t_array, t_adc): time of one tile MVM in a stream of MVMs, and its array and ADC
    shares (they add up to t_mvm). Sequential conversion: t_mvm = steps x (array + conversion).
    Pipelined conversion (aimc_adc_pipelined = 1: a step is converted while the next one
    integrates): t_mvm = steps x max(array, conversion), all of it charged to the larger part;
    the last conversion of an operator is tile_drain(a)."""
    steps, arr, conv = tile_steps(a)
    if a[A_AIMC_ADC_PIPE] > 0.5:
        t = steps * max(arr, conv)
        if arr >= conv:
            return t, t, 0.0
        return t, 0.0, t
    return steps * (arr + conv), steps * arr, steps * conv


@njit(cache=True)
def tile_drain(a):
    """Pipelined conversion: the part of the last step that does not overlap anything, once per
    operator instance (n pipelined items take n max(array, conv) + min(array, conv)); 0 when
    conversion is sequential."""
    if a[A_AIMC_ADC_PIPE] > 0.5:
        _, arr, conv = tile_steps(a)
        return min(arr, conv)
    return 0.0


@njit(cache=True)
def effective_bits(a):
    """Effective bits of one MVM output (docs/aimc.md, "Non-idealities"): the quantization of
    weights (weight_bits), inputs (input_bits) and outputs (adc_bits, less the bits lost to
    drift) and the read noise, each an rms error relative to its full-scale range, added in
    quadrature: b_eff = -1/2 log2(sum_k 2^(-2 b_k)), with 2^(-2 b) = 12 sigma^2 for an rms error
    sigma of the full range. Drift g(t) = g0 ((t + t0)/t0)^-nu shrinks the outputs inside a fixed
    ADC range: nu log2((t + t0)/t0) bits are lost (a digital rescale restores the scale, not the
    resolution). Read noise sigma_r relative to the largest weight is sigma_r / 2 of the weight
    range 2 w_max: 12 (sigma_r / 2)^2 = 3 sigma_r^2."""
    lost = a[A_AIMC_DRIFT_NU] * math.log2((a[A_AIMC_DRIFT_T] + a[A_AIMC_DRIFT_T0]) / a[A_AIMC_DRIFT_T0])
    b_adc = max(a[A_AIMC_ADCBITS] - lost, 0.0)
    p = (2.0 ** (-2.0 * a[A_AIMC_WBITS]) + 2.0 ** (-2.0 * a[A_AIMC_INBITS])
         + 2.0 ** (-2.0 * b_adc) + 3.0 * a[A_AIMC_READ_NOISE] ** 2)
    return -0.5 * math.log2(p)


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


@njit(cache=True, inline="always")
def is_static(ops, i):
    return ops[i, O_COUNT] > 0.0 and ops[i, O_STATIC] > 0.5


@njit(cache=True)
def instance_tiles(ops, a, i):
    """Tiles one instance of static row i occupies (every stored expert of an MoE row)."""
    tk, tn = matrix_tiles(a, ops[i, O_K], ops[i, O_N])
    return tk * tn * stored_groups(ops, i)


@njit(cache=True, inline="always")
def row_class(i):
    """Which part of a layer row i belongs to: 0 attention (every layer), 1 dense MLP,
    2 MoE block, 3 LM head, -1 not a static-weight row."""
    if i == OP_QKV or i == OP_KVB or i == OP_OPROJ:
        return 0
    if i == OP_UP or i == OP_DOWN:
        return 1
    if i == OP_ROUTER or i == OP_EUP or i == OP_EDOWN or i == OP_SUP or i == OP_SDOWN:
        return 2
    if i == OP_LMHEAD:
        return 3
    return -1


LAYER_ORDER = (OP_QKV, OP_KVB, OP_OPROJ, OP_UP, OP_DOWN, OP_ROUTER, OP_SUP, OP_SDOWN, OP_EUP,
               OP_EDOWN)     # matrices of one layer in execution order (dense or MoE block)


@njit(cache=True)
def _partial_layer(plan, tiles, rem, klass):
    """Place the first matrices of one more layer of class klass (1 dense, 2 MoE) in
    execution order while they fit (a prefix: stop at the first that does not); returns what is
    left."""
    for i in LAYER_ORDER:
        c = row_class(i)
        if tiles[i] > 0.0 and (c == 0 or c == klass):
            if tiles[i] > rem:
                break
            plan[i] += 1.0
            rem -= tiles[i]
    return rem


@njit(cache=True)
def resident_plan(ops, a, cap):
    """Resident instances of every operator row (plan[i], 0 for rows without static weights)
    when the weights need more than the cap tiles, under the hybrid policies:
    RES_LAYERS: the longest prefix of the model's weight matrices in execution order that fits:
    whole layers (dense layers first, as the leading dense layers of DeepSeek-style MoE models,
    then MoE layers), then the first matrices of the next layer, the LM head last;
    RES_LARGEST: rows by weights read per tile (dense matrices: all of them; MoE rows: only the
    active experts), then by tiles per instance, largest first (ties in row order), each with
    as many instances as fit in what is left."""
    plan = np.zeros(N_SLOTS)
    tiles = np.zeros(N_SLOTS)
    for i in range(N_SLOTS):
        if is_static(ops, i):
            tiles[i] = instance_tiles(ops, a, i)
    if a[A_AIMC_RESIDENCY] < 0.5:
        per = np.zeros(4)                       # tiles per instance of each row class
        for i in range(N_SLOTS):
            c = row_class(i)
            if c >= 0:
                per[c] += tiles[i]
        n_d = ops[OP_UP, O_COUNT]
        n_m = ops[OP_EUP, O_COUNT]
        rem = cap
        r_d = 0.0
        if n_d > 0.0:
            r_d = min(n_d, math.floor(rem / (per[0] + per[1])))
            rem -= r_d * (per[0] + per[1])
        r_m = 0.0
        if n_m > 0.0 and r_d == n_d:
            r_m = min(n_m, math.floor(rem / (per[0] + per[2])))
            rem -= r_m * (per[0] + per[2])
        for i in range(N_SLOTS):
            c = row_class(i)
            if tiles[i] > 0.0 and c < 3:
                plan[i] = (r_d + r_m, r_d, r_m)[c]
        if r_d < n_d:
            _partial_layer(plan, tiles, rem, 1.0)   # floats: one compiled body
        elif r_m < n_m:
            _partial_layer(plan, tiles, rem, 2.0)
        elif tiles[OP_LMHEAD] > 0.0 and tiles[OP_LMHEAD] <= rem:
            plan[OP_LMHEAD] = 1.0
        return plan
    # RES_LARGEST: weights read per pass per tile (K N G / tiles: every tile of a dense matrix
    # is read, an MoE row's tiles hold every expert but only the active ones are read), then
    # the larger matrix, then row order
    dens = np.zeros(N_SLOTS)
    for i in range(N_SLOTS):
        if tiles[i] > 0.0:
            dens[i] = ops[i, O_K] * ops[i, O_N] * ops[i, O_G] / tiles[i]
    rem = cap
    done = np.zeros(N_SLOTS, dtype=np.bool_)
    for _ in range(N_SLOTS):
        best = -1
        for i in range(N_SLOTS):
            if tiles[i] > 0.0 and not done[i] and (
                    best < 0 or dens[i] > dens[best]
                    or (dens[i] == dens[best] and tiles[i] > tiles[best])):
                best = i
        if best < 0:
            break
        done[best] = True
        r = min(ops[best, O_COUNT], math.floor(rem / tiles[best]))
        plan[best] = r
        rem -= r * tiles[best]
    return plan


@njit(cache=True)
def placement(ops, a):
    """Where the static weights live: (tiles needed, static-GEMM instances per pass, chips in
    the system, chips needed, capacity in tiles, hybrid, plan, resident instances, resident
    tiles). hybrid: the weights exceed the tiles and aimc_residency is a hybrid policy; then
    plan[i] instances of row i are resident and the rest run on the digital unit. Otherwise
    plan is empty and every instance sits on the tiles (re-programmed when need > cap)."""
    need, n_inst = model_tiles(ops, a)
    chips, needed = system_chips(a, need)
    cap = chips * a[A_AIMC_TILES]
    if need > cap and a[A_AIMC_RESIDENCY] < 1.5:
        plan = resident_plan(ops, a, cap)
        n_res = 0.0
        t_res = 0.0
        for i in range(N_SLOTS):
            if plan[i] > 0.0:
                n_res += plan[i]
                t_res += plan[i] * instance_tiles(ops, a, i)
        return need, n_inst, chips, needed, cap, True, plan, n_res, t_res
    return need, n_inst, chips, needed, cap, False, np.zeros(0), n_inst, need


@njit(cache=True)
def tile_part(ops, i, a, chips, need, cap, frac, used, n_spread):
    """Per-instance cost of static row i on the tiles: (stream, t_lat, t_rep, t_x, energy,
    weight bytes reloaded). stream: tokens through the matrix (all its tiles fire at once);
    t_lat: partial-sum adder tree + one scaling stage + the last conversion of a pipelined ADC;
    t_rep: re-programming the share frac of its tiles (aimc_residency = 2); t_x: its share of
    the (used - 1) chip-boundary hops, spread over n_spread instances."""
    M = ops[i, O_M]
    N = ops[i, O_N]
    K = ops[i, O_K]
    G = ops[i, O_G]
    L = ops[i, O_COUNT]
    tk, tn = matrix_tiles(a, K, N)
    t_mvm, _, _ = tile_timing(a)
    # every tile of the matrix fires at once; tokens stream through one after the other
    stream = M * t_mvm
    if a[A_AIMC_PIPELINE] > 0.5 and need <= cap and L > 1.0:
        stream = t_mvm * (M + L - 1.0) / L          # L layers busy on different tokens
    # partial sums of the tk row splits: adder tree, plus one stage of scaling/activation
    t_lat = (1.0 + math.ceil(math.log2(tk))) * a[A_AIMC_T_ACCUM] + tile_drain(a)
    # capacity: tiles re-programmed this pass, and their weights fetched from memory
    gst = stored_groups(ops, i)
    rewrite = tk * tn * gst * frac
    t_prog = rewrite * tile_program_time(a) / (a[A_AIMC_PROG_TILES] * chips)
    wbytes = ops[i, O_W] / G * gst * frac if G > 0 else 0.0
    t_load = wbytes / (a[A_MEM_BW] * a[A_EFF_MEM])
    t_rep = max(t_prog, t_load)
    # weights spread over several chips: activations cross (chips used - 1) boundaries
    t_x = 0.0
    link_bytes = 0.0
    if used > 1.0 and n_spread > 0:
        act = ops[OP_NORM1, O_AIN]                  # T x d activations of one layer boundary
        bw = a[A_LINK_BW] if a[A_LINK_BW] > 0 else a[A_MEM_BW]
        per = a[A_LINK_LAT] + act / (bw * a[A_EFF_LINK])
        t_x = (used - 1.0) * per / n_spread
        link_bytes = (used - 1.0) * act / n_spread
    # energy: DACs on the K rows of each column split, cells, one conversion per bit slice of
    # each output per row split, periphery per output per row split
    steps = math.ceil(a[A_AIMC_INBITS] / a[A_AIMC_DACBITS])
    cols_used = N * cells_per_weight(a)
    slices = math.ceil(a[A_AIMC_WBITS] / a[A_AIMC_CBITS])
    e_tok = (steps * (K * tn * a[A_AIMC_E_DAC] + K * cols_used * a[A_AIMC_E_CELL]
                      + tk * N * slices * adc_energy(a)) + tk * N * a[A_AIMC_E_ACCUM])
    e_prog = rewrite * a[A_AIMC_ROWS] * a[A_AIMC_COLS] * a[A_AIMC_ITERS] * a[A_AIMC_E_WRITE]
    energy = M * G * e_tok + e_prog + wbytes * a[A_E_MEM] + link_bytes * a[A_E_LINK]
    return stream, t_lat, t_rep, t_x, energy, wbytes


@njit(cache=True)
def used_chips(a, chips, t_res):
    """Chips holding resident weights: the activations cross (used - 1) chip boundaries."""
    if t_res <= 0.0:
        return 0.0
    return min(chips, math.ceil(t_res / a[A_AIMC_TILES]))


@njit(cache=True)
def aimc_tile_cost(ops, i, a, s, terms):
    """Static-weight GEMM row i: its resident instances on the crossbar tiles, the others (hybrid
    policies, weights beyond the tiles) on the digital unit reading their weights from DRAM
    (the host roofline). Per-instance terms are the average over the row's instances: with a
    resident fraction f of tile time T_t and digital time T_d = max(c_d, m_d) + l_d + x_d,
    T_COMPUTE or T_MEM (whichever bounds the digital part) = f stream + (1 - f) max(c_d, m_d),
    T_LAT = f t_lat + (1 - f) l_d, T_COMM = f t_x + (1 - f) x_d, so that
    max(T_COMPUTE, T_MEM) + T_LAT + T_COMM = f T_t + (1 - f) T_d exactly."""
    need, n_inst, chips, needed, cap, hybrid, plan, n_res, t_res = placement(ops, a)
    if not hybrid:
        # every instance on the tiles; the share beyond the capacity re-programmed each pass
        frac = rewrite_fraction(need, cap)
        stream, t_lat, t_rep, t_x, energy, wbytes = tile_part(
            ops, i, a, chips, need, cap, frac, min(chips, needed), n_inst)
        terms[i, T_COMPUTE] = stream
        terms[i, T_MEM] = t_rep
        terms[i, T_LAT] = t_lat
        terms[i, T_COMM] = t_x
        terms[i, T_DRAM] = wbytes
        terms[i, T_SRAM] = ops[i, O_AIN] + ops[i, O_AOUT]
        terms[i, T_PEAK] = cap * tile_peak_ops(a)
        terms[i, T_ENERGY] = energy
        terms[i, T_ENGINE] = ENGINE_AIMC_TILES
        return
    f = plan[i] / ops[i, O_COUNT]
    gpu_cost(ops, i, a, s[S_TP], s[S_RUNTIME], terms)                  # the digital unit's cost of one instance
    if f == 0.0:
        terms[i, T_ENGINE] = ENGINE_AIMC_DIGITAL
        return
    c_d = terms[i, T_COMPUTE]
    m_d = terms[i, T_MEM]
    stream, t_lat, _, t_x, energy, _ = tile_part(ops, i, a, chips, need, cap, 0.0,
                                                 used_chips(a, chips, t_res), n_res)
    g = 1.0 - f
    if c_d >= m_d:
        terms[i, T_COMPUTE] = f * stream + g * c_d
        terms[i, T_MEM] = 0.0
    else:
        terms[i, T_COMPUTE] = 0.0
        terms[i, T_MEM] = f * stream + g * m_d
    terms[i, T_LAT] = f * t_lat + g * terms[i, T_LAT]
    terms[i, T_COMM] = f * t_x + g * terms[i, T_COMM]
    terms[i, T_DRAM] = g * terms[i, T_DRAM]
    terms[i, T_SRAM] = f * (ops[i, O_AIN] + ops[i, O_AOUT]) + g * terms[i, T_SRAM]
    terms[i, T_PEAK] = cap * tile_peak_ops(a)
    terms[i, T_ENERGY] = f * energy + g * terms[i, T_ENERGY]
    terms[i, T_ENGINE] = ENGINE_AIMC_TILES


@njit(cache=True)
def aimc_map_and_cost(ops, i, a, s, terms):
    """AIMC mapping: static-weight GEMMs on the tiles (those beyond the tiles, under a hybrid
    policy, on the digital unit), everything else on the digital unit (the host roofline with
    the host block describing the digital unit)."""
    if ops[i, O_STATIC] > 0.5:
        aimc_tile_cost(ops, i, a, s, terms)          # sets the engine (tiles, or digital)
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
    need, n_inst, chips, needed, cap, hybrid, plan, n_res, t_res = placement(ops, a)
    frac = 0.0 if hybrid else rewrite_fraction(need, cap)
    used = used_chips(a, chips, t_res) if hybrid else min(chips, needed)
    tokens, span, q = tokens_span_q(s)
    t_mvm, t_arr, t_adc = tile_timing(a)
    drain = tile_drain(a)
    wb = DT_BYTES[int(s[S_WDT])]
    buckets = [0.0] * N_AIMC_BOUNDS           # array, adc, digital, capacity, interchip
    t_rep = 0.0
    w_all = 0.0                               # stored static weights, and those on the tiles
    w_res = 0.0
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0:
            continue
        if not is_static(ops, i):
            buckets[2] += terms[i, T_TOTAL]
            continue
        f = plan[i] / n if hybrid else 1.0
        w_inst = ops[i, O_K] * ops[i, O_N] * stored_groups(ops, i)
        w_all += n * w_inst
        w_res += f * n * w_inst
        stream, t_lat, tr, t_x, _, _ = tile_part(ops, i, a, chips, need, cap, frac, used,
                                                 n_res)
        buckets[0] += f * n * (stream * t_arr / t_mvm + t_lat - drain)
        buckets[1] += f * n * (stream * t_adc / t_mvm + drain)
        buckets[4] += f * n * t_x
        # capacity: re-programming, or the instances streamed by the digital unit
        buckets[3] += n * tr
        t_rep += n * tr
        if f < 1.0:
            buckets[3] += max(terms[i, T_TOTAL] - f * n * (stream + t_lat + t_x), 0.0)
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
    res[R_AIMC_EFF_BITS] = effective_bits(a)
    res[R_AIMC_BOUND] = best
    res[R_AIMC_UTIL] = min(need / cap, 1.0) if not hybrid else t_res / cap
    res[R_AIMC_PEAK] = cap * tile_peak_ops(a)
    # share of the stored static weights that stay on the tiles through a pass
    if hybrid:
        res[R_AIMC_RESIDENT] = w_res / w_all if w_all > 0 else 0.0
    else:
        res[R_AIMC_RESIDENT] = 1.0 - frac
    # static power of every AIMC chip in the system, for the whole time
    e_chips = chips * a[A_AIMC_P_CHIP] * res[R_LATENCY]
    res[R_ENERGY] += e_chips
    res[R_ENERGY_PER_TOKEN] = res[R_ENERGY] / (res[R_TOKENS_PER_S] * res[R_LATENCY])
    # the digital unit's memory holds KV cache, activations and the embedding table, plus the
    # weights it streams (hybrid: those not resident; re-programming: all of them)
    w_dig = m[M_VOCAB] * m[M_D] * wb
    if hybrid:
        w_dig += (w_all - w_res) * wb
    elif frac > 0:
        w_dig = res[R_WEIGHT_BYTES]
    mcap = a[A_MEM_CAP] * a[A_MEM_USABLE]
    res[R_FITS] = 1.0 if w_dig + res[R_KV_BYTES] + res[R_ACT_BYTES] <= mcap else 0.0
    _, kv1, act1 = footprint(m, 1.0, span, q, s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT],
                             1.0)    # ep given: the compiled footprint of point_into
    res[R_MAX_BATCH] = max(math.floor((mcap - w_dig) / (kv1 + act1)), 0.0)
