"""AIMC family: tiling, capacity, re-programming, timing, energy, training step, bad input.

Hand-sized cases use a tiny llama-style config (d=256, ff=512, 2 layers, vocab 1000) on
256 x 256 tiles with one cell per weight:
  per layer qkv 256x768 -> 1x3, o 256x256 -> 1x1, gated up 256x1024 -> 1x4, down 512x256 -> 2x1
  = 10 tiles, x 2 layers = 20, lm_head 256x1000 -> 1x4: 24 tiles in all."""
import itertools
import json
import math

import numpy as np
import pytest

from nmc import analyze, load_arch
from nmc.analysis.aimc import aimc_training_step, chip_figures
from nmc.arch.aimc_params import check_aimc
from nmc.engine.aimc import cells_per_weight, effective_bits, matrix_tiles, tile_drain, tile_timing
from nmc.errors import ConfigError

TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
        "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "vocab_size": 1000, "max_position_embeddings": 4096,
        "hidden_act": "silu", "tie_word_embeddings": False}
TINY_TILES = 24


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    p = tmp_path_factory.mktemp("m") / "tiny.json"
    p.write_text(json.dumps(TINY))
    return str(p)


@pytest.fixture(scope="module")
def hermes():
    return load_arch("ibm-hermes")


def vec(arch, **kw):
    return (arch.with_(**kw) if kw else arch).vector()


# ---- tiling of hand-sized matrices -------------------------------------------------------------
def test_matrix_tiles_hand_sized(hermes):
    a = vec(hermes)                                  # 256 x 256, 1 cell per weight
    assert matrix_tiles(a, 256, 256) == (1, 1)
    assert matrix_tiles(a, 512, 256) == (2, 1)
    assert matrix_tiles(a, 257, 256) == (2, 1)
    assert matrix_tiles(a, 256, 257) == (1, 2)
    assert matrix_tiles(a, 4096, 11008) == (16, 43)
    b = vec(hermes, aimc_diff_cells=2)               # G+/G- pair: 128 weights per tile row
    assert cells_per_weight(b) == 2
    assert matrix_tiles(b, 256, 128) == (1, 1)
    assert matrix_tiles(b, 256, 129) == (1, 2)
    c = vec(hermes, aimc_weight_bits=8, aimc_cell_bits=2)   # 4 bit slices
    assert cells_per_weight(c) == 4
    assert matrix_tiles(c, 300, 64) == (2, 1)
    assert matrix_tiles(c, 300, 65) == (2, 2)


def test_model_tile_count_and_capacity_boundary(tiny, hermes):
    fits = analyze(tiny, hermes, aimc_tiles=TINY_TILES)
    r = fits.results
    assert r["aimc_tiles_needed"] == TINY_TILES
    assert r["aimc_chips_needed"] == 1
    assert r["aimc_reprogram"] == 0.0
    assert r["aimc_reprogram_s_per_token"] == 0.0
    assert math.isinf(r["aimc_lifetime_tokens"])
    # one tile too few: 2 chips needed, or (opt-in policy) re-programming on the one chip
    short = analyze(tiny, hermes, aimc_tiles=TINY_TILES - 1, mem_bw="1 PB/s", aimc_residency=2)
    s = short.results
    assert s["aimc_chips_needed"] == 2
    assert s["aimc_reprogram"] == 1.0
    assert short.bound == "capacity"
    # (need - cap) = 1 tile per pass, programmed at rows x iters x t_write (the load from a
    # 1 PB/s memory is negligible): 256 x 20 x 1 us
    assert s["aimc_reprogram_s_per_token"] == pytest.approx(256 * 20 * 1e-6, rel=1e-9)
    # lifetime: each of the 23 tiles is rewritten 1/23 times per token, 20 pulses each
    assert s["aimc_lifetime_tokens"] == pytest.approx(1e8 / (20 * 1 / 23), rel=1e-9)
    assert s["latency_s"] >= s["aimc_reprogram_s_per_token"] > 10 * r["latency_s"]
    # the same shortfall with enough chips in the system: no re-programming, interchip hop
    two = analyze(tiny, hermes, aimc_tiles=TINY_TILES - 1, aimc_chips=0).results
    assert two["aimc_reprogram"] == 0.0
    assert two["t_comm_s"] > 0.0
    # default (hybrid) policy: no re-programming, the LM head (4 tiles, last in model order)
    # runs on the digital unit, both layers stay on the tiles
    hyb = analyze(tiny, hermes, aimc_tiles=TINY_TILES - 1)
    h = hyb.results
    assert h["aimc_reprogram"] == 0.0 and h["aimc_reprogram_s_per_token"] == 0.0
    assert math.isinf(h["aimc_lifetime_tokens"])
    assert h["aimc_resident_fraction"] == pytest.approx(2 * 655360 / 1566720, rel=1e-12)
    eng = {o["name"]: o["engine"] for o in hyb.ops}
    assert eng["lm_head"] == "aimc_digital" and eng["mlp_up"] == "aimc_tiles"


