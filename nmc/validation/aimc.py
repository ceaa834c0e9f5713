"""Predictors for the `aimc` measurement group: chip peak TOPS and TOPS/W of the AIMC presets
(nmc.analysis.aimc.chip_figures). A row about one core is evaluated with aimc_tiles = 1; the HERMES
four-phase (high-precision) read mode is the preset with 2-bit input phases (aimc_dac_bits = 2,
docs/aimc.md). Workload latencies of non-LLM networks are skipped with the reason."""
from __future__ import annotations

from ..analysis.aimc import chip_figures
from ..errors import NmcError
from .registry import Skip, predictor


@predictor("aimc")
def predict_aimc(row: dict, arch=None) -> float:
    arch = arch or row.get("arch")
    if not arch:
        raise Skip(f"no preset for {row.get('system')!r}")
    metric, phase = row["metric"], row.get("phase")
    text = f"{row.get('system', '')} {row.get('notes', '')}".lower()
    if phase != "chip" or metric not in ("tops", "tops_per_w"):
        raise Skip(f"{metric} of {row.get('model') or 'a non-LLM workload'} is not an LLM "
                   f"scenario nmc expresses")
    over = {}
    if "single" in text and "core" in text:
        over["aimc_tiles"] = 1
    if "four-phase" in text:
        over["aimc_dac_bits"] = 2
    try:
        f = chip_figures(arch, **over)
    except NmcError as e:
        raise Skip(str(e)) from None
    return f[metric]
