"""nmc.kernel_cost: one GEMM / one decode attention costed by the engine's host cost."""
import pytest

import nmc
from nmc.errors import ConfigError, ScenarioError
from nmc.kernel_cost import attention_decode_time, gemm_time

# toy-arch: 1 core, 1x1 tiles, mma_m 1, 1 TB/s, 100 TFLOPS bf16, 200 fp8, 10 fp32, 1 us launch,
# efficiencies 1, no SRAM level


def test_gemv_memory_bound(toy_arch):
    r = gemm_time(toy_arch, 1, 1000, 1000)
    # bytes: weights 1000*1000*2 + in 1000*2 + out 1000*2 = 2.004 MB at 1 TB/s, + 1 us launch
    assert r.dram_bytes == pytest.approx(2.004e6)
    assert r.t_memory_s == pytest.approx(2.004e-6)
    assert r.t_compute_s == pytest.approx(2e6 / 1e14)
    assert r.time_s == pytest.approx(3.004e-6)
    assert r.bound == "memory"


def test_square_gemm_compute_bound(toy_arch):
    r = gemm_time(toy_arch, 1000, 1000, 1000)
    # 2e9 FLOP at 100 TFLOPS = 20 us; 6 MB = 6 us hidden under it; + 1 us
    assert r.flops == pytest.approx(2e9)
    assert r.time_s == pytest.approx(21e-6)
    assert r.bound == "compute"
    assert r.tflops == pytest.approx(2e9 / 21e-6 / 1e12)


def test_gemm_dtypes(toy_arch):
    # fp8 compute: 200 TFLOPS and 1-byte operands
    r = gemm_time(toy_arch, 1000, 1000, 1000, dtype="fp8")
    assert r.time_s == pytest.approx(10e-6 + 1e-6)
    # int8 weights, bf16 activations: weight bytes halve, compute stays at bf16 peak
    r = gemm_time(toy_arch, 1, 1000, 1000, dtype="bf16", weights_dtype="int8")
    assert r.dram_bytes == pytest.approx(1e6 + 4000)
    assert r.time_s == pytest.approx(1.004e-6 + 1e-6)


def test_attention_decode_hand_derived(toy_arch):
    # b=1, 32 query heads on 8 KV heads of 128, KV length 1024 (1023 cached + the new token)
    r = attention_decode_time(toy_arch, 1, 32, 8, 128, 1024)
    kv_read = 2 * 1024 * 8 * 128 * 2          # keys and values, bf16
    kv_write = 2 * 8 * 128 * 2                # the new token's K and V
    q_in = o_out = 32 * 128 * 2
    assert r.dram_bytes == pytest.approx(kv_read + kv_write + q_in + o_out)
    # score + context 2 * (2*32*128*1024) FLOP on the matrix units; softmax 5*32*1024 at fp32
    assert r.flops == pytest.approx(4 * 32 * 128 * 1024 + 5 * 32 * 1024)
    softmax = 5 * 32 * 1024 / 10e12
    # memory-bound score/context rows, serial softmax, one launch for the fused kernel
    assert r.time_s == pytest.approx((kv_read + kv_write + q_in + o_out) / 1e12 + softmax + 1e-6)
    assert r.bound == "memory"
    # linear in the KV length once it dominates
    r2 = attention_decode_time(toy_arch, 1, 32, 8, 128, 2048)
    assert r2.dram_bytes - r.dram_bytes == pytest.approx(kv_read)


def test_attention_batch_and_kv_dtype(toy_arch):
    a = attention_decode_time(toy_arch, 1, 32, 8, 128, 4096)
    b = attention_decode_time(toy_arch, 8, 32, 8, 128, 4096)
    assert b.dram_bytes == pytest.approx(8 * a.dram_bytes)
    c = attention_decode_time(toy_arch, 1, 32, 8, 128, 4096, kv_dtype="fp8")
    assert c.dram_bytes < 0.51 * a.dram_bytes + 2 * 32 * 128 * 2


def test_gemm_matches_model_op_row(toy_arch, toy_llm):
    """The same GEMM inside a model's decode step and through the kernel API costs the same."""
    for arch in (toy_arch, "h100-sxm"):
        for b in (1, 8, 64):
            r = nmc.analyze("llama-3.2-1b", arch, phase="decode", batch=b, context=1023)
            ops = {o["name"]: o for o in r.ops}
            for name in ("qkv_proj", "o_proj", "mlp_up", "mlp_down", "lm_head"):
                o = ops[name]
                k = gemm_time(arch, int(o["M"]), int(o["N"]), int(o["K"]))
                assert k.time_s == pytest.approx(o["time_s"] / o["count"], rel=1e-12), (arch, b, name)
                assert k.bound == o["bound"]


def test_attention_matches_model_rows():
    for b, ctx in ((1, 1024), (8, 8192)):
        r = nmc.analyze("llama-3.2-1b", "h100-sxm", phase="decode", batch=b, context=ctx - 1)
        ops = {o["name"]: o for o in r.ops}
        per = sum(ops[n]["time_s"] / ops[n]["count"] for n in ("attn_score", "softmax", "attn_context"))
        k = attention_decode_time("h100-sxm", b, 32, 8, 64, ctx)
        assert k.time_s == pytest.approx(per, rel=1e-12)


def test_bad_input(toy_arch):
    with pytest.raises(ScenarioError, match="M must be an integer"):
        gemm_time(toy_arch, 0, 10, 10)
    with pytest.raises(ScenarioError, match="unknown dtype"):
        gemm_time(toy_arch, 1, 10, 10, dtype="fp12")
    with pytest.raises(ScenarioError, match="multiple of kv_heads"):
        attention_decode_time(toy_arch, 1, 32, 6, 128, 128)
    with pytest.raises(ConfigError, match="aimc"):
        gemm_time("neurram", 1, 10, 10)