def test_tile_timing_and_hermes_figures(hermes):
    """HERMES: 128 ns PWM window + 5 ns = 133 ns per MVM; the 8-bit conversion (256 LSB x
    300 ps = 76.8 ns) overlaps the next integration, so it only shows as the last conversion of
    an operator (the drain) or when ADC sharing makes it the longer stage."""
    t, t_arr, t_adc = tile_timing(vec(hermes))
    assert t == pytest.approx(133e-9, rel=1e-9)
    assert (t_arr, t_adc) == (pytest.approx(133e-9, rel=1e-9), 0.0)
    assert tile_drain(vec(hermes)) == pytest.approx(76.8e-9, rel=1e-9)
    f = chip_figures("ibm-hermes")
    assert f["weights_per_chip"] == 64 * 256 * 256
    assert f["tops"] == pytest.approx(63.1, rel=0.01)    # published 63.1 TOPS
    assert f["tops_per_w"] == pytest.approx(9.76, rel=0.01)   # calibrated to 9.76 TOPS/W
    # four-phase read emulated as 4 input steps: published 16.1 TOPS
    assert chip_figures("ibm-hermes", aimc_dac_bits=2)["tops"] == pytest.approx(16.1, rel=0.03)
    # bit-serial: 8 steps, each converted while the next integrates
    t8, _, _ = tile_timing(vec(hermes, aimc_dac_bits=1))
    assert t8 == pytest.approx(8 * 133e-9)
    # ADCs shared by 4 columns: 4 conversion rounds = 307.2 ns, longer than the window
    t4, arr4, adc4 = tile_timing(vec(hermes, aimc_adcs=64))
    assert t4 == pytest.approx(4 * 76.8e-9) and adc4 == t4 and arr4 == 0.0
    assert tile_drain(vec(hermes, aimc_adcs=64)) == pytest.approx(133e-9)
    # sequential conversion: window + conversion per step
    ts, arr_s, adc_s = tile_timing(vec(hermes, aimc_adc_pipelined=0))
    assert ts == pytest.approx(209.8e-9) and adc_s == pytest.approx(76.8e-9)
    assert tile_drain(vec(hermes, aimc_adc_pipelined=0)) == 0.0


def test_more_adcs_never_slower(tiny, hermes):
    lat = [analyze(tiny, hermes, phase=ph, batch=4, aimc_adcs=n, aimc_chips=0).latency_s
           for ph in ("decode", "prefill") for n in (1, 2, 3, 8, 32, 100, 256, 512)]
    for ph in range(2):
        seq = lat[ph * 8:(ph + 1) * 8]
        assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(seq))
    assert lat[8] > lat[14]                              # prefill: 1 ADC clearly slower than 256


def test_engines_and_digital_unit(tiny, hermes):
    rep = analyze(tiny, hermes, aimc_tiles=TINY_TILES)
    eng = {o["name"]: o["engine"] for o in rep.ops}
    for n in ("qkv_proj", "o_proj", "mlp_up", "mlp_down", "lm_head"):
        assert eng[n] == "aimc_tiles"
    for n in ("attn_score", "attn_context", "softmax", "attn_norm", "embed"):
        assert eng[n] == "aimc_digital"
    tiles_dram = sum(o["dram_bytes"] for o in rep.ops if o["engine"] == "aimc_tiles")
    assert tiles_dram == 0.0                              # resident weights never travel
    d = rep.to_dict()
    assert d["aimc_bound"] in ("array", "adc", "digital", "capacity", "interchip")
    json.dumps(d, default=float)


