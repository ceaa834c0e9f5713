"""A published serving measurement (a models/measurements row, nmc/validation/measurements.py)
as a nmc.serve call: the hook the gpu-serving validation group predicts through.

measurement_kwargs(row) reads only the columns that describe the load and the server, never
`notes` or `source`:
  concurrency     -> a closed loop of that many users
  request_rate    -> Poisson arrivals at that rate (inf: every request at time 0)
  neither         -> `batch` requests at time 0 with max_batch = batch under static batching
                     (a fixed batch: what nmc.analyze(phase="generate") prices)
  requests        -> how many requests the run serves (default: 8 x concurrency, at least 200;
                     5000 at a finite rate; `batch` when neither is stated)
  dataset         -> a bundled trace or a trace CSV: prompt and output lengths drawn from it,
                     except a length the row states in `prompt` / `output`, which is kept
                     (MLPerf's OpenOrca prompts with the generated output length of the log);
                     any other dataset needs `prompt` and `output` (fixed lengths)
  framework       -> scheduler, runtime mode and the server's default batch limits, from the
                     FRAMEWORKS table below (docs/serving.md, "Validation")
  runtime         -> eager / graphs / fused (empty: the framework's)
  batch           -> on a load benchmark: the server's maximum batch (max_num_seqs,
                     gpu_batch_size), instead of the framework default
  tp, pp, ep, dp  -> tp, pp, ep and replicas; weights / activations / kv -> dtypes (empty
                     activations: the weight type if it is a float type, else bf16; empty kv:
                     the activation type)
METRICS maps a row's metric to the ServeReport.to_dict() field it is compared with."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import ScenarioError
from ..workload.serving import list_traces
from .api import SCHEDULER_CHOICES, serve

METRICS = {"throughput_tokens_per_s": "throughput_tokens_per_s", "ttft_ms": "ttft_mean_s",
           "ttft_s": "ttft_mean_s", "ms_per_token": "tpot_mean_s", "tpot_ms": "tpot_mean_s",
           "requests_per_s": "requests_per_s"}


@dataclass(frozen=True)
class Framework:
    """How a serving framework runs a load benchmark, as nmc.serve parameters. max_batch /
    max_tokens: the framework's default limits (None: the simulator's scheduler default;
    "trtllm-bench": trtllm_bench_settings)."""
    pattern: str            # regular expression on the lower-case `framework` column
    name: str
    scheduler: str
    runtime: str
    max_batch: int | str | None
    max_tokens: int | str | None
    source: str
    admission: str = "greedy"


# First match wins. docs/serving.md ("Validation") prints this table.
FRAMEWORKS = (
    Framework(r"trtllm-bench", "TensorRT-LLM trtllm-bench (PyTorch backend, v0.19+)",
              "chunked", "graphs", "trtllm-bench", "trtllm-bench",
              "in-flight batching: context and generation requests share one batch within "
              "max_num_tokens (chunked prefill off, every prompt fits: max_num_tokens >= max ISL "
              "+ max batch); max batch and tokens from trtllm-bench's heuristic "
              "(tensorrt_llm/bench/build/tuning.py calc_engine_setting, "
              "bench/benchmark/utils/general.py get_settings); KV reserved for the whole "
              "request at admission (capacity scheduler GUARANTEED_NO_EVICT, the default); "
              "CUDA graphs (perf-overview.md v1.0)", "reserve"),
    Framework(r"gptsessionbenchmark|static batching", "TensorRT-LLM gptSessionBenchmark",
              "static", "fused", None, None,
              "static batching of a fixed batch (TensorRT-LLM v0.9 performance.md)"),
    Framework(r"tensorrt-llm|trt-llm|trtllm", "TensorRT-LLM (engine, in-flight batching)",
              "chunked", "fused", None, 8192,
              "in-flight batching mixes context and generation requests; max_num_tokens "
              "default 8192 (TensorRT-LLM BuildConfig); KV reserved at admission "
              "(GUARANTEED_NO_EVICT); fused kernels (docs/model.md)", "reserve"),
    Framework(r"sglang", "SGLang", "continuous", "graphs", 4096, 8192,
              "prefill batches run apart from decode batches (mixed chunks off by default); "
              "chunked_prefill_size 8192 on GPUs with >= 25 GB (python/sglang/srt/"
              "server_args.py, 2025); max_running_requests follows the KV pool (here: the KV "
              "blocks limit, max batch 4096); CUDA graphs"),
    Framework(r"vllm[^0-9]*(0\.[89]|0\.[1-9][0-9]|[1-9]\.)", "vLLM V1 (0.8+)", "chunked",
              "graphs", 256, 2048,
              "V1 engine: chunked prefill always on, decodes first, then prompt chunks; "
              "max_num_seqs 256; token budget 2048 (the chunked scheduler's default); "
              "CUDA graphs"),
    Framework(r"vllm", "vLLM V0 (before 0.8, or version not stated)", "continuous", "graphs",
              256, "max_model_len",
              "V0 scheduler: a prefill iteration pauses the decodes; max_num_seqs 256; "
              "max_num_batched_tokens = max(max_model_len, 2048) without chunked prefill; "
              "CUDA graphs"),
    Framework(r"tgi|text-generation-inference", "Text Generation Inference", "continuous",
              "graphs", None, None, "continuous batching; CUDA graphs"),
)
DEFAULT_FRAMEWORK = Framework("", "not stated", "continuous", "graphs", None, None,
                              "the simulator's defaults (docs/serving.md)")


def _get(row, key):
    v = row.get(key)
    return None if v in (None, "") else v


def framework_of(row) -> Framework:
    """The FRAMEWORKS entry of a row's `framework` column (DEFAULT_FRAMEWORK if none)."""
    text = str(_get(row, "framework") or "").lower()
    for fw in FRAMEWORKS:
        if text and re.search(fw.pattern, text):
            return fw
    return DEFAULT_FRAMEWORK


