"""Runtime modes, weight-only de-quantization and multi-node tensor parallelism
(docs/model.md: "Latency and runtime modes", "Weight-only quantization", "Communication")."""
import pytest

import nmc
from nmc.errors import ScenarioError


def _kernels_per_layer(r, n_layers):
    per = {o["name"]: o for o in r.ops}
    inside = [o for o in r.ops if o["name"] not in ("embed", "final_norm", "lm_head", "dequantize")]
    return sum(o["count"] * _k(o) for o in inside) / n_layers, per


def _k(o):
    # kernels per instance = latency / per-kernel cost; toy arch: 1 us per kernel
    return round(o["t_latency_s"] / 1e-6, 9)


@pytest.mark.parametrize("runtime,expected", [("eager", 36), ("graphs", 10), ("fused", 7)])
def test_kernels_per_layer_by_mode(toy_arch, runtime, expected):
    spec = nmc.load_model("llama-2-7b")
    r = nmc.analyze(spec, toy_arch, phase="decode", batch=1, context=100, runtime=runtime)
    n, per = _kernels_per_layer(r, spec.n_layers)
    assert n == expected
    assert ("rope" in per) == (runtime != "fused")


@pytest.mark.parametrize("runtime,expected", [("eager", 36 + 14), ("graphs", 10 + 2),
                                              ("fused", 7 + 1)])
def test_qk_norm_kernels_by_mode(toy_arch, runtime, expected):
    # Qwen3: q_norm and k_norm over every head before RoPE; two kernels with graphs (vLLM,
    # SGLang), 2 x 7 eager, one fused norm + RoPE kernel in TensorRT-LLM (docs/model.md)
    spec = nmc.load_model("qwen3-8b")
    assert spec.qk_norm and not nmc.load_model("llama-3-8b").qk_norm
    r = nmc.analyze(spec, toy_arch, phase="decode", batch=3, context=100, runtime=runtime)
    n, per = _kernels_per_layer(r, spec.n_layers)
    assert n == expected
    rope = per["rope"]
    qk = 3 * (spec.n_heads + spec.n_kv_heads) * spec.d_qk      # q and k elements of the pass
    rot = qk if runtime != "fused" else 0                       # fused: RoPE inside that kernel
    assert rope["count"] == spec.n_layers                      # per layer instance:
    assert rope["flops"] == pytest.approx(3.0 * qk + 5.0 * qk)
    # bf16: each element read and written once per pass over it; the two head_dim weights
    assert rope["dram_bytes"] == pytest.approx(2 * 2 * (rot + qk) + 2 * 2 * spec.d_qk)


def test_modes_order_at_batch_one():
    times = [nmc.analyze("llama-3-8b", "h100-sxm", phase="decode", runtime=m).latency_s
             for m in ("eager", "graphs", "fused")]
    assert times[0] > times[1] > times[2]


def test_eager_pays_the_slower_of_device_and_host(toy_arch):
    a = nmc.load_arch(toy_arch)
    fast_host = nmc.analyze("llama-2-7b", a.with_(launch_overhead="0.5 us"), runtime="eager")
    slow_host = nmc.analyze("llama-2-7b", a.with_(launch_overhead="3 us"), runtime="eager")
    graphs = nmc.analyze("llama-2-7b", a.with_(launch_overhead="3 us"), runtime="graphs")
    n_kernels = sum(o["count"] * _k(o) for o in fast_host.ops)          # 1 us each
    assert slow_host.results["t_latency_s"] == pytest.approx(3 * n_kernels * 1e-6)
    assert fast_host.results["t_latency_s"] == pytest.approx(n_kernels * 1e-6)
    assert graphs.results["t_latency_s"] < fast_host.results["t_latency_s"]


def test_dequant_row_by_hand(toy_arch):
    spec = nmc.load_model("llama-2-7b")
    r = nmc.analyze(spec, toy_arch, phase="decode", batch=1, context=10, weights="int4",
                    dequant="torch")
    dq = {o["name"]: o for o in r.ops}["dequantize"]
    gemm_weights = sum(o["count"] * o["weight_bytes"] / 0.5 for o in r.ops
                       if o["kind"] == "gemm")
    assert dq["flops"] == pytest.approx(3.2 * gemm_weights)
    assert dq["t_compute_s"] == pytest.approx(dq["flops"] / 10e12)     # peak_fp32, eff 1
    assert dq["dram_bytes"] == 0 and dq["t_latency_s"] == 0
    fused = nmc.analyze(spec, toy_arch, phase="decode", batch=1, context=10, weights="int4")
    assert "dequantize" not in {o["name"] for o in fused.ops}
    assert r.latency_s == pytest.approx(fused.latency_s + dq["t_compute_s"])


