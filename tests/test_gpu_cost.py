"""GPU roofline cost: hand-derived op times on the toy accelerator, and physical invariants."""
import math

import pytest

import nmc


def op(report, name):
    return next(o for o in report.ops if o["name"] == name)


def test_qkv_gemv_time_by_hand(toy_llm, toy_arch):
    r = nmc.analyze(toy_llm, toy_arch, phase="decode", batch=1, context=10)
    o = op(r, "qkv_proj")
    # M=1, N=64+2*2*16=128, K=64; weights 64*128*2 B, input 64*2 B, output 128*2 B
    assert (o["M"], o["N"], o["K"]) == (1, 128, 64)
    nbytes = 64 * 128 * 2 + 64 * 2 + 128 * 2
    assert o["dram_bytes"] == nbytes
    assert o["t_memory_s"] == pytest.approx(nbytes / 1e12)
    assert o["t_compute_s"] == pytest.approx(2 * 128 * 64 / 100e12)
    assert o["t_latency_s"] == pytest.approx(1e-6)
    assert o["time_s"] == pytest.approx(2 * (nbytes / 1e12 + 1e-6))     # 2 layers
    assert o["bound"] == "latency"


def test_large_gemm_compute_time_by_hand(toy_llm, toy_arch):
    r = nmc.analyze(toy_llm, toy_arch, phase="prefill", batch=64, prompt=1024)
    o = op(r, "mlp_up")
    T = 64 * 1024
    flops = 2 * T * 256 * 64
    assert o["flops"] == flops
    assert o["t_compute_s"] == pytest.approx(flops / 100e12)   # 1x1 tiles on 1 core: no quantization
    nbytes = 64 * 256 * 2 + T * 64 * 2 + T * 256 * 2
    assert o["t_memory_s"] == pytest.approx(nbytes / 1e12)


def test_fp8_uses_fp8_peak(toy_llm, toy_arch):
    r = nmc.analyze(toy_llm, toy_arch, phase="prefill", batch=64, prompt=1024,
                    weights="fp8", activations="fp8")
    o = op(r, "mlp_up")
    assert o["t_compute_s"] == pytest.approx(o["flops"] / 200e12)


def test_tp_allreduce_by_hand(toy_arch):
    """Decode (small buffer): the one-shot all-reduce beats the ring; each all-reduce is one
    kernel launch and moves ~3 S of HBM traffic alongside the link transfer."""
    r = nmc.analyze("llama-2-7b", toy_arch, phase="decode", batch=2, tp=4)
    o = op(r, "tp_allreduce")
    buf = 2 * 4096 * 2
    bl = 100e9 * 0.8                                      # eff_link default 0.8
    ring = 2 * 3 / 4 * buf / bl + 2 * 3 * 1e-6
    one_shot = 3 * buf / bl + 2 * 1e-6
    assert one_shot < ring
    assert o["t_comm_s"] == pytest.approx(max(one_shot, 3 * buf / 1e12))
    assert o["dram_bytes"] == pytest.approx(3 * buf)
    assert o["time_s"] == pytest.approx(64 * (o["t_comm_s"] + 1e-6))     # + the launch
    # prefill (a 512-token buffer): the ring moves less per link and wins
    r = nmc.analyze("llama-2-7b", toy_arch, phase="prefill", batch=1, prompt=512, tp=4)
    buf = 512 * 4096 * 2
    ring = 2 * 3 / 4 * buf / bl + 2 * 3 * 1e-6
    assert ring < 3 * buf / bl + 2 * 1e-6
    assert op(r, "tp_allreduce")["t_comm_s"] == pytest.approx(max(ring, 3 * buf / 1e12))


def test_energy_by_hand(toy_llm, toy_arch):
    r = nmc.analyze(toy_llm, toy_arch, phase="decode", batch=1, context=10)
    o = op(r, "qkv_proj")
    assert o["energy_j"] == pytest.approx(2 * (o["flops"] * 1e-12 + o["dram_bytes"] * 10e-12))


def test_gemv_is_not_credited_with_tensor_peak():
    r = nmc.analyze("llama-2-7b", "h100-sxm", phase="decode", batch=1)
    o = op(r, "mlp_up")
    # M=1 is padded to the MMA height: at most 1/mma_m of the matrix peak is usable
    arch = nmc.load_arch("h100-sxm")
    assert o["flops"] / o["t_compute_s"] <= arch["peak_bf16"] / arch["mma_m"] + 1


def test_a100_decode_bandwidth_bound_prefill_compute_bound():
    d = nmc.analyze("llama-2-7b", "a100-80g-sxm", phase="decode", batch=1, context=512)
    assert d.bound == "memory"
    assert d.bound_shares["memory"] > 0.6
    p = nmc.analyze("llama-2-7b", "a100-80g-sxm", phase="prefill", batch=256, prompt=512)
    assert p.bound == "compute"
    assert p.bound_shares["compute"] > 0.6


