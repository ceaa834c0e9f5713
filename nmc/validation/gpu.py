"""Predictor of the GPU inference groups (gpu-decode, gpu-prefill, gpu-serving), driven by the
row's columns only (models/measurements/README.md), never by its source, unit or notes:

- fixed-batch rows (gpu-decode, gpu-prefill, and gpu-serving rows that state a `batch` but no
  load) -> the scenario they describe, evaluated with nmc.analyze: `batch`, `prompt`, `context`,
  `output`, `tp`, the dtypes (`weights`, `activations`, `kv`), `runtime` (eager / graphs /
  fused; empty: graphs) and `dequant` (torch / fused; empty: fused).
- load benchmarks (gpu-serving rows that state a `concurrency` or a `request_rate`) -> the
  serving simulator (nmc.serve through nmc.serving.rows): `concurrency` (closed loop),
  `request_rate` (Poisson; inf = all at once), `requests` (how many), `prompt`/`output` or a
  bundled trace in `dataset`, `tp`, `pp`, `ep`, `dp`, dtypes, `batch` (the server's maximum
  batch), and scheduler, runtime mode and batch limits from `framework`
  (nmc.serving.rows.FRAMEWORKS).

A row the model cannot express is skipped with the reason (registry.Skip): no preset, no batch
and no load, pipeline or expert parallelism on the fixed-batch path, a metric not predicted,
a load benchmark whose lengths or parallel layout are not stated."""
from __future__ import annotations

from ..analysis.inference import analyze
from ..errors import NmcError
from ..serving.api import serve
from ..serving.rows import measurement_kwargs
from .registry import Skip, predictor

# metrics of the fixed-batch path (phase generate/decode/prefill) and of the serving path
SERVE_FIELDS = {"throughput_tokens_per_s": "throughput_tokens_per_s",
                "throughput_tokens_per_s_per_gpu": "throughput_tokens_per_s",
                "requests_per_s": "requests_per_s",
                "ttft_ms": "ttft_mean_s", "ms_per_token": "tpot_mean_s"}


def scenario_of(row: dict) -> dict:
    """The nmc.analyze keywords a GPU inference row describes."""
    w = (row.get("weights") or "bf16").lower()
    a = (row.get("activations") or ("bf16" if w in ("int8", "int4") else w)).lower()
    if a in ("int4",):
        a = "bf16"
    kv = (row.get("kv") or a).lower()
    for c in ("batch", "prompt", "context", "output", "tp", "pp", "ep"):
        if isinstance(row.get(c), str):
            raise Skip(f"{c} = {row[c]!r} is not a number")
    tp = row.get("tp") or row.get("devices") or 1
    return dict(batch=row.get("batch") or 1, tp=tp, weights=w, activations=a, kv=kv,
                runtime=row.get("runtime") or "graphs", dequant=row.get("dequant") or "fused")


def is_load_benchmark(row: dict) -> bool:
    """A serving row measured under a stated load: a concurrency or a request rate."""
    return row.get("concurrency") is not None or row.get("request_rate") is not None


@predictor("gpu-decode", "gpu-prefill", "gpu-serving")
def predict_gpu(row: dict, arch=None) -> float:
    arch = arch or row.get("arch")
    if not arch:
        raise Skip(f"no preset for system {row.get('system')!r}")
    if row["group"] == "gpu-serving":
        if is_load_benchmark(row):
            return predict_serving(row, arch)
        if not row.get("batch"):
            raise Skip("no load stated (no concurrency, request_rate or batch): the batch was "
                       "chosen by the serving runtime under a load the row does not give")
    elif not row.get("batch"):
        raise Skip("batch not stated ('up to' figures are not maximised over batches)")
    return predict_fixed_batch(row, arch)


def predict_fixed_batch(row: dict, arch) -> float:
    """A fixed batch: one nmc.analyze call for the phase and metric of the row."""
    model = row.get("model")
    kw = scenario_of(row)
    for c, what in (("pp", "pipeline"), ("ep", "expert")):
        if (row.get(c) or 1) > 1:
            raise Skip(f"{what} parallelism ({c} = {row[c]}) is not modelled by nmc.analyze "
                       f"for a fixed batch")
    phase, metric = row.get("phase"), row.get("metric")
    prompt, out, ctx = row.get("prompt"), row.get("output"), row.get("context")
    b = kw["batch"]
    n_dev = kw["tp"]
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
        if metric in ("tokens_per_s", "ms_per_token", "throughput_tokens_per_s", "latency_ms",
                      "throughput_tokens_per_s_per_gpu", "total_throughput_tokens_per_s"):
            if prompt and out:
                r = analyze(model, arch, phase="generate", prompt=prompt, generate=out, **kw)
                if metric == "ms_per_token":
                    tpot = r.results["tpot_s"]
                    return (tpot if tpot is not None else r.latency_s) * 1e3
                if metric == "latency_ms":
                    return r.latency_s * 1e3
                if metric == "total_throughput_tokens_per_s":
                    return (prompt + out) * b / r.latency_s
                per_seq = r.tokens_per_s / b
            else:
                if metric == "total_throughput_tokens_per_s":
                    raise Skip("total (prompt + output) throughput needs prompt and output")
                r = analyze(model, arch, phase="decode", context=ctx or prompt or 0, **kw)
                if metric in ("ms_per_token", "latency_ms"):
                    return r.latency_s * 1e3
                per_seq = r.tokens_per_s / b
            if metric == "throughput_tokens_per_s":
                return per_seq * b
            if metric == "throughput_tokens_per_s_per_gpu":
                return per_seq * b / n_dev
            return per_seq
    except NmcError as e:
        raise Skip(str(e)) from None
    raise Skip(f"metric {metric!r} in phase {phase!r} is not predicted")


def predict_serving(row: dict, arch) -> float:
    """A load benchmark through the serving simulator (nmc.serving.rows): scheduler, runtime
    mode and batch limits from the `runtime` and `framework` columns (FRAMEWORKS), never from
    notes; `requests` sets how many requests the run serves."""
    metric = row.get("metric")
    if metric not in SERVE_FIELDS and metric != "total_throughput_tokens_per_s":
        raise Skip(f"metric {metric!r} of a load benchmark is not predicted")
    layout = 1
    for c in ("tp", "pp", "dp", "ep"):
        if isinstance(row.get(c), str):
            raise Skip(f"{c} = {row[c]!r} is not a number")
        layout *= row.get(c) or 1
    if row.get("devices") and layout != row["devices"]:
        raise Skip(f"the parallel layout of the {row['devices']} devices is not stated "
                   f"(tp x pp x dp x ep = {layout})")
    cols = {k: row.get(k) for k in row if k not in ("notes", "source", "quote", "unit")}
    cols["arch"] = arch
    try:
        kw = measurement_kwargs(cols, n_requests=row.get("requests"))
        model, a = kw.pop("model"), kw.pop("arch")
        d = serve(model, a, **kw).to_dict()
    except NmcError as e:
        raise Skip(str(e)) from None
    if metric == "total_throughput_tokens_per_s":
        return d["throughput_tokens_per_s"] + d["input_tokens_per_s"]
    v = d[SERVE_FIELDS[metric]]
    if v is None:
        raise Skip(f"the simulation gives no {SERVE_FIELDS[metric]}")
    if metric in ("ttft_ms", "ms_per_token"):
        return v * 1e3
    if metric == "throughput_tokens_per_s_per_gpu":
        return v / d["devices"]
    return v