def scheduler_of(row) -> str:
    """The scheduler: `runtime` if it names one (static, continuous, chunked,
    disaggregated), else the framework's (FRAMEWORKS)."""
    rt = (_get(row, "runtime") or "").strip().lower()
    if rt in SCHEDULER_CHOICES:
        return rt
    return framework_of(row).scheduler


def _bytes(dtype: str) -> float:
    return {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}[dtype]


def trtllm_bench_settings(spec, arch, tp: int, pp: int, isl: float, osl: float,
                          weights: str, kv: str, mem_fraction: float = 0.90) -> tuple[int, int]:
    """(max_batch_size, max_num_tokens) that trtllm-bench throughput picks when neither is
    given (TensorRT-LLM tensorrt_llm/bench/build/tuning.py calc_engine_setting and
    finetune_setting; bench/benchmark/utils/general.py get_settings): KV bytes per token
    2 x layers x max(tp, kv heads) x head size x kv bytes; the weights' bytes (param count x
    bytes per element); KV capacity = (device memory x GPUs - weights) x the free-memory
    fraction (--kv_cache_free_gpu_mem_fraction, default 0.90) over the ISL + OSL of a request;
    then the function's rounding rules; with chunked prefill off the token budget is raised to
    max ISL + max batch. Memory counted in GiB as the tool does."""
    gib = 1024.0 ** 3
    if spec.kv_shared:                          # MLA: one latent cache per token and layer
        per_layer = spec.kv_elems
    else:                                       # K and V, each head replicated up to tp
        per_layer = 2 * max(tp, spec.n_kv_heads) * spec.kv_elems / (2 * spec.n_kv_heads)
    per_token = spec.n_layers * per_layer * _bytes(kv) / gib
    engine = spec.params() * _bytes(weights) / gib
    available = arch["mem_capacity"] / gib * tp * pp - engine
    if available <= 0:
        raise ScenarioError(f"{spec.name} does not fit {tp * pp} x {arch.name} (trtllm-bench)")
    max_requests = available * mem_fraction / (per_token * (isl + osl))
    raw_bs = min(max_requests, 4096) / pp
    raw_token = min(raw_bs * (1 + isl / osl), 32768)
    if raw_bs < 256:
        max_bs = max(64, 32 * math.ceil(raw_bs / 32))
    elif raw_bs < 1024:
        max_bs = 128 * math.ceil(raw_bs / 128)
    else:
        max_bs = 256 * math.ceil(raw_bs / 256)
    if raw_token < 4096:
        max_tok = max(2048, 256 * math.ceil(raw_token / 256))
    elif raw_token < 8192:
        max_tok = 512 * math.ceil(raw_token / 512)
    else:
        max_tok = 1024 * math.ceil(raw_token / 1024)
    return int(max_bs), int(max(max_tok, isl + max_bs))