@pytest.mark.parametrize("arch", ["a100-80g-sxm", "h100-sxm", "h20"])
@pytest.mark.parametrize("phase", ["decode", "prefill"])
def test_more_bandwidth_is_never_slower(arch, phase):
    base = nmc.load_arch(arch)
    prev = math.inf
    for f in (0.25, 0.5, 1.0, 2.0, 4.0, 16.0):
        a = base.with_(mem_bw=base["mem_bw"] * f)
        t = nmc.analyze("llama-3-8b", a, phase=phase, batch=4, prompt=256, context=1024).latency_s
        assert t <= prev * (1 + 1e-12)
        prev = t


# n_cores is not a resource at fixed peak: more, smaller cores at the same total FLOP/s leave
# more of them idle on a small tile count, which is physically slower.
@pytest.mark.parametrize("key", ["peak_bf16", "link_bw", "sram_bw", "eff_mem", "mem_bw"])
def test_more_resources_never_slower(key):
    base = nmc.load_arch("h100-sxm")
    lo = nmc.analyze("llama-2-70b", base, phase="decode", batch=16, tp=4).latency_s
    val = base[key] * (1.05 if key == "eff_mem" else 2.0)
    hi = nmc.analyze("llama-2-70b", base.with_(**{key: min(val, 1.0) if key == "eff_mem" else val}),
                     phase="decode", batch=16, tp=4).latency_s
    assert hi <= lo * (1 + 1e-12)


@pytest.mark.parametrize("model", ["llama-2-7b", "mixtral-8x7b", "gpt2"])
def test_batch_never_lowers_throughput(model):
    prev = 0.0
    for b in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        r = nmc.analyze(model, "h100-sxm", phase="decode", batch=b, context=1024)
        assert r.tokens_per_s >= prev * (1 - 1e-9)
        prev = r.tokens_per_s


def test_longer_context_is_never_faster():
    prev = 0.0
    for c in (0, 128, 1024, 8192, 32768):
        t = nmc.analyze("llama-3-8b", "h100-sxm", phase="decode", batch=8, context=c).latency_s
        assert t >= prev
        prev = t


def test_generate_is_prefill_plus_decode_steps(toy_llm, toy_arch):
    g = nmc.analyze(toy_llm, toy_arch, phase="generate", batch=2, prompt=16, generate=4)
    p = nmc.analyze(toy_llm, toy_arch, phase="prefill", batch=2, prompt=16)
    steps = [nmc.analyze(toy_llm, toy_arch, phase="decode", batch=2, context=16 + i).latency_s
             for i in range(3)]
    assert g.results["ttft_s"] == pytest.approx(p.latency_s)
    assert g.latency_s == pytest.approx(p.latency_s + sum(steps))
    assert g.results["tpot_s"] == pytest.approx(sum(steps) / 3)
    assert g.tokens_per_s == pytest.approx(2 * 4 / g.latency_s)


def test_fits_and_max_batch():
    r = nmc.analyze("llama-2-70b", "h100-sxm", phase="decode", batch=1)
    assert not r.fits                      # 138 GB of bf16 weights on one 80 GB device
    assert r.results["max_batch"] == 0
    r = nmc.analyze("llama-2-70b", "h100-sxm", phase="decode", batch=1, tp=4)
    assert r.fits
    mb = int(r.results["max_batch"])
    assert nmc.analyze("llama-2-70b", "h100-sxm", phase="decode", batch=mb, tp=4).fits
    assert not nmc.analyze("llama-2-70b", "h100-sxm", phase="decode", batch=mb + 1, tp=4).fits


def test_bound_shares_sum_to_one():
    r = nmc.analyze("mixtral-8x7b", "h100-sxm", phase="generate", batch=4, tp=2)
    assert sum(r.bound_shares.values()) == pytest.approx(1.0)
    assert sum(o["share"] for o in r.ops) == pytest.approx(1.0)


