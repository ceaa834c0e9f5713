"""Predictors for the `pim` measurement group (published PIM speed-ups and peaks).

Kernel speed-ups are modelled as the weight-GEMV time of an LLM decode step with and without the
PIM units on the same host (mapping host-only vs pim-gemv); application speed-ups only where the
application is a bundled model (AttAcc's GPT-3 175B), as the best tokens/s ratio over batch
("up to"). Rows whose baseline is a different machine or whose workload is not an LLM are skipped
with the reason (docs/nmc.md, docs/validation.md)."""
from __future__ import annotations

from ..analysis.inference import analyze
from ..analysis.pim import GEMV_KINDS, pim_figures
from ..arch.loader import load_arch
from ..errors import NmcError
from ..workload.model import list_models
from .registry import Skip, predictor

GEMV_MODEL = "llama-2-7b"        # representative decode GEMV shapes (4096 x 4096 .. 4096 x 11008)
UP_TO_BATCHES = (1, 4, 16, 64, 256)


def _dtype(row) -> str:
    text = f"{row.get('model', '')} {row.get('weights', '')}".lower()
    for dt in ("int4", "int8"):
        if dt in text:
            return dt
    return "bf16"


def _gemv_time(arch, mapping, weights):
    # an integer GEMV kernel works on integer inputs too (int8 activations)
    acts = "int8" if weights in ("int8", "int4") else "bf16"
    r = analyze(GEMV_MODEL, arch, phase="decode", batch=1, context=1024, mapping=mapping,
                weights=weights, activations=acts)
    return sum(o["time_s"] for o in r.ops if o["kind"] in GEMV_KINDS)


@predictor("pim")
def predict_pim(row: dict, arch=None) -> float:
    arch = arch or row.get("arch")
    if not arch:
        raise Skip(f"no preset for {row.get('system')!r}")
    a = load_arch(arch)
    metric, phase = row["metric"], row.get("phase")
    notes = (row.get("notes") or "").lower()
    if "software-only" in notes:
        raise Skip("software improvement on the same hardware, not an architecture effect")
    try:
        if metric == "tops" and phase == "chip":
            return pim_figures(a)["pim_flops"] / a["pim_devices"] / 1e12
        if metric == "speedup" and phase == "kernel":
            w = _dtype(row)
            return _gemv_time(a, "host-only", w) / _gemv_time(a, "pim-gemv", w)
        if phase == "generate" and metric in ("speedup", "energy_reduction"):
            model = row.get("model")
            if model not in list_models():
                raise Skip(f"application {model!r} is not a bundled model")
            best = 0.0
            for b in UP_TO_BATCHES:
                kw = dict(phase="decode", batch=b, context=row.get("context") or 2048,
                          tp=row.get("tp") or 8)
                h = analyze(model, a, mapping="host-only", **kw)
                p = analyze(model, a, mapping="auto", **kw)
                ratio = (p.tokens_per_s / h.tokens_per_s if metric == "speedup"
                         else h.energy_per_token_j / p.energy_per_token_j)
                best = max(best, ratio)
            return best
    except NmcError as e:
        raise Skip(str(e)) from None
    raise Skip(f"metric {metric!r} in phase {phase!r} is not predicted for PIM")
