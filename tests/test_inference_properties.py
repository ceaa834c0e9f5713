"""Properties of inference (nmc.analyze over presets and scenarios; issue 18, deliverable 7), and
MLA's KV cache and attention FLOPs checked by hand.

- more peak, bandwidth, link or network speed (or efficiency), or less overhead or latency, is
  never slower;
- every rate x2 (all peaks, all bandwidths incl. sram, link and network, kernel and launch
  overheads / 2, latencies / 2) halves the latency exactly;
- energy >= static power x time (all tp devices);
- weight-only int4 <= int8 <= bf16 latency at batch-1 decode;
- deepseek-v2-lite decode: 576 KV elements per token per layer (kv_lora_rank 512 + rope 64,
  shared by the 16 heads) and 2 x (576 + 512) FLOPs per head per (query, key) pair."""
import pytest

import nmc

ARCHS = ["h100-sxm", "a100-80g-sxm", "h20", "l20", "ascend-910b", "mi300x"]
SCENARIOS = [
    ("llama-3-8b", dict(phase="decode", batch=1, context=2048)),
    ("llama-3-8b", dict(phase="decode", batch=64, context=4096, tp=2)),
    ("llama-3-8b", dict(phase="prefill", batch=1, prompt=2048)),
    ("llama-3-8b", dict(phase="generate", batch=4, prompt=512, generate=16, runtime="eager")),
    ("llama-3-8b", dict(phase="decode", batch=1, context=1024, weights="int4")),
    ("llama-3-8b", dict(phase="decode", batch=8, context=1024, weights="int8", dequant="torch",
                        runtime="fused")),
    ("llama-3-70b", dict(phase="decode", batch=8, context=1024, tp=8)),
    ("llama-3-70b", dict(phase="decode", batch=1, context=1024, tp=16)),        # two nodes
    ("mixtral-8x7b", dict(phase="decode", batch=16, context=512, tp=4)),
    ("deepseek-v2-lite", dict(phase="decode", batch=4, context=2000)),
    ("qwen3-30b-a3b", dict(phase="prefill", batch=2, prompt=1024, weights="fp8",
                           activations="fp8")),
]
PEAKS = ("peak_fp32", "peak_bf16", "peak_fp16", "peak_fp8", "peak_int8", "peak_int4")
BANDWIDTHS = ("mem_bw", "sram_bw", "link_bw", "net_bw")
TIMES = ("kernel_overhead", "launch_overhead", "link_latency", "net_latency")
EFFS = ("eff_compute", "eff_mem", "eff_sram", "eff_link")


def _lat(model, arch, kw):
    return nmc.analyze(model, arch, **kw).latency_s


def _ids(s):
    return f"{s[0]}-{'-'.join(f'{k}{v}' for k, v in s[1].items())}"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
def test_more_peak_bandwidth_or_link_speed_is_never_slower(arch, scenario):
    model, kw = scenario
    a = nmc.load_arch(arch)
    base = _lat(model, a, kw)
    changed = 0
    for name, f in ([(p, 1.5) for p in PEAKS + BANDWIDTHS] + [(t, 0.5) for t in TIMES]
                    + [(e, 1.2) for e in EFFS]):
        if a[name] <= 0 or (name.startswith("eff_") and a[name] >= 1.0):
            continue
        v = min(a[name] * f, 1.0) if name.startswith("eff_") else a[name] * f
        t = _lat(model, a.with_(**{name: v}), kw)
        assert t <= base * (1 + 1e-12), (name, t, base)
        changed += t < base * (1 - 1e-9)
    assert changed >= 2          # the scenario is sensitive to something


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
def test_every_rate_twice_halves_the_latency(arch, scenario):
    model, kw = scenario
    a = nmc.load_arch(arch)
    fast = a.with_(**{k: 2 * a[k] for k in PEAKS + BANDWIDTHS}, **{k: a[k] / 2 for k in TIMES})
    r1 = nmc.analyze(model, a, **kw)
    r2 = nmc.analyze(model, fast, **kw)
    assert r2.latency_s == pytest.approx(r1.latency_s / 2, rel=1e-9)
    assert r2.tokens_per_s == pytest.approx(2 * r1.tokens_per_s, rel=1e-9)
    assert r2.bound == r1.bound
    # the work is the same: FLOPs and DRAM bytes do not depend on the rates
    assert r2.results["flops"] == pytest.approx(r1.results["flops"], rel=1e-12)
    assert r2.results["dram_bytes"] == pytest.approx(r1.results["dram_bytes"], rel=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids)
