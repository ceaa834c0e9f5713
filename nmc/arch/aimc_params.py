"""Parameters of the analog in-memory compute (AIMC) family (docs/aimc.md).

An AIMC chip = `aimc_tiles` crossbar tiles (engine 2) + a digital unit (engine 3) described by
the host block (peak_fp32/peak_bf16 for its digital ops, mem_bw/mem_capacity for the SRAM or
external memory that holds the KV cache and activations). `aimc_tiles = 0` (the default) means
no crossbar engine, so GPU presets are unchanged.

check_aimc() adds the rules a range cannot express (integer bit widths, DAC bits <= input
bits, ...); the loader calls it for every architecture."""
from __future__ import annotations

from ..errors import ConfigError

INF = float("inf")


def P(name, section, kind, default, lo, hi, doc, lo_open=False):
    """Plain tuples (schema.py turns them into Param): this module must not import schema."""
    return (name, section, kind, default, lo, hi, doc, lo_open)


AIMC = [
    # one crossbar tile
    P("aimc_rows", "aimc_tile", "count", 256.0, 1, 65536, "crossbar rows (inputs) per tile"),
    P("aimc_cols", "aimc_tile", "count", 256.0, 1, 65536, "crossbar columns (unit cells per row) per tile"),
    P("aimc_weight_bits", "aimc_tile", "count", 4.0, 1, 16, "precision of one stored weight (bits), incl. sign"),
    P("aimc_cell_bits", "aimc_tile", "count", 4.0, 1, 16, "bits one unit cell holds; a weight takes ceil(weight_bits/cell_bits) cells (bit slicing)"),
    P("aimc_diff_cells", "aimc_tile", "count", 1.0, 1, 8, "cells per weight slice summed in analog before conversion (1: differential unit cell; 2: G+/G- pair; 4: G+ g+ G- g-)"),
    P("aimc_input_bits", "aimc_tile", "count", 8.0, 1, 16, "activation bits applied to the rows"),
    P("aimc_dac_bits", "aimc_tile", "count", 8.0, 1, 16, "input bits applied per step (1 = bit-serial; = input_bits = one multi-bit/PWM step)"),
    P("aimc_adc_bits", "aimc_tile", "count", 8.0, 1, 16, "ADC resolution (bits)"),
    P("aimc_adcs", "aimc_tile", "count", 256.0, 1, 65536, "ADCs per tile; the cols/diff_cells outputs share them in ceil(outputs/adcs) conversion rounds"),
    P("aimc_t_dac", "aimc_tile", "time", 0.0, 0, 1.0, "duration of one input step (DAC settle or full PWM window)"),
    P("aimc_t_settle", "aimc_tile", "time", 0.0, 0, 1.0, "array integration / settle time per input step"),
    P("aimc_t_adc_bit", "aimc_tile", "time", 0.0, 0, 1.0, "ADC conversion time per output bit (SAR-like: t_conv = adc_bits x this)"),
    P("aimc_t_accum", "aimc_tile", "time", 0.0, 0, 1.0, "digital periphery: one stage of partial-sum accumulation / scaling / activation"),
    P("aimc_adc_pipelined", "aimc_tile", "count", 0.0, 0, 1, "1: the conversion of one input step overlaps the integration of the next (sample-and-convert while integrating), so a step takes max(array, conversion) in a stream and the last conversion once per operator; 0: conversion follows integration"),
    # chip and system
    P("aimc_tiles", "aimc_chip", "count", 0.0, 0, 1e9, "crossbar tiles per chip (0: not an AIMC architecture)"),
    P("aimc_chips", "aimc_chip", "count", 1.0, 0, 1e6, "chips per system (0: as many as the model's weights need)"),
    P("aimc_pipeline", "aimc_chip", "count", 0.0, 0, 1, "1: tokens pipelined across layers (only when all weights are resident)"),
    P("aimc_residency", "aimc_chip", "count", 0.0, 0, 2, "weights beyond the tiles: 0 = hybrid, whole layers resident in model order, the rest run on the digital unit streaming their weights from DRAM; 1 = hybrid, largest matrices resident first; 2 = re-program the tiles every pass (opt-in)"),
    # (re-)programming
    P("aimc_t_write", "aimc_program", "time", 1e-6, 0, 1.0, "one program-and-verify iteration of one tile row (columns in parallel)"),
    P("aimc_verify_iters", "aimc_program", "count", 10.0, 1, 1e6, "mean program-and-verify iterations per weight write"),
    P("aimc_prog_tiles", "aimc_program", "count", 1.0, 1, 1e9, "tiles one chip can program at the same time"),
    P("aimc_endurance", "aimc_program", "count", 1e8, 1, 1e18, "write cycles a cell survives"),
    # energy
    P("aimc_e_dac", "aimc_energy", "energy", 0.0, 0, INF, "energy per row driver per input step"),
    P("aimc_e_cell", "aimc_energy", "energy", 0.0, 0, INF, "array energy per cell per input step"),
    P("aimc_e_adc_fom", "aimc_energy", "energy", 0.0, 0, INF, "ADC figure of merit (Walden): energy per conversion = fom x 2^adc_bits"),
    P("aimc_e_accum", "aimc_energy", "energy", 0.0, 0, INF, "digital periphery energy per output element per tile MVM"),
    P("aimc_e_write", "aimc_energy", "energy", 0.0, 0, INF, "energy per cell per program-and-verify iteration"),
    P("aimc_p_chip", "aimc_energy", "power", 0.0, 0, INF, "static power of each AIMC chip (added to the host block's p_static)"),
    # non-idealities, reported as effective bits of an MVM (docs/aimc.md); they do not change time or energy
    P("aimc_read_noise", "aimc_noise", "fraction", 0.0, 0, 1, "rms read (short-term) noise of one weight, relative to the largest weight (0: not modelled)"),
    P("aimc_drift_nu", "aimc_noise", "fraction", 0.0, 0, 1, "conductance drift exponent nu: g(t) = g(t0) (t/t0)^-nu (PCM ~0.05; 0: no drift)"),
    P("aimc_drift_t", "aimc_noise", "time", 0.0, 0, 1e10, "time since programming at which the MVM is read (0: at t0)"),
    P("aimc_drift_t0", "aimc_noise", "time", 20.0, 0, 1e10, "reference time of the drift law (first read after programming)", True),
]