def test_gpu_architecture_unchanged(tiny, tmp_path):
    p = tmp_path / "g.toml"
    p.write_text('family = "gpu"\n[compute]\npeak_fp32 = "10 TFLOPS"\npeak_bf16 = "100 TFLOPS"\n'
                 'n_cores = 10\n[memory]\nmem_capacity = "16 GB"\nmem_bw = "1 TB/s"\n[sources]\n'
                 'peak_fp32 = "test"\npeak_bf16 = "test"\nn_cores = "test"\nmem_capacity = "test"\n'
                 'mem_bw = "test"\n')
    r = analyze(tiny, str(p))
    assert {o["engine"] for o in r.ops} == {"host"}
    assert r.results["aimc_tiles_needed"] is None and r.results["aimc_bound"] is None
    assert r.bound in ("compute", "memory", "latency", "comm")


def test_energy_hand_derived(tiny, hermes):
    """One token through the o_proj (256x256 on one tile): DAC 256 x 5 pJ, cells 65536 x 0.1 pJ,
    256 conversions x 40 fJ x 2^8, periphery 256 x 11.5 pJ."""
    rep = analyze(tiny, hermes, aimc_tiles=TINY_TILES)
    o = next(x for x in rep.ops if x["name"] == "o_proj")
    per = 256 * 5e-12 + 65536 * 0.1e-12 + 256 * 40e-15 * 256 + 256 * 11.5e-12
    assert o["energy_j"] == pytest.approx(2 * per, rel=1e-9)       # 2 layers, batch 1


def test_pipelining_helps_prefill_only_when_resident(tiny, hermes):
    base = analyze(tiny, hermes, phase="prefill", prompt=256, aimc_tiles=TINY_TILES)
    pipe = analyze(tiny, hermes, phase="prefill", prompt=256, aimc_tiles=TINY_TILES,
                   aimc_pipeline=1)
    tb = sum(o["t_compute_s"] * o["count"] for o in base.ops if o["engine"] == "aimc_tiles")
    tp = sum(o["t_compute_s"] * o["count"] for o in pipe.ops if o["engine"] == "aimc_tiles")
    # L = 2 layers: per instance (M + L - 1) / L instead of M
    assert tp < tb
    assert pipe.latency_s < base.latency_s