def test_lower_weight_precision_is_never_slower_at_batch_one():
    for dq in ("fused", "torch"):
        t = [nmc.analyze("llama-3-8b", "a100-80g-sxm", phase="decode", weights=w,
                         dequant=dq).latency_s for w in ("int4", "int8", "bf16")]
        assert t[0] <= t[1] <= t[2], dq


def test_bad_dequant_and_runtime():
    with pytest.raises(ScenarioError, match="dequant must be one of fused, torch"):
        nmc.analyze("llama-3-8b", "h100-sxm", dequant="marlin2")
    with pytest.raises(ScenarioError, match="runtime must be one of eager, graphs, fused"):
        nmc.analyze("llama-3-8b", "h100-sxm", runtime="compiled")


def test_tensor_parallel_across_nodes():
    one = nmc.analyze("llama-3-70b", "h100-sxm", phase="decode", batch=8, tp=8)
    two = nmc.analyze("llama-3-70b", "h100-sxm", phase="decode", batch=8, tp=16)
    assert any("span 2 nodes" in w for w in two.warnings)
    ar8 = {o["name"]: o for o in one.ops}["tp_allreduce"]["t_comm_s"]
    ar16 = {o["name"]: o for o in two.ops}["tp_allreduce"]["t_comm_s"]
    assert ar16 > ar8                      # the network is slower than NVLink
    with pytest.raises(ScenarioError, match="no scale-out network"):
        nmc.analyze("llama-3-70b", "h100-sxm", tp=16, net_bw=0.0)


def test_expert_parallelism_by_hand(toy_arch):
    """ep groups of data-parallel attention: each group runs batch / ep sequences, holds
    n_experts / ep experts, and every MoE layer adds a dispatch and a combine all-to-all of
    (local tokens x top_k x d_model) bytes."""
    spec = nmc.load_model("mixtral-8x7b")
    one = nmc.analyze(spec, toy_arch, phase="decode", batch=8, context=100)
    r = nmc.analyze(spec, toy_arch, phase="decode", batch=8, context=100, ep=4)
    o = {x["name"]: x for x in r.ops}
    a2a = o["ep_all_to_all"]
    local = 8 / 4
    assert a2a["count"] == 2 * spec.n_moe_layers
    assert a2a["comm_bytes"] == local * spec.top_k * spec.d_model * 2
    # toy link: 100 GB/s x 0.8, 1 us per step; all-to-all inside one node: (p-1)/p S / bw + (p-1) lat
    S = a2a["comm_bytes"]
    assert a2a["t_comm_s"] == pytest.approx(max(3 / 4 * S / 80e9 + 3e-6, 2 * S / 1e12))
    assert {x["name"]: x for x in r.ops}["attn_score"]["flops"] == pytest.approx(
        {x["name"]: x for x in one.ops}["attn_score"]["flops"] / 4)
    # the experts are split: a quarter of the expert weights per device
    nup = 3
    experts = spec.n_moe_layers * spec.n_experts * nup * spec.d_model * spec.d_ff_expert * 2
    assert one.results["weight_bytes"] - r.results["weight_bytes"] == pytest.approx(
        experts * (1 - 1 / 4))
    assert r.tokens_per_s > one.tokens_per_s          # four devices serve the same batch


def test_expert_parallelism_errors():
    with pytest.raises(ScenarioError, match="needs a mixture-of-experts model"):
        nmc.analyze("llama-3-8b", "h100-sxm", ep=2)
    with pytest.raises(ScenarioError, match="must divide the 8 experts"):
        nmc.analyze("mixtral-8x7b", "h100-sxm", ep=3)


@pytest.mark.parametrize("config,norms", [("gpt-j-6b", 1), ("falcon-7b", 1), ("falcon-40b", 2),
                                          ("qwen3-8b", 2), ("gemma-2-2b", 4),
                                          ("gemma-3-1b-it", 4)])
def test_norms_per_layer(toy_arch, config, norms):
    # d-wide norms per layer: one when attention and MLP run in parallel from one norm, four
    # with Gemma-2/3's post-norms; each one kernel with graphs and T d read and written
    from pathlib import Path
    spec = nmc.load_model(str(Path(__file__).parent / "data" / "hf" / f"{config}.json"))
    assert spec.norms == norms
    r = nmc.analyze(spec, toy_arch, phase="decode", batch=2, context=64)
    per = {o["name"]: o for o in r.ops}
    n_norm = per["attn_norm"]["count"] + (per["mlp_norm"]["count"] if "mlp_norm" in per else 0)
    assert n_norm == norms * spec.n_layers
    assert ("mlp_norm" in per) == (norms > 1)
    if norms > 1:
        assert per["mlp_norm"]["dram_bytes"] == pytest.approx(per["attn_norm"]["dram_bytes"])
