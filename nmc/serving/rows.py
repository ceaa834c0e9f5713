"""A published serving measurement (a models/measurements row, nmc/validation/measurements.py)
as a nmc.serve call: the hook the gpu-serving validation group predicts through.

measurement_kwargs(row) reads the columns that describe the load and the server:
  concurrency     -> a closed loop of that many users
  request_rate    -> Poisson arrivals at that rate (inf: every request at time 0)
  neither         -> `batch` requests at time 0 with max_batch = batch (an offline batch run)
  dataset         -> a bundled trace or a trace CSV for the lengths; else prompt and output
  runtime         -> the scheduler if it names one (static, continuous, chunked,
                     disaggregated); else guessed from the framework (FRAMEWORK_SCHEDULERS)
  tp, pp, dp      -> tp, pp, replicas; weights / activations / kv -> dtypes (blank: bf16)
METRICS maps a row's metric to the ServeReport.to_dict() field it is compared with. The
choices here are defaults for the validation work to refine (docs/serving.md)."""
from __future__ import annotations

import math

from ..errors import ScenarioError
from ..workload.serving import list_traces
from .api import SCHEDULER_CHOICES, serve

# (substring of the framework / notes text, lower case) -> scheduler; first match wins
FRAMEWORK_SCHEDULERS = (
    ("static batching", "static"), ("gptsessionbenchmark", "static"),
    ("vllm", "continuous"), ("tensorrt-llm", "chunked"), ("trtllm", "chunked"),
    ("sglang", "chunked"), ("tgi", "continuous"),
)
METRICS = {"throughput_tokens_per_s": "throughput_tokens_per_s", "ttft_ms": "ttft_p50_s",
           "ttft_s": "ttft_p50_s", "ms_per_token": "tpot_p50_s", "tpot_ms": "tpot_p50_s",
           "requests_per_s": "requests_per_s"}


def _get(row, key):
    v = row.get(key)
    return None if v in (None, "") else v


def scheduler_of(row) -> str:
    rt = (_get(row, "runtime") or "").strip().lower()
    if rt in SCHEDULER_CHOICES:
        return rt
    text = " ".join(str(_get(row, k) or "") for k in ("framework", "runtime", "notes")).lower()
    for key, sched in FRAMEWORK_SCHEDULERS:
        if key in text:
            return sched
    return "continuous"


def measurement_kwargs(row: dict, n_requests: int | None = None) -> dict:
    """Keyword arguments of nmc.serve(model, arch, **kw) for a measurement row (module doc);
    model and arch are included."""
    if not _get(row, "model") or not _get(row, "arch"):
        raise ScenarioError(f"{row.get('id', 'row')}: a serving prediction needs model and arch")
    kw = {"model": row["model"], "arch": row["arch"], "scheduler": scheduler_of(row),
          "tp": int(_get(row, "tp") or 1), "pp": int(_get(row, "pp") or 1),
          "replicas": int(_get(row, "dp") or 1)}
    for k in ("weights", "activations", "kv"):
        kw[k] = _get(row, k) or ("bf16" if k != "kv" else (_get(row, "activations") or "bf16"))
    ds = _get(row, "dataset")
    if ds and (ds in list_traces() or str(ds).endswith(".csv")):
        kw["trace"] = ds
    else:
        if _get(row, "prompt") is None or _get(row, "output") is None:
            raise ScenarioError(f"{row.get('id', 'row')}: needs prompt and output lengths or a "
                                f"dataset that is a trace (bundled: {', '.join(list_traces())})")
        kw["prompt"] = int(row["prompt"])
        kw["output"] = int(row["output"])
    conc = _get(row, "concurrency")
    rate = _get(row, "request_rate")
    if conc is not None:
        kw["concurrency"] = int(conc)
        kw["n_requests"] = n_requests or max(8 * int(conc), 200)
    elif rate is not None:
        kw["rate"] = float(rate)
        kw["n_requests"] = n_requests or 1000
    else:
        b = int(_get(row, "batch") or 1)
        kw["rate"] = math.inf
        kw["n_requests"] = n_requests or b
        kw["max_batch"] = b
    if kw.get("scheduler") == "disaggregated":
        kw["scheduler"] = "continuous"          # a row does not say how the pools are split
    return kw


def serve_row(row: dict, n_requests: int | None = None, **overrides):
    """nmc.serve for a measurement row; returns (ServeReport, the to_dict field its metric
    is compared with, or None)."""
    kw = measurement_kwargs(row, n_requests)
    kw.update(overrides)
    model, arch = kw.pop("model"), kw.pop("arch")
    return serve(model, arch, **kw), METRICS.get(row.get("metric"))
