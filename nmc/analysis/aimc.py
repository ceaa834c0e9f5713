"""Analog in-memory compute (AIMC) at the object level: chip figures of a preset, the AIMC
training step, and the AIMC lines of `nmc analyze` / `nmc compare`. The equations live in nmc/engine/aimc.py and
nmc/engine/aimc_train.py (numba); docs/aimc.md writes them out.

    >>> from nmc.analysis.aimc import chip_figures, aimc_training_step
    >>> chip_figures("ibm-hermes")["peak_ops_per_chip"]          # 6.31e13 (63.1 TOPS)
    >>> aimc_training_step("llama-3.2-1b", "aimc-edge-projected", batch=1, seq=512)
"""
from __future__ import annotations

import math

import numpy as np

from ..arch.aimc_params import RESIDENCY
from ..arch.loader import Architecture, load_arch
from ..engine.aimc_train import aimc_train_point
from ..engine.aimc_train import chip_figures as _chip_kernel
from ..engine.layout import AIMC_TRAIN_FIELDS, CHIP_FIELDS, N_AIMC_TRAIN, N_CHIP
from ..engine.vectors import model_vector, scenario_vector
from ..errors import ConfigError, ScenarioError
from ..workload.model import load_model
from ..workload.scenario import Scenario


def _aimc_arch(arch, overrides=None) -> Architecture:
    a = load_arch(arch)
    if overrides:
        a = a.with_(**overrides)
    if a["aimc_tiles"] <= 0:
        raise ConfigError(f"{a.name}: not an AIMC architecture (aimc_tiles = 0); "
                          f"AIMC presets have family = \"aimc\" and aimc_tiles > 0")
    return a


def chip_figures(arch, **overrides) -> dict:
    """Tile and chip figures of an AIMC preset: weights per tile/chip, tile MVM time (array and
    ADC parts), peak ops per chip, energy per full-tile MVM, ops per joule (tiles only),
    program time per tile and per chip, effective bits, ADC bits needed for no truncation."""
    a = _aimc_arch(arch, overrides)
    out = np.empty(N_CHIP)
    _chip_kernel(a.vector(), out)
    d = {k: float(out[i]) for i, k in enumerate(CHIP_FIELDS)}
    d["arch"] = a.name
    d["tops"] = d["peak_ops_per_chip"] / 1e12
    d["tops_per_w"] = d["ops_per_joule"] / 1e12
    return d


def aimc_training_step(model, arch, *, batch: int = 1, seq: int = 512, weights: str = "bf16",
                       activations: str = "bf16", **overrides) -> dict:
    """Cost of one training step (batch x seq tokens) on an AIMC system: forward and backward on
    the tiles, weight gradients and optimizer on the digital unit, and the weight update as
    program-and-verify of every used tile. Returns times (s), tokens/s, energy (J), the share of
    the update, the endurance lifetime in steps and whether the training state fits."""
    spec = load_model(model)
    a = _aimc_arch(arch, overrides)
    try:
        sc = Scenario(phase="prefill", batch=batch, prompt=seq, weights=weights,
                      activations=activations)
    except ScenarioError as e:
        raise ScenarioError(f"aimc training step: {e}") from None
    out = np.empty(N_AIMC_TRAIN)
    aimc_train_point(model_vector(spec), scenario_vector(sc), a.vector(), out)
    d = {k: float(out[i]) for i, k in enumerate(AIMC_TRAIN_FIELDS)}
    for k in ("reprogram", "fits"):
        d[k] = bool(d[k])
    for k in ("tiles_needed", "chips_needed"):
        d[k] = int(d[k])
    d.update(model=spec.name, arch=a.name, batch=batch, seq=seq,
             energy_per_token_j=d["energy_j"] / (batch * seq),
             lifetime_tokens=d["lifetime_steps"] * batch * seq)
    return d


# ---- rows and lines for `nmc analyze` / `nmc compare` ----------------------------------------
AIMC_COLS = ["aimc_chips", "aimc_resident", "aimc_reprogram", "aimc_reprog_ms_per_token",
             "aimc_eff_bits"]


def summary_cols(r) -> dict:
    """Extra compare-table columns of an AIMC report (empty for other families): chips needed to
    hold the weights, the share of the weights resident on the tiles, whether tiles are
    re-programmed, its time per token, effective bits."""
    d = r.results
    if d.get("aimc_tiles_needed") is None:
        return {}
    return {"aimc_chips": int(d["aimc_chips_needed"]),
            "aimc_resident": d["aimc_resident_fraction"],
            "aimc_reprogram": bool(d["aimc_reprogram"]),
            "aimc_reprog_ms_per_token": d["aimc_reprogram_s_per_token"] * 1e3,
            "aimc_eff_bits": d["aimc_effective_bits"]}


def describe(r) -> list[str]:
    """Lines for `nmc analyze` text output (none for other families)."""
    d = r.results
    if d.get("aimc_tiles_needed") is None:
        return []
    a = r.arch
    chips = int(a["aimc_chips"]) if a["aimc_chips"] > 0 else int(d["aimc_chips_needed"])
    life = d["aimc_lifetime_tokens"]
    life_s = "unlimited (weights programmed once)" if life is None or math.isinf(life) \
        else f"{life:.3g} tokens"
    cap = (f"  AIMC: {int(d['aimc_tiles_needed'])} tiles = {int(d['aimc_chips_needed'])} chips of "
           f"{int(a['aimc_tiles'])} tiles to hold the weights; system: {chips} chip(s), "
           f"tile utilisation {d['aimc_tile_utilization']:.1%}, "
           f"tile peak {d['aimc_peak_ops'] / 1e12:.4g} TOPS")
    policy = RESIDENCY[int(a["aimc_residency"])]
    res = d["aimc_resident_fraction"]
    if d["aimc_reprogram"]:
        where = (f"re-programming YES ({d['aimc_reprogram_s_per_token'] * 1e3:.4g} ms/token, "
                 f"policy {policy}); endurance lifetime {life_s}")
    elif res < 1.0:
        where = (f"{res:.1%} of the weights resident on the tiles (policy {policy}), the rest "
                 f"streamed from DRAM by the digital unit; no re-programming")
    else:
        where = f"every weight resident, no re-programming; endurance lifetime {life_s}"
    days = a["aimc_drift_t"] / 86400
    bits = (f"  AIMC: effective precision {d['aimc_effective_bits']:.2f} bits (weight "
            f"{a['aimc_weight_bits']:.0f}, input {a['aimc_input_bits']:.0f}, ADC "
            f"{a['aimc_adc_bits']:.0f} bits, read noise {a['aimc_read_noise']:.3g}, drift nu "
            f"{a['aimc_drift_nu']:.3g}, read {days:.3g} day(s) after programming)")
    return [cap, f"  AIMC: {where}", bits,
            f"  AIMC bound: {r.bound} (array / adc / digital / capacity / interchip)"]
