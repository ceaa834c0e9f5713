"""Cost of ONE GPU kernel (a GEMM, or the attention of one decode step) on a host architecture.

Used to compare nmc with kernel micro-benchmarks (experiments/measure/measure_gpu.py, validation
group `gpu-kernel`). Nothing here re-implements the roofline: the operator rows are built by the
same numba code as a model's forward pass (nmc/engine/ops.py: `_gemm_row` for a GEMM, `build_ops` of a
one-layer model for attention) and costed by the same `cost_ops` path (gpu_shape x gpu_rates),
with the mapping forced to host-only. So a GEMM inside nmc.analyze and the same GEMM here cost the same.

Times are per kernel instance and include `kernel_overhead` (one launch per kernel: the fused
attention kernel counts one launch for score + softmax + context, as in a model's decode step)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..arch.loader import Architecture, load_arch
from ..engine.layout import (
    ACC_COMM, ACC_COMPUTE, ACC_DRAM, ACC_FLOPS, ACC_LAT, ACC_MEM, BOUND_NAMES, N_ACC, N_OF,
    N_SLOTS, N_TERMS, O_COUNT, O_KERNELS, OP_CONTEXT, OP_QKV, OP_SCORE, OP_SOFTMAX, S_ADT, S_KVDT, S_RUNTIME, S_WDT, T_COMPUTE, T_MEM,
)
from ..engine.ops import _gemm_row, build_ops
from ..engine.passes import cost_ops
from ..engine.vectors import model_vector, scenario_vector
from ..errors import ConfigError, ScenarioError
from ..workload.model import from_config
from ..workload.scenario import DTYPES, Scenario, dtype_code


class KernelCost(NamedTuple):
    time_s: float          # per instance, including the launch overhead
    bound: str             # compute / memory / latency
    t_compute_s: float     # compute time of every row, bound or not
    t_memory_s: float      # memory time of every row, bound or not
    t_latency_s: float
    flops: float
    dram_bytes: float

    @property
    def tflops(self) -> float:
        """Attained TFLOP/s (flops / time)."""
        return self.flops / self.time_s / 1e12


def _host_arch(arch) -> np.ndarray:
    a = arch if isinstance(arch, Architecture) else load_arch(arch)
    if a.family == "aimc":
        raise ConfigError(f"{a.name}: family 'aimc' has no GPU host; kernel costs need a gpu or "
                          f"pim preset (the host of a PIM system is costed)")
    return a.vector()


def _dim(name: str, v, minimum: int = 1) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer)) or v != int(v) or v < minimum:
        raise ScenarioError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return float(v)


def _cost(ops: np.ndarray, av: np.ndarray, scenario: Scenario) -> KernelCost:
    s = scenario_vector(scenario.with_(mapping="host-only"))
    terms = np.empty((N_SLOTS, N_TERMS))
    acc = np.zeros(N_ACC)
    t = cost_ops(ops, av, s, terms, acc)
    shares = (acc[ACC_COMPUTE], acc[ACC_MEM], acc[ACC_LAT], acc[ACC_COMM])
    best = max(range(4), key=lambda k: (shares[k], -k))     # first maximum, as R_BOUND
    n = ops[:, O_COUNT]
    # raw compute and memory times summed over the rows (both, not only the binding one)
    return KernelCost(float(t), BOUND_NAMES[best], float(n @ terms[:, T_COMPUTE]),
                      float(n @ terms[:, T_MEM]), float(acc[ACC_LAT]), float(acc[ACC_FLOPS]),
                      float(acc[ACC_DRAM]))


def gemm_time(arch, M: int, N: int, K: int, dtype: str = "bf16",
              weights_dtype: str | None = None, runtime: str = "eager") -> KernelCost:
    """One (M x K) @ (K x N) product: M activation rows (tokens), a K x N weight matrix.
    `dtype` is the activation/compute type, `weights_dtype` the weight storage type (default:
    dtype), as the `activations` and `weights` of nmc.analyze. `runtime`: eager (default) is one
    call launched from the host, as a micro-benchmark times it; graphs/fused as in a model step."""
    av = _host_arch(arch)
    M, N, K = _dim("M", M), _dim("N", N), _dim("K", K)
    wdt = weights_dtype or dtype
    adt_code = dtype_code(dtype, "dtype")
    dtype_code(wdt, "weights_dtype")
    wb, ab = DTYPES[wdt.lower()][1], DTYPES[dtype.lower()][1]
    sc = Scenario(phase="decode", batch=1, weights=wdt, activations=dtype, kv=dtype,
                  runtime=runtime)
    ops = np.zeros((N_SLOTS, N_OF))
    _gemm_row(ops[OP_QKV], 1.0, M, N, K, 1.0, wb, ab, float(adt_code), 1.0)
    return _cost(ops, av, sc)


def attention_decode_time(arch, batch: int, heads: int, kv_heads: int, head_dim: int,
                          context: int, dtype: str = "bf16", kv_dtype: str | None = None,
                          runtime: str = "eager") -> KernelCost:
    """Attention of one decode step: `batch` sequences, one query token each, attending to
    `context` key/value positions (the KV length, the new token included), `heads` query heads
    sharing `kv_heads` KV heads of size `head_dim` (score + softmax + context, one fused kernel;
    the KV read dominates). This is the attention of nmc.analyze(phase="decode", context=C) with
    C = context - 1 tokens already cached; like it, it includes appending the new token's K/V."""
    av = _host_arch(arch)
    b = _dim("batch", batch)
    h, hkv, hd = int(_dim("heads", heads)), int(_dim("kv_heads", kv_heads)), int(_dim("head_dim", head_dim))
    ctx = _dim("context", context)
    if h % hkv:
        raise ScenarioError(f"heads ({h}) must be a multiple of kv_heads ({hkv})")
    kvd = kv_dtype or dtype
    sc = Scenario(phase="decode", batch=int(b), context=int(ctx) - 1, activations=dtype, kv=kvd,
                  runtime=runtime)
    # a one-layer model with these attention shapes; only its attention rows are kept
    spec = from_config({"model_type": "llama", "hidden_size": h * hd, "num_hidden_layers": 1,
                        "num_attention_heads": h, "num_key_value_heads": hkv, "head_dim": hd,
                        "vocab_size": 1, "intermediate_size": 1}, name="attention",
                       where="attention_decode_time")
    s = scenario_vector(sc)
    ops = np.empty((N_SLOTS, N_OF))
    build_ops(model_vector(spec), b, 1.0, ctx - 1.0, 1.0, s[S_WDT], s[S_ADT], s[S_KVDT],
              s[S_RUNTIME], ops)
    if runtime == "eager":
        ops[OP_SCORE, O_KERNELS] = 1.0  # one benchmarked call: attention with the append fused in
    keep = (OP_SCORE, OP_SOFTMAX, OP_CONTEXT)
    for i in range(N_SLOTS):
        if i not in keep:
            ops[i, O_COUNT] = 0.0
    return _cost(ops, av, sc)
