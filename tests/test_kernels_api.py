"""nmc.kernel_cost (one GEMM / one decode attention costed by the engine's host cost), the
gpu-kernel validation group, and experiments/measure/measure_gpu.py on CPU."""
import csv

import pytest

import nmc
from nmc.validation import measurements
from nmc.validation import runner as validate
from nmc.errors import ConfigError, ScenarioError
from nmc.analysis.kernel import attention_decode_time, gemm_time
from nmc.validation.kernel import parse_shape, predict_kernel
from nmc.validation.registry import Skip

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
            r = nmc.analyze("llama-3.2-1b", arch, phase="decode", batch=b, context=1023,
                            runtime="graphs")
            ops = {o["name"]: o for o in r.ops}
            for name in ("qkv_proj", "o_proj", "mlp_up", "mlp_down", "lm_head"):
                o = ops[name]
                k = gemm_time(arch, int(o["M"]), int(o["N"]), int(o["K"]), runtime="graphs")
                assert k.time_s == pytest.approx(o["time_s"] / o["count"], rel=1e-12), (arch, b, name)
                assert k.bound == o["bound"]


def test_attention_matches_model_rows():
    for b, ctx in ((1, 1024), (8, 8192)):
        for runtime in ("graphs", "fused"):
            r = nmc.analyze("llama-3.2-1b", "h100-sxm", phase="decode", batch=b, context=ctx - 1,
                            runtime=runtime)
            ops = {o["name"]: o for o in r.ops}
            per = sum(ops[n]["time_s"] / ops[n]["count"]
                      for n in ("attn_score", "softmax", "attn_context"))
            k = attention_decode_time("h100-sxm", b, 32, 8, 64, ctx, runtime=runtime)
            assert k.time_s == pytest.approx(per, rel=1e-12)
        # one benchmarked eager call: a single kernel (the append fused in), host-launched
        fused = attention_decode_time("h100-sxm", b, 32, 8, 64, ctx, runtime="fused").time_s
        eager = attention_decode_time("h100-sxm", b, 32, 8, 64, ctx).time_s
        arch = nmc.load_arch("h100-sxm")
        assert eager - fused == pytest.approx(arch["launch_overhead"] - arch["kernel_overhead"])


def test_bad_input(toy_arch):
    with pytest.raises(ScenarioError, match="M must be an integer"):
        gemm_time(toy_arch, 0, 10, 10)
    with pytest.raises(ScenarioError, match="unknown dtype"):
        gemm_time(toy_arch, 1, 10, 10, dtype="fp12")
    with pytest.raises(ScenarioError, match="multiple of kv_heads"):
        attention_decode_time(toy_arch, 1, 32, 6, 128, 128)
    with pytest.raises(ConfigError, match="aimc"):
        gemm_time("neurram", 1, 10, 10)


# ---- the gpu-kernel validation group ----------------------------------------------------------


def _row(**kw):
    r = {"id": "k1", "group": "gpu-kernel", "system": "toy", "arch": None, "devices": 1,
         "model": "gemm", "weights": "bf16", "activations": "bf16", "kv": "", "phase": "kernel",
         "batch": 1, "context": None, "metric": "latency_ms", "value": 1.0,
         "notes": "N=1000,K=1000; free text, with = and , in it", "where": "test.csv:2"}
    r.update(kw)
    return r


def test_parse_shape():
    assert parse_shape("N=4096,K=14336; x", ("N", "K")) == {"N": 4096, "K": 14336}
    assert parse_shape(" heads=32, kv_heads=8 ,head_dim=128", ("heads", "kv_heads", "head_dim")) == \
        {"heads": 32, "kv_heads": 8, "head_dim": 128}
    for bad, msg in (("", "must start with"), ("N=4096", "lacks K"), ("N=1,K=2,M=3", "bad or repeated"),
                     ("N=1,N=2,K=3", "bad or repeated"), ("N=1.5,K=2", "not an integer"),
                     ("N=0,K=2", ">= 1"), ("N 1,K=2", "bad or repeated")):
        with pytest.raises(ConfigError, match=msg):
            parse_shape(bad, ("N", "K"), where="f.csv:3")


