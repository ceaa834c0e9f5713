"""AIMC chip figures and the AIMC training step (docs/aimc.md, "Training on AIMC").

A training step on an AIMC system = forward pass of batch x seq tokens (tiles + digital unit)
+ backward: input gradients as transposed MVMs on the same tiles, digital ops twice their
forward cost, weight gradients dW = X^T dY on the digital unit, the optimizer on the digital
unit, and the update: every used tile re-programmed by program-and-verify."""
import math

import numpy as np
from numba import njit

from .aimc import (
    A_AIMC_COLS,
    A_AIMC_DACBITS,
    A_AIMC_DIFF,
    A_AIMC_E_ACCUM,
    A_AIMC_E_CELL,
    A_AIMC_E_DAC,
    A_AIMC_E_WRITE,
    A_AIMC_ENDURANCE,
    A_AIMC_INBITS,
    A_AIMC_ITERS,
    A_AIMC_P_CHIP,
    A_AIMC_PROG_TILES,
    A_AIMC_ROWS,
    A_AIMC_TILES,
    A_AIMC_WBITS,
    adc_energy,
    cells_per_weight,
    effective_bits,
    placement,
    tile_peak_ops,
    tile_program_time,
    tile_steps,
    tile_timing,
)
from .gpu import energy_per_flop, matrix_peak
from .layout import (
    ACC_ENERGY,
    AT_BWD_DIGITAL, AT_BWD_TILES, AT_CHIPS, AT_E_UPDATE, AT_ENERGY, AT_FITS, AT_FWD, AT_LIFETIME,
    AT_MEM, AT_OPT, AT_REPROG, AT_STEP, AT_TILES, AT_TOKENS_PER_S, AT_UPDATE, AT_UPDATE_SHARE,
    AT_WGRAD,
    CH_ADC, CH_ADC_LOSSLESS, CH_ARRAY, CH_CONV, CH_E_MVM, CH_EFF_BITS, CH_MVM, CH_OPS_J, CH_PEAK,
    CH_PROG_CHIP, CH_PROG_TILE, CH_W_CHIP, CH_W_TILE,
    N_ACC,
    A_E_FP32,
    A_E_MEM,
    A_EFF_COMPUTE,
    A_EFF_MEM,
    A_MEM_BW,
    A_MEM_CAP,
    A_MEM_USABLE,
    A_P_STATIC,
    A_PEAK_FP32,
    M_D,
    M_LAYERS,
    M_PARAMS,
    N_OF,
    N_SLOTS,
    N_TERMS,
    O_AIN,
    O_AOUT,
    O_COUNT,
    O_DTYPE,
    O_FLOPS,
    O_G,
    O_K,
    O_N,
    O_STATIC,
    S_BATCH,
    S_PROMPT,
    T_COMM,
    T_COMPUTE,
    T_ENERGY,
    T_LAT,
    T_MEM,
    T_TOTAL,
)
from .passes import run_pass

ADAM_FLOPS = 10.0       # FP32 FLOP per weight per Adam step
ADAM_BYTES = 32.0       # master weight, gradient, two moments: 16 B read + 16 B written
OPT_STATE_BYTES = 16.0  # bytes per weight held by the digital unit during training
ACT_BYTES_PER = 34.0    # stored activations per token, layer and d_model (16-bit, no recompute)


@njit(cache=True)
def chip_figures(a, out):
    """Per-tile and per-chip figures of the preset (full tiles, 100 % utilisation)."""
    cpw = cells_per_weight(a)
    w_tile = a[A_AIMC_ROWS] * math.floor(a[A_AIMC_COLS] / cpw)
    t_mvm, t_arr, t_adc = tile_timing(a)
    steps = math.ceil(a[A_AIMC_INBITS] / a[A_AIMC_DACBITS])
    outs = math.floor(a[A_AIMC_COLS] / cpw)
    slices = cpw / a[A_AIMC_DIFF]
    e_mvm = (steps * (a[A_AIMC_ROWS] * a[A_AIMC_E_DAC] + a[A_AIMC_ROWS] * a[A_AIMC_COLS]
                      * a[A_AIMC_E_CELL] + outs * slices * adc_energy(a))
             + outs * a[A_AIMC_E_ACCUM])
    out[CH_W_TILE] = w_tile
    out[CH_W_CHIP] = w_tile * a[A_AIMC_TILES]
    out[CH_MVM] = t_mvm
    out[CH_ARRAY] = t_arr
    out[CH_ADC] = t_adc
    out[CH_CONV] = steps * tile_steps(a)[2]         # every conversion of one MVM, overlapped or not
    out[CH_PEAK] = a[A_AIMC_TILES] * tile_peak_ops(a)
    out[CH_E_MVM] = e_mvm
    out[CH_OPS_J] = 2.0 * w_tile / e_mvm if e_mvm > 0 else math.inf
    out[CH_PROG_TILE] = tile_program_time(a)
    out[CH_PROG_CHIP] = a[A_AIMC_TILES] * tile_program_time(a) / a[A_AIMC_PROG_TILES]
    out[CH_EFF_BITS] = effective_bits(a)
    # bits a conversion needs to keep every LSB of one step: weight + input step + log2(rows)
    out[CH_ADC_LOSSLESS] = (a[A_AIMC_WBITS] / (cpw / a[A_AIMC_DIFF]) + a[A_AIMC_DACBITS]
               + math.ceil(math.log2(a[A_AIMC_ROWS])))


