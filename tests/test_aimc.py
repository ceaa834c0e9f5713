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
from nmc.engine.aimc import cells_per_weight, matrix_tiles, tile_timing
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
    # one tile too few: 2 chips needed, or re-programming on the one chip
    short = analyze(tiny, hermes, aimc_tiles=TINY_TILES - 1, mem_bw="1 PB/s")
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


def test_tile_timing_and_hermes_figures(hermes):
    t, _, t_adc = tile_timing(vec(hermes))
    assert t == pytest.approx(133e-9, rel=1e-9)          # 93 ns + 8 bits x 5 ns
    assert t_adc == pytest.approx(40e-9, rel=1e-9)
    f = chip_figures("ibm-hermes")
    assert f["weights_per_chip"] == 64 * 256 * 256
    assert f["tops"] == pytest.approx(63.1, rel=0.01)    # published 63.1 TOPS
    assert f["tops_per_w"] == pytest.approx(9.76, rel=0.01)   # calibrated to 9.76 TOPS/W
    # four-phase read emulated as 4 input steps: published 16.1 TOPS
    assert chip_figures("ibm-hermes", aimc_dac_bits=2)["tops"] == pytest.approx(16.1, rel=0.03)
    # bit-serial: 8 steps, each with its own conversion
    t8, _, adc8 = tile_timing(vec(hermes, aimc_dac_bits=1))
    assert t8 == pytest.approx(8 * 133e-9) and adc8 == pytest.approx(8 * 40e-9)
    # ADCs shared by 4 columns: 4 conversion rounds
    t4, _, adc4 = tile_timing(vec(hermes, aimc_adcs=64))
    assert adc4 == pytest.approx(4 * 40e-9) and t4 == pytest.approx(93e-9 + 160e-9)


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
    # one tile short: forward and backward re-program too, and wear grows
    s = aimc_training_step(tiny, hermes.with_(aimc_tiles=TINY_TILES - 1), batch=2, seq=64)
    assert s["reprogram"] and s["t_step_s"] > d["t_step_s"]
    assert s["lifetime_steps"] == pytest.approx(1e8 / (20 * (24 + 2) / 23))
    assert np.isfinite(s["energy_j"]) and s["energy_j"] > d["energy_j"]


def test_not_aimc_rejected_by_training_step(tiny, tmp_path):
    p = tmp_path / "g.toml"
    p.write_text('base = "ibm-hermes"\n[aimc_chip]\naimc_tiles = 0\n[sources]\naimc_tiles = "t"\n')
    with pytest.raises(ConfigError, match="not an AIMC architecture"):
        aimc_training_step(tiny, str(p))


def test_bigger_models_need_more_chips(hermes):
    small = analyze("qwen2-0.5b", hermes).results
    big = analyze("llama-3-8b", hermes).results
    assert big["aimc_chips_needed"] > small["aimc_chips_needed"] > 1
    assert big["aimc_reprogram_s_per_token"] > small["aimc_reprogram_s_per_token"] > 0


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
              grid={"aimc_adc_bits": [4, 8, 12], "aimc_tiles": [TINY_TILES - 1, TINY_TILES]},
              phase="decode", context=128)
    lat = np.asarray(t["latency_s"]).reshape(3, 2)
    rep = np.asarray(t["aimc_reprogram"]).reshape(3, 2)
    assert (rep[:, 0] == 1).all() and (rep[:, 1] == 0).all()
    assert (np.diff(lat[:, 1]) > 0).all()            # more ADC bits: longer conversions
    # one point of the grid equals the per-point API
    one = analyze(tiny, "ibm-hermes", context=128, aimc_adc_bits=12, aimc_tiles=TINY_TILES)
    assert lat[2, 1] == pytest.approx(one.latency_s, rel=1e-12)
