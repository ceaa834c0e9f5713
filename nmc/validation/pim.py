"""Predictor of the `pim` measurement group: published PIM figures, each against the paper's own
baseline (models/measurements/README.md, "PIM rows").

A row names its system and its baseline by preset, in columns (never by source name or notes):
- `arch`: the PIM system; `mapping`: the policy the paper runs it with (host-only, pim-gemv,
  pim-attention, pim-all-decode, auto; empty = auto, pim-gemv for kernel rows);
- `baseline`: the preset the paper compares against. It runs under the row's mapping when it has
  PIM units itself (NeuPIMs' naive NPU+PIM), otherwise on its host (a GPU, NPU or CPU).

Metrics:
- `tops`, phase `chip`: the PIM units' 16-bit peak per device (no baseline).
- `speedup`, phase `kernel`: weight-GEMV time of one decode step on the baseline over the same on
  the system (GEMV and LM-head rows of the operator table). `model` is a bundled model or a kernel
  description; the latter uses GEMV_MODEL's shapes. Batch 1 and context 1024 unless stated.
- `speedup` / `energy_reduction`, phase `decode` (or `generate`: its generation stage): one decode
  step of a bundled model at the stated
  batch (`batch` = an integer, or `max` = the largest batch that fits both systems at the stated
  lengths), context = `context`, or `prompt + output // 2` (the mean of the generation stage) when
  prompt and output are given; tp from `tp`. Speed-up = baseline latency / system latency at the
  same batch (= tokens/s ratio); energy reduction = baseline / system energy per token.
A row without a batch ("up to" over a range the source does not state) is skipped with the reason,
never predicted as the best of several batches. A baseline equal to the system (a software effect
on the same hardware) is skipped too."""
from __future__ import annotations

from ..analysis.inference import analyze
from ..analysis.pim import GEMV_KINDS, pim_figures
from ..arch.loader import load_arch
from ..errors import ConfigError, NmcError
from ..workload.model import list_models
from ..workload.scenario import MAPPINGS
from .registry import Skip, predictor

GEMV_MODEL = "llama-2-7b"        # representative decode GEMV shapes (4096 x 4096 .. 4096 x 11008)


def _mapping(row: dict, default: str) -> str:
    m = (row.get("mapping") or "").strip() or default
    if m not in MAPPINGS:
        raise ConfigError(f"{row.get('where', row.get('id'))}: mapping {m!r} is not one of "
                          f"{', '.join(MAPPINGS)}")
    return m


def _dtypes(row: dict) -> dict:
    w = (row.get("weights") or "bf16").lower()
    # an integer GEMV kernel works on integer inputs too (int8 activations)
    a = (row.get("activations") or ("int8" if w in ("int8", "int4") else "bf16")).lower()
    if a == "int4":
        a = "int8"
    return dict(weights=w, activations=a, kv=(row.get("kv") or a).lower())


def _baseline(row: dict, arch):
    name = (row.get("baseline") or "").strip()
    if not name:
        raise Skip("no baseline preset (column `baseline`)")
    b = load_arch(name)
    if b.name == arch.name and b.values == arch.values:
        raise Skip("the baseline is the system itself: a software effect on the same hardware, "
                   "not an architecture one")
    return b


def _run(model, a, mapping, **kw):
    return analyze(model, a, mapping=mapping if a["pim_banks"] > 0 else "host-only", **kw)


def _gemv_time(r) -> float:
    return sum(o["time_s"] for o in r.ops if o["kind"] in GEMV_KINDS)


def _int(row, col, default=None):
    v = row.get(col)
    if v is None:
        return default
    if isinstance(v, str):
        raise Skip(f"{col} = {v!r} is not a number")
    return v


@predictor("pim")
def predict_pim(row: dict, arch=None) -> float:
    arch = arch or row.get("arch")
    if not arch:
        raise Skip(f"no preset for {row.get('system')!r}")
    a = load_arch(arch)
    metric, phase = row["metric"], row.get("phase")
    if metric == "tops" and phase == "chip":
        return pim_figures(a)["pim_flops"] / a["pim_devices"] / 1e12
    if metric not in ("speedup", "energy_reduction") or phase not in ("kernel", "decode", "generate"):
        raise Skip(f"metric {metric!r} in phase {phase!r} is not predicted for PIM")
    b = _baseline(row, a)
    model = row.get("model")
    try:
        if phase == "kernel":
            if metric != "speedup":
                raise Skip("kernel rows predict a speed-up")
            m = model if model in list_models() else GEMV_MODEL
            kw = dict(phase="decode", batch=_int(row, "batch", 1), context=_int(row, "context", 1024),
                      tp=_int(row, "tp", 1), **_dtypes(row))
            mapping = _mapping(row, "pim-gemv")
            return _gemv_time(_run(m, b, mapping, **kw)) / _gemv_time(_run(m, a, mapping, **kw))
        if model not in list_models():
            raise Skip(f"workload {model!r} is not a bundled model")
        mapping = _mapping(row, "auto")
        batch = row.get("batch")
        if batch is None:
            raise Skip("no batch stated ('up to' over batches the source does not give); "
                       "predicted only at a stated batch")
        prompt, output = _int(row, "prompt"), _int(row, "output")
        ctx = _int(row, "context")
        if ctx is None:
            if prompt is None or output is None:
                raise Skip("decode rows need `context`, or `prompt` and `output`")
            ctx = prompt + output // 2
        kw = dict(phase="decode", context=ctx, tp=_int(row, "tp", 1), **_dtypes(row))
        if batch == "max":      # capacity for the whole sequence: prompt + output when given
            span = dict(kw, context=prompt + output if prompt and output else ctx)
            batch = min(int(_run(model, x, mapping, batch=1, **span).results["max_batch"])
                        for x in (a, b))
            if batch < 1:
                raise Skip("the model does not fit one of the systems at batch 1")
        elif isinstance(batch, str):
            raise Skip(f"batch = {batch!r} is not a number or 'max'")
        rs, rb = _run(model, a, mapping, batch=batch, **kw), _run(model, b, mapping, batch=batch, **kw)
        if metric == "speedup":
            return rb.latency_s / rs.latency_s
        return rb.energy_per_token_j / rs.energy_per_token_j
    except NmcError as e:
        if isinstance(e, ConfigError):
            raise
        raise Skip(str(e)) from None