INT_KEYS = ("aimc_rows", "aimc_cols", "aimc_weight_bits", "aimc_cell_bits", "aimc_diff_cells",
            "aimc_input_bits", "aimc_dac_bits", "aimc_adc_bits", "aimc_adcs", "aimc_tiles",
            "aimc_chips", "aimc_pipeline", "aimc_prog_tiles", "aimc_residency",
            "aimc_adc_pipelined")
RESIDENCY = ("layers", "largest", "reprogram")     # aimc_residency codes


def check_aimc(vals: dict, where: str) -> None:
    """Cross-parameter rules of the AIMC block (called by the loader for every preset)."""
    if "aimc_tiles" not in vals:
        return
    for k in INT_KEYS:
        v = vals[k]
        if v != int(v):
            raise ConfigError(f"{where}: {k} = {v:g} must be a whole number")
    if vals["aimc_dac_bits"] > vals["aimc_input_bits"]:
        raise ConfigError(f"{where}: aimc_dac_bits = {vals['aimc_dac_bits']:g} exceeds aimc_input_bits = "
                          f"{vals['aimc_input_bits']:g} (allowed: 1 <= dac_bits <= input_bits)")
    if vals["aimc_tiles"] > 0:
        t = vals["aimc_t_dac"] + vals["aimc_t_settle"] + vals["aimc_t_adc_bit"]
        if t <= 0:
            raise ConfigError(f"{where}: an AIMC chip (aimc_tiles > 0) needs a tile step time: "
                              f"aimc_t_dac + aimc_t_settle + aimc_t_adc_bit must be > 0")