def test_small_m_split_k_fills_cores(toy_arch):
    from nmc.engine.gpu import shape_efficiency
    a = nmc.load_arch("h100-sxm").vector()
    # M=1, N=4096, K=4096 on 132 SMs with 16 x 256 tiles: 16 tiles, split-K by 8 -> 128 of 132
    eff, tm, tn, split = shape_efficiency(a, 1.0, 4096.0, 4096.0, 1.0, 1.0)
    assert (tm, tn, split) == (16.0, 256.0, 8.0)      # narrower tiles tie: the larger is kept
    assert eff == pytest.approx(1 * 4096 * 8 / (132 * 16 * 256))
    # large GEMM: no split, full waves
    eff, _, _, split = shape_efficiency(a, 8192.0, 8192.0, 8192.0, 1.0, 1.0)
    assert split == 1.0 and eff == pytest.approx(8192 * 8192 / (16 * 132 * 128 * 256))
    # M = 128 (a short prefill, one row of 128-high tiles): 48 preset tiles fill 48 of 132 SMs;
    # split-K by 2 or 128-wide tiles give 96 tiles (tie: the wider tile with split 2 is kept);
    # 64-wide tiles give 192 tiles in two waves, 192 / 264 -- the same 0.727, not better
    eff, _, tn, split = shape_efficiency(a, 128.0, 12288.0, 4096.0, 1.0, 1.0)
    assert (tn, split) == (256.0, 2.0) and eff == pytest.approx(96 / 132)
    # M = 192: 128-high tiles pad to 256 (2 rows x 24 = 48 tiles); 64-high tiles pad nothing
    # (3 rows x 24 = 72 tiles on 132 SMs): 192 * 6144 / (132 * 64 * 256)
    eff, tm, tn, split = shape_efficiency(a, 192.0, 6144.0, 4096.0, 1.0, 1.0)
    assert (tm, tn, split) == (64.0, 256.0, 1.0)
    assert eff == pytest.approx(192 * 6144 / (132 * 64 * 256))
    # M = 256: two rows of tiles, 96 preset tiles: the preset tile is kept, no split
    eff, _, tn, split = shape_efficiency(a, 256.0, 12288.0, 4096.0, 1.0, 1.0)
    assert (tn, split) == (256.0, 1.0) and eff == pytest.approx(96 / 132)
    # M = 64 (mid-batch decode), N = 4096: 16 preset tiles; 64-wide tiles give 64, split-K by
    # 2 fills 128 of 132 SMs; 128-wide (32 x 4) and 256-wide (16 x 8) tie: the widest is kept
    eff, tm, tn, split = shape_efficiency(a, 64.0, 4096.0, 4096.0, 1.0, 1.0)
    assert (tm, tn, split) == (64.0, 256.0, 8.0)
    assert eff == pytest.approx(64 * 4096 * 8 / (132 * 64 * 256))


def test_batch1_decode_is_memory_bound_on_cut_down_parts():
    for arch in ("h20", "l20", "a100-80g-sxm", "h100-sxm"):
        r = nmc.analyze("llama-3-8b", arch, phase="decode", batch=1, context=1024)
        assert r.bound_shares["compute"] < 0.05, arch


def test_tile_pick_takes_the_faster_candidate():
    """A matrix product carries two tile candidates (docs/model.md, Tile choice): the one with
    the least padded work and idle cores, and the preset tile; the rate stage takes the faster.
    Llama-3-70B decode, tp 4, batch 96 on an A100 (108 SMs, 128 x 128 tiles): the MLP up/gate
    product (M 96, N 14336, K 8192) has 112 preset tiles in 2 waves (efficiency 14336 / 27648);
    32-wide tiles give 448 tiles in 5 waves (14336 / 17280) but read the 1.5 MiB activation panel
    448 times from L2. With the A100's L2 the preset tile is faster; with an unbounded L2 the
    narrow tile is."""
    import math
    from nmc.engine.gpu import shape_efficiency
    kw = dict(phase="decode", batch=96, context=1024, tp=4)
    a = nmc.load_arch("a100-80g-sxm").vector()
    eff, tm, tn, split = shape_efficiency(a, 96.0, 14336.0, 8192.0, 1.0, 1.0)
    assert (tm, tn, split) == (96.0, 32.0, 1.0) and eff == pytest.approx(14336 / 17280)

    def up(**over):
        r = nmc.analyze("llama-3-70b", "a100-80g-sxm", **kw, **over)
        return r, next(o for o in r.ops if o["name"] == "mlp_up")

    r0, o0 = up()
    r1, o1 = up(sram_bw="1000 TB/s")
    preset = o0["act_in_bytes"] * math.ceil(14336 / 128) + o0["weight_bytes"] + o0["act_out_bytes"]
    narrow = o1["act_in_bytes"] * math.ceil(14336 / 32) + o1["weight_bytes"] + o1["act_out_bytes"]
    assert o0["sram_bytes"] == pytest.approx(preset, rel=1e-12)
    assert o1["sram_bytes"] == pytest.approx(narrow, rel=1e-12)
    # compute time falls by the efficiency ratio with the narrow tile
    assert o0["t_compute_s"] / o1["t_compute_s"] == pytest.approx((14336 / 17280) / (14336 / 27648))
    # the pick never makes a step slower than either candidate alone: more L2 bandwidth only helps
    assert r1.latency_s <= r0.latency_s