@njit(cache=True)
def aimc_train_point(m, s, a, out):
    """One training step of s[S_BATCH] sequences of s[S_PROMPT] tokens into out[N_AIMC_TRAIN]
    (AT_* offsets, layout.AIMC_TRAIN_FIELDS)."""
    ops = np.empty((N_SLOTS, N_OF))
    terms = np.empty((N_SLOTS, N_TERMS))
    acc = np.zeros(N_ACC)
    b = s[S_BATCH]
    q = s[S_PROMPT]
    t_fwd = run_pass(m, b, q, 0.0, s, a, ops, terms, acc)
    energy = acc[ACC_ENERGY]
    need, _, chips, needed, cap, hybrid, _, _, t_res = placement(ops, a)
    t_bt = 0.0
    t_bd = 0.0
    t_wg = 0.0
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0:
            continue
        if ops[i, O_STATIC] > 0.5:
            # dX = dY W^T: transposed read of the same tiles (re-programmed again if needed);
            # instances not resident (hybrid) read their weights from DRAM again on the digital
            # unit: the forward terms once more
            t_bt += n * (terms[i, T_COMPUTE] + terms[i, T_LAT] + terms[i, T_MEM] + terms[i, T_COMM])
            energy += n * terms[i, T_ENERGY]
            # dW = X^T dY on the digital unit, FP32 gradient written
            flops = ops[i, O_FLOPS]
            dt = int(ops[i, O_DTYPE])
            byts = ops[i, O_AIN] + ops[i, O_AOUT] + 4.0 * ops[i, O_K] * ops[i, O_N] * ops[i, O_G]
            t_c = flops / (matrix_peak(a, dt) * a[A_EFF_COMPUTE])
            t_m = byts / (a[A_MEM_BW] * a[A_EFF_MEM])
            t_wg += n * max(t_c, t_m)
            energy += n * (flops * energy_per_flop(a, dt) + byts * a[A_E_MEM])
        else:
            t_bd += 2.0 * terms[i, T_TOTAL]
            energy += 2.0 * n * terms[i, T_ENERGY]
    P = m[M_PARAMS]
    t_opt = max(ADAM_FLOPS * P / (a[A_PEAK_FP32] * a[A_EFF_COMPUTE]),
                ADAM_BYTES * P / (a[A_MEM_BW] * a[A_EFF_MEM]))
    energy += ADAM_FLOPS * P * a[A_E_FP32] + ADAM_BYTES * P * a[A_E_MEM]
    # the update: every tile that holds weights programmed and verified once (hybrid: the
    # resident tiles; the streamed weights are updated in DRAM by the optimizer)
    upd = t_res if hybrid else need
    t_upd = upd * tile_program_time(a) / (a[A_AIMC_PROG_TILES] * chips)
    e_upd = upd * a[A_AIMC_ROWS] * a[A_AIMC_COLS] * a[A_AIMC_ITERS] * a[A_AIMC_E_WRITE]
    t_step = t_fwd + t_bt + t_bd + t_wg + t_opt + t_upd
    energy += e_upd + (a[A_P_STATIC] + chips * a[A_AIMC_P_CHIP]) * t_step
    # endurance: per physical tile and step, the update plus forward and backward re-programming
    if hybrid:
        rewrites = 1.0 if t_res > 0 else 0.0
    else:
        rewrites = (need + 2.0 * max(need - cap, 0.0)) / min(need, cap)
    mem = P * OPT_STATE_BYTES + ACT_BYTES_PER * b * q * m[M_D] * m[M_LAYERS]
    out[AT_FWD] = t_fwd
    out[AT_BWD_TILES] = t_bt
    out[AT_BWD_DIGITAL] = t_bd
    out[AT_WGRAD] = t_wg
    out[AT_OPT] = t_opt
    out[AT_UPDATE] = t_upd
    out[AT_STEP] = t_step
    out[AT_TOKENS_PER_S] = b * q / t_step
    out[AT_ENERGY] = energy
    out[AT_E_UPDATE] = e_upd
    out[AT_UPDATE_SHARE] = t_upd / t_step
    out[AT_LIFETIME] = a[A_AIMC_ENDURANCE] / (a[A_AIMC_ITERS] * rewrites) if rewrites > 0 else math.inf
    out[AT_TILES] = need
    out[AT_CHIPS] = needed
    out[AT_REPROG] = 1.0 if (need > cap and not hybrid) else 0.0
    out[AT_MEM] = mem
    out[AT_FITS] = 1.0 if mem <= a[A_MEM_CAP] * a[A_MEM_USABLE] else 0.0
