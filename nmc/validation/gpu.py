"""Predictor of the GPU inference groups (gpu-decode, gpu-prefill, gpu-serving): the scenario a
row describes, evaluated with nmc.analyze."""
from __future__ import annotations

from ..analysis.inference import analyze
from ..errors import NmcError
from .registry import Skip, predictor


def scenario_of(row: dict) -> dict:
    """The nmc.analyze keywords a GPU inference row describes."""
    w = (row.get("weights") or "bf16").lower()
    a = (row.get("activations") or ("bf16" if w in ("int8", "int4") else w)).lower()
    if a in ("int4",):
        a = "bf16"
    kv = (row.get("kv") or a).lower()
    tp = row.get("tp") or row.get("devices") or 1
    for c in ("batch", "prompt", "context", "output", "tp"):
        if isinstance(row.get(c), str):
            raise Skip(f"{c} = {row[c]!r} is not a number")
    return dict(batch=row.get("batch") or 1, tp=tp, weights=w, activations=a, kv=kv,
                runtime=row.get("runtime") or "graphs", dequant=row.get("dequant") or "fused")


@predictor("gpu-decode", "gpu-prefill", "gpu-serving")
def predict_gpu(row: dict, arch=None) -> float:
    arch = arch or row.get("arch")
    if not arch:
        raise Skip(f"no preset for system {row.get('system')!r}")
    model = row.get("model")
    kw = scenario_of(row)
    phase, metric = row.get("phase"), row.get("metric")
    prompt, out, ctx = row.get("prompt"), row.get("output"), row.get("context")
    b = kw["batch"]
    if row["group"] == "gpu-serving" and not row.get("batch"):
        raise Skip("batch not stated (chosen by the serving runtime under load); "
                   "nmc evaluates a given batch")
    per_device = "per gpu" in (row.get("unit") or "").lower()
    try:
        if metric == "ttft_ms":
            if not prompt:
                raise Skip("ttft without a prompt length")
            return analyze(model, arch, phase="prefill", prompt=prompt, **kw).latency_s * 1e3
        if phase == "prefill" and metric in ("tokens_per_s", "throughput_tokens_per_s"):
            if not prompt:
                raise Skip("prefill without a prompt length")
            return analyze(model, arch, phase="prefill", prompt=prompt, **kw).tokens_per_s
        if phase == "prefill" and metric == "latency_ms":
            return analyze(model, arch, phase="prefill", prompt=prompt, **kw).latency_s * 1e3
        if metric in ("tokens_per_s", "ms_per_token", "throughput_tokens_per_s", "latency_ms"):
            if prompt and out:
                r = analyze(model, arch, phase="generate", prompt=prompt, generate=out, **kw)
                if metric == "ms_per_token":
                    tpot = r.results["tpot_s"]
                    return (tpot if tpot is not None else r.latency_s) * 1e3
                if metric == "latency_ms":
                    return r.latency_s * 1e3
                per_seq = r.tokens_per_s / b
            else:
                r = analyze(model, arch, phase="decode", context=ctx or prompt or 0, **kw)
                if metric == "ms_per_token":
                    return r.latency_s * 1e3
                if metric == "latency_ms":
                    return r.latency_s * 1e3
                per_seq = r.tokens_per_s / b
            if metric == "throughput_tokens_per_s":
                return per_seq * b / (kw["tp"] if per_device else 1)
            return per_seq
    except NmcError as e:
        raise Skip(str(e)) from None
    raise Skip(f"metric {metric!r} in phase {phase!r} is not predicted")