def _dtypes(row) -> dict:
    w = (_get(row, "weights") or "bf16").lower()
    a = (_get(row, "activations") or (w if w in ("fp32", "bf16", "fp16", "fp8") else "bf16"))
    a = a.lower()
    return {"weights": w, "activations": a, "kv": (_get(row, "kv") or a).lower()}


def measurement_kwargs(row: dict, n_requests: int | None = None) -> dict:
    """Keyword arguments of nmc.serve(model, arch, **kw) for a measurement row (module doc);
    model and arch are included."""
    rid = row.get("id", "row")
    if not _get(row, "model") or not _get(row, "arch"):
        raise ScenarioError(f"{rid}: a serving prediction needs model and arch")
    fw = framework_of(row)
    rt = (_get(row, "runtime") or "").strip().lower()
    kw = {"model": row["model"], "arch": row["arch"], "scheduler": scheduler_of(row),
          "runtime": rt if rt in ("eager", "graphs", "fused") else fw.runtime,
          "tp": int(_get(row, "tp") or 1), "pp": int(_get(row, "pp") or 1),
          "ep": int(_get(row, "ep") or 1), "replicas": int(_get(row, "dp") or 1),
          "admission": fw.admission}
    kw.update(_dtypes(row))
    if _get(row, "dequant"):
        kw["dequant"] = row["dequant"]
    ds = _get(row, "dataset")
    is_trace = bool(ds) and (ds in list_traces() or str(ds).endswith(".csv"))
    for k in ("prompt", "output"):
        v = _get(row, k)
        if v is not None:
            kw[k] = int(v)
        elif is_trace:
            kw[k] = f"trace:{ds}"
        else:
            raise ScenarioError(f"{rid}: needs prompt and output lengths or a dataset that is a "
                                f"trace (bundled: {', '.join(list_traces())}); dataset = {ds!r}")
    conc = _get(row, "concurrency")
    rate = _get(row, "request_rate")
    load = conc is not None or rate is not None
    if conc is not None:
        kw["concurrency"] = int(conc)
        kw["n_requests"] = n_requests or max(8 * int(conc), 200)
        if rate is not None and not math.isinf(float(rate)):
            raise ScenarioError(f"{rid}: a closed loop (concurrency) with a finite request_rate "
                                f"is not simulated")
    elif rate is not None:
        kw["rate"] = float(rate)
        kw["n_requests"] = n_requests or (max(5000, int(600 * float(rate))) if math.isfinite(
            float(rate)) else 1000)
    else:
        b = int(_get(row, "batch") or 1)
        kw["rate"] = math.inf
        kw["n_requests"] = n_requests or b
        kw["max_batch"] = b
        kw["scheduler"] = "static"
    if load:
        if _get(row, "batch"):
            kw["max_batch"] = int(row["batch"])
        elif isinstance(fw.max_batch, int):
            kw["max_batch"] = fw.max_batch
        if isinstance(fw.max_tokens, int):
            kw["max_tokens"] = fw.max_tokens
        if fw.max_tokens == "max_model_len" or fw.max_batch == "trtllm-bench":
            from ..arch.loader import load_arch
            from ..workload.model import load_model
            spec = load_model(kw["model"])
            if fw.max_tokens == "max_model_len":
                kw["max_tokens"] = max(spec.max_positions, 2048)
            else:
                if not isinstance(kw["prompt"], int) or not isinstance(kw["output"], int):
                    raise ScenarioError(f"{rid}: trtllm-bench's batch heuristic needs fixed "
                                        f"prompt and output lengths")
                mb, mt = trtllm_bench_settings(spec, load_arch(kw["arch"]), kw["tp"], kw["pp"],
                                               kw["prompt"], kw["output"], kw["weights"],
                                               kw["kv"])
                if not _get(row, "batch"):
                    kw["max_batch"] = mb
                kw["max_tokens"] = max(mt, kw["prompt"] + kw["max_batch"])
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