def test_energy_is_at_least_static_power_times_time(arch, scenario):
    model, kw = scenario
    a = nmc.load_arch(arch)
    r = nmc.analyze(model, a, **kw)
    static = a["p_static"] * r.latency_s * kw.get("tp", 1)
    assert r.results["energy_j"] > static > 0
    # and the static share is exactly p_static x t per device: a preset without static power
    # saves exactly that energy
    r0 = nmc.analyze(model, a.with_(p_static=0.0), **kw)
    assert r.results["energy_j"] - r0.results["energy_j"] == pytest.approx(static, rel=1e-9)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("model,tp", [("llama-3-8b", 1), ("llama-2-70b", 4), ("mixtral-8x7b", 2),
                                      ("qwen3-32b", 2)])
@pytest.mark.parametrize("dequant", ["fused", "torch"])
def test_int4_int8_bf16_batch1_decode_are_ordered(arch, model, tp, dequant):
    kw = dict(phase="decode", batch=1, context=1024, tp=tp, dequant=dequant)
    t = {w: _lat(model, arch, dict(kw, weights=w)) for w in ("int4", "int8", "bf16")}
    assert t["int4"] <= t["int8"] <= t["bf16"], t
    assert t["int4"] < t["bf16"]


def test_mla_kv_elements_and_flops_per_pair_by_hand():
    """deepseek-v2-lite (kv_lora_rank 512, qk_rope_head_dim 64, 16 heads, v_head_dim 128, 27
    layers) in the absorbed form nmc prices decode with: the cache holds the 512-wide latent and
    the 64-wide rope key, 576 elements per token per layer, shared by all heads; a query token
    scores each cached token against the 576-wide absorbed key (2 x 576 FLOPs per head) and reads
    the 512-wide latent back as the value (2 x 512 FLOPs per head).

    Prefill is priced in the same absorbed form today (d_qk 576 / d_v 512); the non-absorbed
    prefill form (192 / 128 per head: 128 nope + 64 rope, v 128) is being changed separately and
    is not checked here."""
    m = nmc.load_model("deepseek-v2-lite")
    assert (m.kv_elems, m.kv_shared, m.n_heads, m.d_qk, m.d_v) == (576, True, 16, 576, 512)
    b, ctx, layers = 3, 999, 27
    r = nmc.analyze("deepseek-v2-lite", "h100-sxm", phase="decode", batch=b, context=ctx)
    ops = {o["name"]: o for o in r.ops}
    keys = ctx + 1                                   # the cached tokens and the new one
    score, ctxo = ops["attn_score"], ops["attn_context"]
    assert score["count"] == ctxo["count"] == layers
    assert score["flops"] == b * 16 * keys * 2 * 576          # 55,296,000 per layer
    assert ctxo["flops"] == b * 16 * keys * 2 * 512           # 49,152,000 per layer
    per_pair = (score["flops"] + ctxo["flops"]) / (b * keys)
    assert per_pair == 16 * 2 * (576 + 512) == 34_816
    # KV traffic per layer: read the whole latent cache once per sequence (not per head),
    # write the new token's 576 elements, bf16
    assert score["kv_read_bytes"] == b * keys * 576 * 2       # 3,456,000
    assert score["kv_write_bytes"] == b * 576 * 2
    assert ctxo["kv_read_bytes"] == 0                          # the latent is read once
    # against multi-head attention with the same head sizes (k 192 + v 128 per head, 16 heads):
    # 5,120 elements per token per layer, 8.9x the MLA cache
    assert 16 * (192 + 128) / m.kv_elems == pytest.approx(8.89, rel=1e-3)
    # the cache the report counts: b x (ctx + 1) tokens x 27 layers x 576 x 2 bytes
    assert r.results["kv_bytes"] == pytest.approx(b * keys * layers * 576 * 2, rel=1e-12)