@pytest.mark.parametrize("key,val,msg", [
    ("aimc_adc_bits", 0, "out of range"),
    ("aimc_adc_bits", 17, "out of range"),
    ("aimc_adc_bits", 7.5, "whole number"),
    ("aimc_weight_bits", 0, "out of range"),
    ("aimc_input_bits", 2.5, "whole number"),
    ("aimc_dac_bits", 16, "exceeds aimc_input_bits"),
    ("aimc_diff_cells", 9, "out of range"),
    ("aimc_tiles", 3.5, "whole number"),
])
def test_invalid_bit_widths_rejected(hermes, key, val, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        hermes.with_(**{key: val})
    assert key in str(e.value) or "aimc_dac_bits" in str(e.value)


def test_invalid_preset_file_names_file_and_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('base = "ibm-hermes"\n[aimc_tile]\naimc_adc_bits = 33\n[sources]\n'
                 'aimc_adc_bits = "test"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml.*aimc_adc_bits.*<= 16"):
        load_arch(str(p))
    q = tmp_path / "bad2.toml"
    q.write_text('base = "ibm-hermes"\n[aimc_chip]\naimc_adc_bits = 6\n[sources]\n'
                 'aimc_adc_bits = "test"\n')
    with pytest.raises(ConfigError, match=r"belongs in \[aimc_tile\]"):
        load_arch(str(q))


def test_check_aimc_needs_step_time(hermes):
    vals = dict(hermes.values, aimc_t_dac=0.0, aimc_t_settle=0.0, aimc_t_adc_bit=0.0)
    with pytest.raises(ConfigError, match="tile step time"):
        check_aimc(vals, "x")


def test_training_step_numbers(tiny, hermes):
    d = aimc_training_step(tiny, hermes.with_(aimc_tiles=TINY_TILES), batch=2, seq=64)
    parts = ("t_forward_s", "t_backward_tiles_s", "t_backward_digital_s", "t_wgrad_s",
             "t_optimizer_s", "t_update_s")
    assert all(d[k] > 0 for k in parts)
    assert d["t_step_s"] == pytest.approx(sum(d[k] for k in parts), rel=1e-12)
    # update: every one of the 24 tiles programmed once, one tile at a time
    assert d["t_update_s"] == pytest.approx(TINY_TILES * 256 * 20 * 1e-6, rel=1e-12)
    assert 0 < d["update_share"] < 1
    assert d["lifetime_steps"] == pytest.approx(1e8 / 20)
    assert d["tokens_per_s"] == pytest.approx(128 / d["t_step_s"])
    assert not d["reprogram"] and d["fits"]
    # one tile short, re-programming policy: forward and backward re-program too, wear grows
    s = aimc_training_step(tiny, hermes.with_(aimc_tiles=TINY_TILES - 1, aimc_residency=2),
                           batch=2, seq=64)
    assert s["reprogram"] and s["t_step_s"] > d["t_step_s"]
    assert s["lifetime_steps"] == pytest.approx(1e8 / (20 * (24 + 2) / 23))
    assert np.isfinite(s["energy_j"]) and s["energy_j"] > d["energy_j"]
    # one tile short, hybrid (default): the LM head (4 tiles) stays in DRAM; the update
    # programs the 20 resident tiles once, so each cell sees one write per step
    h = aimc_training_step(tiny, hermes.with_(aimc_tiles=TINY_TILES - 1), batch=2, seq=64)
    assert not h["reprogram"]
    assert h["t_update_s"] == pytest.approx(20 * 256 * 20 * 1e-6, rel=1e-12)
    assert h["lifetime_steps"] == pytest.approx(1e8 / 20)


def test_not_aimc_rejected_by_training_step(tiny, tmp_path):
    p = tmp_path / "g.toml"
    p.write_text('base = "ibm-hermes"\n[aimc_chip]\naimc_tiles = 0\n[sources]\naimc_tiles = "t"\n')
    with pytest.raises(ConfigError, match="not an AIMC architecture"):
        aimc_training_step(tiny, str(p))


def test_bigger_models_need_more_chips(hermes):
    small = analyze("qwen2-0.5b", hermes).results
    big = analyze("llama-3-8b", hermes).results
    assert big["aimc_chips_needed"] > small["aimc_chips_needed"] > 1
    # hybrid: qwen2-0.5b's first matrices (qkv 20 + o_proj 16 tiles) fit HERMES' 64 tiles, its
    # mlp_up (152) does not; llama-3-8b's first matrix (qkv, 384 tiles) does not fit at all
    assert small["aimc_resident_fraction"] == pytest.approx(
        (896 * 1152 + 896 * 896) / (24 * (896 * 1152 + 896 * 896 + 3 * 896 * 4864) + 896 * 151936),
        rel=1e-12)
    assert big["aimc_resident_fraction"] == 0.0
    rs = analyze("qwen2-0.5b", hermes, aimc_residency=2).results
    rb = analyze("llama-3-8b", hermes, aimc_residency=2).results
    assert rb["aimc_reprogram_s_per_token"] > rs["aimc_reprogram_s_per_token"] > 0


def test_chip_static_power_scales_with_chips(tiny, hermes):
    base = analyze(tiny, hermes, aimc_tiles=TINY_TILES, aimc_p_chip=0.0).results
    one = analyze(tiny, hermes, aimc_tiles=TINY_TILES).results
    assert one["energy_j"] - base["energy_j"] == pytest.approx(0.2 * one["latency_s"], rel=1e-9)
    # four chips in the system: four times the chip static power
    four = analyze(tiny, hermes, aimc_tiles=TINY_TILES, aimc_chips=4).results
    assert four["energy_j"] - base["energy_j"] == pytest.approx(0.8 * four["latency_s"], rel=1e-9)
    assert one["energy_per_token_j"] == pytest.approx(one["energy_j"], rel=1e-12)   # 1 token


def test_roofline_has_crossbar_and_digital_facets(tiny, hermes, tmp_path):
    from nmc.plot.roofline import _facets, roofline_chart
    rep = analyze(tiny, hermes, aimc_tiles=TINY_TILES)
    assert [p for _, p in _facets([rep])] == ["crossbar", "digital"]
    paths = roofline_chart([rep], tmp_path / "r.png")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_sweep_over_adc_bits_and_tiles(tiny):
    from nmc.sweeps import sweep
    t = sweep(model=tiny, arch="ibm-hermes",
              grid={"aimc_adc_bits": [4, 8, 12], "aimc_tiles": [TINY_TILES - 1, TINY_TILES],
                    "aimc_residency": [2]},
              phase="decode", context=128)
    lat = np.asarray(t["latency_s"]).reshape(3, 2)
    rep = np.asarray(t["aimc_reprogram"]).reshape(3, 2)
    assert (rep[:, 0] == 1).all() and (rep[:, 1] == 0).all()
    assert (np.diff(lat[:, 1]) > 0).all()            # more ADC bits: longer conversions
    # one point of the grid equals the per-point API
    one = analyze(tiny, "ibm-hermes", context=128, aimc_adc_bits=12, aimc_tiles=TINY_TILES,
                  aimc_residency=2)
    assert lat[2, 1] == pytest.approx(one.latency_s, rel=1e-12)


# ---- hybrid mapping: resident layers on the tiles, the rest on the digital unit from DRAM ------
def _digital_gemv(K, N):
    """One decode GEMV (batch 1, bf16) on ibm-hermes' digital unit, by hand: memory-bound,
    weights + input + output read/written at 17 GB/s x 0.85, plus 1 us kernel overhead (its
    compute, 2KN FLOP at 0.1 TFLOPS x 0.5 with a full shape, is 3.5x shorter)."""
    dram = 2 * K * N + 2 * K + 2 * N
    assert 2 * K * N / (0.1e12 * 0.5) < dram / (17e9 * 0.85)
    return dram / (17e9 * 0.85) + 1e-6, dram


def _tile_gemv(K):
    """One decode MVM on HERMES tiles: 133 ns, adder tree (1 + ceil(log2 tk)) x 10 ns and the
    last 76.8 ns conversion."""
    tk = math.ceil(K / 256)
    return 133e-9 + (1 + math.ceil(math.log2(tk))) * 10e-9 + 76.8e-9


def test_hybrid_half_the_layers_resident_by_hand(tiny, hermes):
    """10 tiles = one layer of the tiny model (qkv 3 + o 1 + up 4 + down 2) of the 24 it needs:
    layer 0 on the tiles, layer 1 and the LM head (4 tiles) on the digital unit streaming their
    weights from LPDDR4X. Each row's time = one tile instance + one digital instance."""
    rep = analyze(tiny, hermes, aimc_tiles=10, context=16)
    ops = {o["name"]: o for o in rep.ops}
    mats = {"qkv_proj": (256, 768), "o_proj": (256, 256), "mlp_up": (256, 1024),
            "mlp_down": (512, 256)}
    total_static = 0.0
    for name, (K, N) in mats.items():
        t_dig, dram = _digital_gemv(K, N)
        want = _tile_gemv(K) + t_dig
        assert ops[name]["time_s"] == pytest.approx(want, rel=1e-12), name
        assert ops[name]["dram_bytes"] * ops[name]["count"] == pytest.approx(dram, rel=1e-12)
        assert ops[name]["engine"] == "aimc_tiles"
        total_static += want
    t_head, _ = _digital_gemv(256, 1000)
    assert ops["lm_head"]["engine"] == "aimc_digital"
    assert ops["lm_head"]["time_s"] == pytest.approx(t_head, rel=1e-12)
    total_static += t_head
    # the rest of the pass (attention, norms, ...) is the same as with every weight resident
    full = analyze(tiny, hermes, aimc_tiles=TINY_TILES, context=16)
    rest = sum(o["time_s"] for o in full.ops if not o["static_weights"])
    assert rep.latency_s == pytest.approx(rest + total_static, rel=1e-12)
    r = rep.results
    assert r["aimc_resident_fraction"] == pytest.approx(655360 / 1566720, rel=1e-12)
    assert r["aimc_reprogram"] == 0.0 and math.isinf(r["aimc_lifetime_tokens"])
    assert r["aimc_tile_utilization"] == 1.0
    assert rep.bound == "capacity"
    # the digital unit's memory holds the streamed weights and the embedding table
    assert r["fits"] and r["max_batch"] > 0


def test_largest_matrices_first(tiny, hermes):
    """Policy 1 with 10 tiles: qkv, o, up and down fill their tiles (65536 weights read per
    tile), the LM head does not (256 x 1000 on 4 tiles: 64000), so it comes last; among the
    full ones the larger first: mlp_up (4 tiles) x 2 = 8, qkv (3) does not fit in the 2 left,
    one mlp_down (2) does; o_proj (1) finds the tiles full."""
    rep = analyze(tiny, hermes, aimc_tiles=10, aimc_residency=1)
    ops = {o["name"]: o for o in rep.ops}
    assert ops["mlp_up"]["dram_bytes"] == 0.0                  # both instances resident
    t_dig, _ = _digital_gemv(512, 256)
    assert ops["mlp_down"]["time_s"] == pytest.approx(_tile_gemv(512) + t_dig, rel=1e-12)
    for name in ("qkv_proj", "o_proj", "lm_head"):
        assert ops[name]["engine"] == "aimc_digital"
    assert rep.results["aimc_resident_fraction"] == pytest.approx(655360 / 1566720, rel=1e-12)


@pytest.mark.parametrize("model", ["llama-3.2-1b", "llama-3-8b", "mixtral-8x7b", "deepseek-v2-lite"])
def test_more_tiles_never_slower(model):
    from nmc.sweeps import sweep
    tiles = [64 * 2 ** k for k in range(11)]
    for phase in ("decode", "prefill"):
        t = sweep(model=model, arch="aimc-edge-projected",
                  grid={"aimc_tiles": tiles, "aimc_chips": [1, 3]}, phase=phase, context=2048,
                  prompt=512)
        lat = np.asarray(t["latency_s"]).reshape(len(tiles), 2)
        assert (np.diff(lat, axis=0) <= lat[1:] * 1e-12).all(), (model, phase)
        res = np.asarray(t["aimc_resident_fraction"]).reshape(len(tiles), 2)
        assert (np.diff(res, axis=0) >= 0).all() and res[-1, 1] == 1.0
        assert (np.asarray(t["aimc_reprogram"]) == 0).all()


@pytest.mark.parametrize("model", ["mixtral-8x7b", "deepseek-v2-lite", "qwen2-57b-a14b"])
def test_more_tiles_never_slower_largest_policy_at_decode(model):
    """Policy 1 ranks matrices by the weights a decode pass reads per tile (an MoE row's tiles
    hold every expert, only the active ones are read), so at decode more tiles never slow it."""
    from nmc.sweeps import sweep
    tiles = sorted([64 * 2 ** k for k in range(12)] + [100 * k for k in range(1, 200, 7)])
    t = sweep(model=model, arch="aimc-edge-projected",
              grid={"aimc_tiles": tiles, "aimc_chips": [1], "aimc_residency": [1]},
              phase="decode", context=2048)
    lat = np.asarray(t["latency_s"])
    assert (np.diff(lat) <= lat[1:] * 1e-12).all()


@pytest.mark.parametrize("arch", ["ibm-hermes", "ibm-speech-14nm", "neurram", "aimc-edge-projected"])
def test_hybrid_never_slower_than_reprogramming(arch):
    """Decode, batch 1 (the default scenario): streaming the weights that do not fit is never
    slower than re-programming them (which also reads them from DRAM), at any tile count."""
    from nmc.sweeps import sweep
    t = sweep(model=["qwen2-0.5b", "llama-3.2-1b", "llama-3-8b"], arch=arch,
              grid={"aimc_tiles": [16, 256, 4096, 65536], "aimc_residency": [0, 1, 2]},
              phase="decode", context=2048)
    lat = np.asarray(t["latency_s"]).reshape(3, 4, 3)
    assert (lat[:, :, 0] <= lat[:, :, 2]).all() and (lat[:, :, 1] <= lat[:, :, 2]).all()
    assert (lat[:, :, 0] < lat[:, :, 2]).any()


def test_weights_that_fit_are_unchanged_by_the_policy():
    r = [analyze("llama-3.2-1b", "aimc-edge-projected", aimc_residency=p).results
         for p in (0, 1, 2)]
    assert r[0]["latency_s"] == r[1]["latency_s"] == r[2]["latency_s"]
    assert r[0]["aimc_resident_fraction"] == 1.0


# ---- non-idealities as effective bits ---------------------------------------------------------
def test_effective_bits_formula(hermes):
    quiet = dict(aimc_read_noise=0.0, aimc_drift_nu=0.0)
    # quantization only: weights 4, inputs 8, ADC 8 bits in quadrature
    b = effective_bits(vec(hermes, **quiet))
    assert b == pytest.approx(-0.5 * math.log2(2 ** -8 + 2 * 2 ** -16), rel=1e-12)
    assert 3.99 < b < 4.0
    # three equal sources of b bits: b - log2(3)/2
    eq = vec(hermes, aimc_weight_bits=6, aimc_input_bits=6, aimc_dac_bits=6, aimc_adc_bits=6,
             **quiet)
    assert effective_bits(eq) == pytest.approx(6 - 0.5 * math.log2(3), rel=1e-12)
    # drift: nu = 0.05 over t = t0 (2^20 - 1) loses exactly 1 bit of the 8-bit ADC
    wide = dict(aimc_weight_bits=16, aimc_input_bits=16, aimc_dac_bits=16, aimc_read_noise=0.0)
    d = vec(hermes, aimc_drift_nu=0.05, aimc_drift_t=20 * (2 ** 20 - 1), **wide)
    assert effective_bits(d) == pytest.approx(-0.5 * math.log2(2 * 2 ** -32 + 2 ** -14), rel=1e-12)
    # read noise 1.75 % of w_max alone: log2(1 / (sqrt(3) sigma)) = 5.04 bits
    r = vec(hermes, aimc_adc_bits=16, aimc_drift_nu=0.0, **dict(wide, aimc_read_noise=0.0175))
    assert effective_bits(r) == pytest.approx(-0.5 * math.log2(3 * 0.0175 ** 2 + 3 * 2 ** -32),
                                              rel=1e-12)
    assert effective_bits(r) == pytest.approx(5.04, abs=0.01)
    # the preset: 4-bit weights, read noise, one day of drift (0.604 bits of the ADC lost)
    lost = 0.05 * math.log2((86400 + 20) / 20)
    want = -0.5 * math.log2(2 ** -8 + 2 ** -16 + 2 ** (-2 * (8 - lost)) + 3 * 0.0175 ** 2)
    assert effective_bits(vec(hermes)) == pytest.approx(want, rel=1e-12)
    assert analyze("llama-3.2-1b", hermes).results["aimc_effective_bits"] == pytest.approx(want)
    assert chip_figures("ibm-hermes")["effective_bits"] == pytest.approx(want)
    assert want == pytest.approx(3.840, abs=1e-3)


def test_effective_bits_fall_with_time_and_noise(hermes):
    days = [0, 1, 30, 365, 3650]
    bits = [effective_bits(vec(hermes, aimc_drift_t=d * 86400.0, aimc_weight_bits=8))
            for d in days]
    assert all(b2 < b1 for b1, b2 in itertools.pairwise(bits))
    noise = [effective_bits(vec(hermes, aimc_read_noise=x)) for x in (0.0, 0.01, 0.02, 0.05)]
    assert all(b2 < b1 for b1, b2 in itertools.pairwise(noise))
    # effective bits are reported, not priced: time and energy do not move
    a = analyze("llama-3.2-1b", hermes, aimc_read_noise=0.0).results
    b = analyze("llama-3.2-1b", hermes, aimc_read_noise=0.05).results
    assert a["latency_s"] == b["latency_s"] and a["energy_j"] == b["energy_j"]