def test_predict_kernel_rows(toy_arch):
    assert predict_kernel(_row(arch=toy_arch)) == pytest.approx(3.004e-3)
    assert predict_kernel(_row(arch=toy_arch, batch=1000, metric="tflops")) == \
        pytest.approx(2e9 / 21e-6 / 1e12)
    att = _row(arch=toy_arch, model="attention-decode", batch=1, context=1024, weights="",
               kv="bf16", notes="heads=32,kv_heads=8,head_dim=128")
    expect = attention_decode_time(toy_arch, 1, 32, 8, 128, 1024).time_s * 1e3
    assert predict_kernel(att) == pytest.approx(expect)
    with pytest.raises(Skip, match="no preset"):
        predict_kernel(_row())
    with pytest.raises(Skip, match="kernel 'conv'"):
        predict_kernel(_row(arch=toy_arch, model="conv"))
    with pytest.raises(Skip, match="metric"):
        predict_kernel(_row(arch=toy_arch, metric="tokens_per_s"))
    with pytest.raises(ConfigError, match="test.csv:2.*lacks K"):
        predict_kernel(_row(arch=toy_arch, notes="N=1000"))
    with pytest.raises(ConfigError, match="'context' must be an integer"):
        predict_kernel(dict(att, context=None))


def test_kernel_rows_load_and_validate(tmp_path, toy_arch):
    p = tmp_path / "k.csv"
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=measurements.COLUMNS)
        w.writeheader()
        base = {"group": "gpu-kernel", "system": "toy", "arch": toy_arch, "devices": 1,
                "phase": "kernel", "kind": "measured-here", "split": "evaluation", "source": "test",
                "activations": "bf16", "unit": "ms per call", "metric": "latency_ms"}
        w.writerow({**base, "id": "g", "model": "gemm", "weights": "bf16", "batch": 1,
                    "value": 3.004e-3, "notes": "N=1000,K=1000"})
        w.writerow({**base, "id": "a", "model": "attention-decode", "kv": "bf16", "batch": 1,
                    "context": 1024, "value": 0.01, "notes": "heads=32,kv_heads=8,head_dim=128"})
    res = validate.run(measurements.load([p]))
    assert not res["skipped"]
    by = {r["id"]: r for r in res["rows"]}
    assert by["g"]["ape"] == pytest.approx(0.0, abs=1e-9)
    assert by["a"]["predicted"] == pytest.approx(5.231168e-3)
    assert res["groups"]["gpu-kernel"]["n"] == 2


def test_measure_script_cpu_smoke(tmp_path, toy_arch):
    """experiments/measure/measure_gpu.py on CPU (attention only, tiny): the CSV loads and every
    row is predicted. Skipped where torch is not installed."""
    pytest.importorskip("torch")
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "experiments" / "measure" / "measure_gpu.py"
    spec = importlib.util.spec_from_file_location("measure_gpu", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.ATT_BATCH = (1,)
    assert mod.main(["--device", "cpu", "--quick", "--only", "attention", "--repeats", "1",
                     "--arch", toy_arch, "--out", str(tmp_path)]) == 0
    out = list(tmp_path.glob("measured_*.csv"))
    assert len(out) == 1
    rows = measurements.load(out)
    assert [r["context"] for r in rows] == [512, 4096]
    assert all(r["kind"] == "measured-here" and r["group"] == "gpu-kernel" for r in rows)
    res = validate.run(rows)
    assert not res["skipped"] and len(res["rows"]) == 2


def test_calibrate_recovers_kernel_parameters():
    """Synthetic gpu-kernel rows made by the model with known efficiencies: calibration on them
    recovers eff_compute, eff_mem and kernel_overhead."""
    from nmc.arch.loader import load_arch
    from nmc.validation.calibrate import calibrate
    # eager calls pay the larger of kernel_overhead and launch_overhead: without a host launch
    # cost the per-kernel cost is what the rows reveal
    base = load_arch("h100-sxm").with_(launch_overhead=0.0)
    true = base.with_(eff_compute=0.6, eff_mem=0.7, kernel_overhead="6 us")
    rows = []
    for M in (1, 16, 256, 4096):
        for N, K in ((4096, 4096), (14336, 4096)):
            t = gemm_time(true, M, N, K).time_s
            rows.append(_row(id=f"g{M}-{N}", arch="h100-sxm", batch=M, value=t * 1e3,
                             notes=f"N={N},K={K}"))
    for L in (512, 8192):
        t = attention_decode_time(true, 8, 32, 8, 128, L).time_s
        rows.append(_row(id=f"a{L}", arch="h100-sxm", model="attention-decode", batch=8,
                         context=L, value=t * 1e3, notes="heads=32,kv_heads=8,head_dim=128"))
    res = calibrate(base, rows, ("eff_compute", "eff_mem", "kernel_overhead"))
    fit = dict(zip(res["params"], res["x"]))
    assert fit["eff_compute"] == pytest.approx(0.6, rel=1e-3)
    assert fit["eff_mem"] == pytest.approx(0.7, rel=1e-3)
    assert fit["kernel_overhead"] == pytest.approx(6e-6, rel=1e-3)
    assert res["median_ape_after"] < 1e-3
