"""Near-memory compute (PIM): hand-derived bandwidth, activation and transfer figures on a toy
PIM system, invariants (more banks never slower, row locality degrades monotonically), the
mapping policies, bad input, and the H100 vs H100+HBM3-PIM crossover (docs/nmc.md)."""
import itertools
from pathlib import Path

import numpy as np
import pytest

import nmc
from nmc.arch.loader import list_archs
from nmc.cli import main
from nmc.engine import pim as k
from nmc.engine.layout import MAPPING_NAMES
from nmc.errors import ConfigError, ScenarioError
from nmc.analysis.pim import crossover, pim_figures
from nmc.workload.scenario import MAPPINGS

DATA = Path(__file__).parent / "data"
TOY_PIM = str(DATA / "toy-pim.toml")
PIM_PRESETS = ["hbm-pim", "aim-gddr6", "upmem", "hbm3-pim", "h100+hbm3-pim", "attacc", "neupims",
               "neupims-naive", "u280+hbm-pim"]


def toy(**kw):
    return nmc.load_arch(TOY_PIM).with_(**kw) if kw else nmc.load_arch(TOY_PIM)


def ops_of(r):
    return {o["name"]: o for o in r.ops}


# ---- hand-derived figures ----------------------------------------------------------------------
def test_toy_internal_bandwidth_by_hand():
    v = toy().vector()
    # 1 device x 2 channels x 4 banks, one unit per bank = 8 units
    assert k.pim_units(v) == 8
    # column-access peak: 8 units x 32 B / 1 ns
    assert k.pim_peak_bw(v) == pytest.approx(256e9)
    # whole 256 B rows: 8 bursts = 8 ns streaming; bank busy max(tRAS 20, tRCD 10 + 8) + tRP 10 = 30 ns
    u, nb, t_seg = k.pim_segment(v, 256.0)
    assert (u, nb) == (256.0, 8.0) and t_seg == pytest.approx(30e-9)
    assert k.pim_internal_bw(v, 256.0) == pytest.approx(8 * 256 / 30e-9)
    # external: 64 pins x 8 Gb/s = 64 GB/s
    assert k.pim_ext_bw(v) == pytest.approx(64e9)
    # two banks per unit: 4 units, activation of one bank hidden behind the other's 8 ns stream
    # only up to t_bank / 2 = 15 ns per activation
    v2 = toy(pim_banks_per_unit=2).vector()
    assert k.pim_segment(v2, 256.0)[2] == pytest.approx(15e-9)
    v4 = toy(pim_banks_per_unit=4).vector()     # 30/4 = 7.5 ns < 8 ns: streaming-bound
    assert k.pim_segment(v4, 256.0)[2] == pytest.approx(8e-9)
    assert k.pim_internal_bw(v4, 256.0) == pytest.approx(2 * 256 / 8e-9)


def test_toy_activation_counts_by_hand():
    v = toy().vector()
    # a 64 x 128 bf16 matrix = 16 KiB in 256 B rows: 64 activations over 8 units, 8 each x 30 ns
    t, n_act, used = k.pim_stream(v, 16384.0, 256.0, 0.0)
    assert (n_act, used) == (64, 8) and t == pytest.approx(240e-9)
    # half of every row used (strided layout): 128 useful B per activation, 4 bursts,
    # bank busy max(20, 14) + 10 = 30 ns: 128 activations, 16 per unit
    vl = toy(pim_locality=0.5).vector()
    t, n_act, _ = k.pim_stream(vl, 16384.0, 256.0, 0.0)
    assert n_act == 128 and t == pytest.approx(480e-9)
    # short rows: contiguous runs of 64 B (e.g. a short KV span): 256 activations, 32 per unit
    t, n_act, _ = k.pim_stream(v, 16384.0, 64.0, 0.0)
    assert n_act == 256 and t == pytest.approx(960e-9)
    # a small vector is spread one or more bursts per unit: 512 B = 64 B on each of 8 units,
    # one activation each: 2 bursts, bank busy max(20, 10 + 2) + 10 = 30 ns
    t, n_act, used = k.pim_stream(v, 512.0, 256.0, 0.0)
    assert (n_act, used) == (8, 8) and t == pytest.approx(30e-9)
    # fewer bursts than units: 64 B on 2 units
    t, n_act, used = k.pim_stream(v, 64.0, 256.0, 0.0)
    assert (n_act, used) == (2, 2) and t == pytest.approx(30e-9)


def test_toy_gemv_on_pim_by_hand(toy_llm):
    r = nmc.analyze(toy_llm, TOY_PIM, phase="decode", batch=3, context=10, mapping="pim-gemv")
    q = ops_of(r)["qkv_proj"]
    assert q["engine"] == "pim"
    # W = 64 x 128 x 2 B = 16 KiB; buffer 64 B holds 64 / (2 x 16 x 2 B) = 1 vector: 3 passes
    assert q["dram_bytes"] == 3 * 16384
    # 192 activations / 8 units x 30 ns
    assert q["t_memory_s"] == pytest.approx(720e-9)
    # 2 x 3 x 128 x 64 FLOP on 8 units x 32 GFLOPS
    assert q["t_compute_s"] == pytest.approx(192e-9)
    # input 3 x 64 x 2 B written to each of 2 channels at 32 GB/s each; output 3 x 128 x 2 B at 64 GB/s
    assert q["t_comm_s"] == pytest.approx(2 * 384 / 64e9 + 768 / 64e9)
    assert q["bound"] == "memory"
    # energy per instance: bank 49152 x 1 pJ + 192 act x 256 B x 0.5 pJ + bus (2 x 384 + 768) x 10 pJ
    # + 49152 FLOP x 1 pJ, times 2 layers
    assert q["energy_j"] == pytest.approx(2 * (49152 + 192 * 256 * 0.5 + 1536 * 10 + 49152) * 1e-12)
    # a 128 B buffer holds 2 vectors: ceil(3 / 2) = 2 passes over the weights
    r2 = nmc.analyze(toy_llm, toy(pim_buffer=128), phase="decode", batch=3, context=10,
                     mapping="pim-gemv")
    assert ops_of(r2)["qkv_proj"]["dram_bytes"] == 2 * 16384


def test_toy_attention_on_pim_by_hand(toy_llm):
    r = nmc.analyze(toy_llm, TOY_PIM, phase="decode", batch=3, context=10, mapping="pim-attention")
    s = ops_of(r)["attn_score"]
    assert s["engine"] == "pim"
    # keys 3 seq x 11 tokens x 2 kv heads x 16 x 2 B = 2112 B, read once per query of the GQA
    # group of 2 (buffer holds 1): 4224 B, plus 3 x 64 x 2 B of new K,V written = 4608 B
    assert s["dram_bytes"] == 4608
    # run of one (sequence, head) = 11 x 16 x 2 = 352 B > page: 18 activations, 3 per unit
    assert s["t_memory_s"] == pytest.approx(90e-9)
    assert ops_of(r)["qkv_proj"]["engine"] == "host"


# ---- invariants ------------------------------------------------------------------------------
@pytest.mark.parametrize("mapping", ["pim-gemv", "pim-attention", "pim-all-decode", "auto"])
def test_more_banks_never_slower(toy_llm, mapping):
    prev = np.inf
    for banks in (1, 2, 4, 8, 16, 32, 64):
        r = nmc.analyze(toy_llm, toy(pim_banks=banks), phase="decode", batch=4, context=300,
                        mapping=mapping)
        assert r.latency_s <= prev * (1 + 1e-12)
        prev = r.latency_s
    # without a power budget: under a fixed budget per device, more banks split each matrix into
    # more partly used rows, whose activation energy the budget pays for (tests/test_pim_limits.py)
    prev = np.inf
    for banks in (32, 64, 128, 256):
        r = nmc.analyze("llama-2-7b", "hbm3-pim", phase="decode", batch=8, context=2048,
                        mapping=mapping, pim_banks=banks, pim_bank_groups=8, pim_power=0)
        assert r.latency_s <= prev * (1 + 1e-12)
        prev = r.latency_s


def test_row_locality_degradation_monotone():
    for name in ("hbm3-pim", "hbm-pim", "aim-gddr6", TOY_PIM):
        a = nmc.load_arch(name)
        v = a.vector()
        runs = np.geomspace(1, 64 * a["pim_page"], 40)
        bw = [k.pim_internal_bw(v, r) for r in runs]
        assert all(x <= y * (1 + 1e-12) for x, y in itertools.pairwise(bw))
        assert bw[0] < 0.2 * bw[-1]                   # tiny runs: activations dominate
        locs = np.linspace(0.01, 1.0, 30)
        bwl = [k.pim_internal_bw(a.with_(pim_locality=x).vector(), 1e12) for x in locs]
        assert all(x <= y * (1 + 1e-12) for x, y in itertools.pairwise(bwl))
        # and an end-to-end decode gets slower as locality falls
        t = [nmc.analyze("llama-2-7b", a.with_(pim_locality=x), context=1024,
                         mapping="pim-all-decode").latency_s for x in (1.0, 0.5, 0.25, 0.1)]
        assert t == sorted(t)


def test_more_pim_compute_never_slower_and_longer_trcd_never_faster():
    t = [nmc.analyze("llama-2-7b", "hbm3-pim", batch=16, context=1024, mapping="pim-all-decode",
                     pim_unit_flops=f * 1e9).latency_s for f in (2, 5, 10.4, 20, 40)]
    assert t == sorted(t, reverse=True)
    t = [nmc.analyze("llama-2-7b", "hbm3-pim", batch=1, context=1024, mapping="pim-all-decode",
                     pim_trcd=x * 1e-9, pim_tras=40e-9).latency_s for x in (5, 10, 20, 30)]
    assert t == sorted(t)


# ---- mapping policies --------------------------------------------------------------------------
def test_mapping_names_agree():
    assert MAPPINGS == MAPPING_NAMES


def test_policies_place_operators(toy_llm):
    def engines(mapping, phase="decode"):
        r = nmc.analyze(toy_llm, TOY_PIM, phase=phase, batch=2, context=64, prompt=32,
                        mapping=mapping)
        return {o["name"]: o["engine"] for o in r.ops}
    e = engines("host-only")
    assert set(e.values()) == {"host"}
    e = engines("pim-gemv")
    assert {n for n, v in e.items() if v == "pim"} == {"qkv_proj", "o_proj", "mlp_up", "mlp_down", "lm_head"}
    e = engines("pim-attention")
    assert {n for n, v in e.items() if v == "pim"} == {"attn_score", "softmax", "attn_context"}
    e = engines("pim-all-decode")
    assert {n for n, v in e.items() if v == "host"} == {"embed"}
    # prefill passes are GEMMs, not GEMVs: the decode policies leave them on the host
    assert set(engines("pim-all-decode", phase="prefill").values()) == {"host"}


def test_auto_keeps_weights_in_one_place_and_is_never_slower(toy_llm):
    for b in (1, 4, 64, 512):
        for model, arch in ((toy_llm, TOY_PIM), ("llama-2-7b", "hbm3-pim"), ("llama-2-7b", "hbm-pim")):
            r = {m: nmc.analyze(model, arch, batch=b, context=512, mapping=m) for m in MAPPINGS}
            gemm = {o["engine"] for o in r["auto"].ops if o["kind"] in ("gemm", "lm_head")}
            assert len(gemm) == 1
            best = min(x.latency_s for m, x in r.items() if m != "auto")
            assert r["auto"].latency_s <= best * 1.02


def test_gpu_unchanged_auto_is_host_only(toy_llm, toy_arch):
    a = nmc.load_arch(toy_arch)
    assert a["pim_banks"] == 0
    for phase in ("prefill", "decode", "generate"):
        r1 = nmc.analyze(toy_llm, toy_arch, phase=phase, batch=3, generate=4, mapping="auto")
        r2 = nmc.analyze(toy_llm, toy_arch, phase=phase, batch=3, generate=4, mapping="host-only")
        assert r1.results == r2.results
        assert {o["engine"] for o in r1.ops} == {"host"}


# ---- bad input -----------------------------------------------------------------------------------
def _write(tmp_path, text):
    p = tmp_path / "bad-pim.toml"
    src = Path(TOY_PIM).read_text().replace('name = "toy-pim"', 'name = "bad-pim"')
    for old, new in text:
        assert old in src
        src = src.replace(old, new)
    p.write_text(src)
    return str(p)


def test_bad_parameters_rejected(tmp_path):
    with pytest.raises(ConfigError, match="pim_banks.*needs banks"):
        nmc.load_arch(_write(tmp_path, [("pim_banks = 4", "pim_banks = 0")]))
    with pytest.raises(ConfigError, match="pim_page.*smaller than one burst"):
        nmc.load_arch(_write(tmp_path, [('pim_page = "256 B"', 'pim_page = "16 B"')]))
    with pytest.raises(ConfigError, match="pim_banks_per_unit"):
        nmc.load_arch(_write(tmp_path, [("pim_banks_per_unit = 1", "pim_banks_per_unit = 3")]))
    with pytest.raises(ConfigError, match="pim_bank_groups"):
        nmc.load_arch(_write(tmp_path, [("pim_bank_groups = 1", "pim_bank_groups = 3")]))
    with pytest.raises(ConfigError, match="pim_tccd.*out of range"):
        nmc.load_arch(_write(tmp_path, [('pim_tccd = "1 ns"', 'pim_tccd = 0')]))
    with pytest.raises(ConfigError, match="pim_unit_flops"):
        nmc.load_arch(_write(tmp_path, [('pim_unit_flops = "32 GFLOPS"', "pim_unit_flops = 0")]))
    with pytest.raises(ConfigError, match="unknown key pim_org.pim_bankz"):
        nmc.load_arch(_write(tmp_path, [("pim_banks = 4", "pim_bankz = 4")]))
    with pytest.raises(ConfigError, match="needs banks"):
        toy(pim_banks=0)
    with pytest.raises(ConfigError, match="smaller than one burst"):
        toy(pim_burst="512 B")


def test_bad_mapping_rejected(toy_llm, toy_arch):
    with pytest.raises(ScenarioError, match="mapping must be one of"):
        nmc.analyze(toy_llm, TOY_PIM, mapping="pim-everything")
    with pytest.raises(ScenarioError, match="needs a near-memory"):
        nmc.analyze(toy_llm, toy_arch, mapping="pim-gemv")


# ---- presets ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [p for p in PIM_PRESETS if p in list_archs()
                                  and (p != "h100+hbm3-pim" or "h100-sxm" in list_archs())])
def test_presets_load_and_pim_pays_at_batch_one(name):
    a = nmc.load_arch(name)
    assert a.family == "pim" and a["pim_banks"] > 0
    for key in a.values:
        if key.startswith("pim_") and key in a.sources:
            assert a.sources[key]["ref"]
    f = pim_figures(name)
    assert f["internal_eff_bw"] > f["external_bw"]
    model = "llama-2-7b"
    host = nmc.analyze(model, name, context=1024, mapping="host-only")
    auto = nmc.analyze(model, name, context=1024)
    assert auto.latency_s <= host.latency_s


def test_preset_figures_match_papers():
    # Aquabolt-XL: 128 PCUs x 9.6 GFLOPS = 1.23 TFLOPS per cube, internal ~4x the 307 GB/s external
    f = pim_figures("hbm-pim")
    assert f["pim_flops"] / 4 == pytest.approx(1.2288e12)
    assert f["internal_peak_bw"] / (1 - 0.0667) / f["external_bw"] == pytest.approx(4.0, rel=0.01)
    # GDDR6-AiM: 32 GFLOPS x 32 banks = 1 TFLOPS per chip, 32 GB/s per bank = 16x the 64 GB/s external
    f = pim_figures("aim-gddr6")
    assert f["pim_flops"] / 16 == pytest.approx(1.024e12)
    assert f["internal_peak_bw"] / (1 - 0.0106) / f["external_bw"] == pytest.approx(16.0, rel=0.01)
    # AttAcc bank-level HBM3-PIM: internal = 16x external, FLOPS = internal bandwidth (opb = 1)
    f = pim_figures("hbm3-pim")
    assert f["internal_peak_bw"] / (1 - 0.0897) / f["external_bw"] == pytest.approx(16.0, rel=0.01)
    assert f["pim_flops"] == pytest.approx(f["internal_peak_bw"] / (1 - 0.0897), rel=0.02)


# ---- the product question: H100 vs H100 + HBM3-PIM -------------------------------------------------
needs_h100 = pytest.mark.skipif("h100-sxm" not in list_archs(), reason="h100-sxm preset not bundled yet")
BATCHES = [1, 2, 4, 8, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 256]


@needs_h100
def test_h100_host_only_equals_h100_sxm():
    for b in (1, 64):
        g = nmc.analyze("llama-2-70b", "h100-sxm", batch=b, context=4096)
        # the PIM stacks' static power and lost capacity are there whether the units run or not
        full = nmc.analyze("llama-2-70b", "h100+hbm3-pim", batch=b, context=4096, mapping="host-only")
        assert full.latency_s == pytest.approx(g.latency_s, rel=1e-12)
        assert full.results["energy_j"] - g.results["energy_j"] == pytest.approx(5 * 0.5 * g.latency_s, rel=1e-9)
        p = nmc.analyze("llama-2-70b", "h100+hbm3-pim", batch=b, context=4096, mapping="host-only",
                        pim_p_static=0, pim_capacity_loss=0)
        # same equations; the GPU-only path sums them in structure x rate order (kernels.cost_host),
        # the PIM system's host-only mapping row by row, so equal to rounding
        assert p.results.keys() == g.results.keys()
        for key, v in g.results.items():
            if isinstance(v, float):
                assert p.results[key] == pytest.approx(v, rel=1e-12, nan_ok=True), key
            else:
                assert p.results[key] == v, key


@needs_h100
def test_h100_pim_crossover_moves_with_pim_compute_and_buffer():
    speed = []
    for b in (1, 4, 16, 64, 256):
        g = nmc.analyze("llama-2-70b", "h100-sxm", batch=b, context=4096)
        p = nmc.analyze("llama-2-70b", "h100+hbm3-pim", batch=b, context=4096)
        assert p.tokens_per_s >= g.tokens_per_s
        speed.append(p.tokens_per_s / g.tokens_per_s)
    assert speed[0] > 5                          # batch 1: internal bandwidth ~11x the HBM3 bus
    assert speed[0] > speed[1] > speed[2]        # PIM GEMV pays less and less ...
    assert speed[4] > 1.2                        # ... but attention over the KV cache still does
    base = crossover("llama-2-70b", "h100+hbm3-pim", BATCHES)
    assert 16 <= base["crossover_batch"] <= 32 and base["reason"] == "compute"
    fast = crossover("llama-2-70b", "h100+hbm3-pim", BATCHES, pim_unit_flops="20.8 GFLOPS")
    assert fast["crossover_batch"] >= 1.5 * base["crossover_batch"]
    slow = crossover("llama-2-70b", "h100+hbm3-pim", BATCHES, pim_unit_flops="5.2 GFLOPS")
    assert slow["crossover_batch"] < base["crossover_batch"]
    # ample compute but a buffer for one vector: weights re-read per vector -> memory-bound crossover
    buf = crossover("llama-2-70b", "h100+hbm3-pim", BATCHES, pim_unit_flops="83 GFLOPS",
                    pim_buffer="64 B")
    assert buf["reason"] == "memory" and buf["crossover_batch"] <= base["crossover_batch"]
    # auto moves the weight GEMMs to the host at the crossover, keeps attention on PIM
    r = nmc.analyze("llama-2-70b", "h100+hbm3-pim", batch=256, context=4096)
    eng = {o["kind"]: o["engine"] for o in r.ops}
    assert eng["gemm"] == "host" and eng["attn_score"] == "pim"


# ---- CLI and roofline ------------------------------------------------------------------------------
def test_cli_pim_and_mapping(capsys, toy_llm):
    assert main(["pim", "--arch", "hbm3-pim"]) == 0
    out = capsys.readouterr().out
    assert "internal peak" in out and "1024 PIM units" in out
    assert main(["analyze", "--model", toy_llm, "--arch", TOY_PIM, "--mapping", "pim-gemv"]) == 0
    out = capsys.readouterr().out
    assert "mapping pim-gemv" in out and " pim" in out
    assert main(["compare", "--model", toy_llm, "--arch", TOY_PIM, "--batch", "1,64"]) == 0
    out = capsys.readouterr().out
    assert "PIM%" in out and "gemm_on" in out      # pim_share as a percentage
    with pytest.raises(SystemExit):
        main(["analyze", "--model", toy_llm, "--arch", TOY_PIM, "--mapping", "nope"])
    assert main(["analyze", "--model", toy_llm, "--arch", "tests/data/toy-arch.toml",
                 "--mapping", "pim-gemv"]) == 2


def test_roofline_draws_pim_engine(tmp_path):
    import matplotlib.pyplot as plt

    from nmc.plot.roofline import draw_roofline, roofline_chart
    r = nmc.analyze("llama-2-7b", "hbm3-pim", batch=4, context=1024)
    fig, ax = plt.subplots()
    kinds = draw_roofline(ax, r.arch, r.ops)
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert any(lb.startswith("PIM internal 5.69 TB/s") for lb in labels)   # power-limited
    assert any("PIM FP16 10.65 TFLOP/s" in t.get_text() for t in ax.texts)
    assert any(lb.startswith("ran on PIM") for lb in kinds)
    # operators that ran on PIM sit at FLOP per byte read in the banks, under the PIM roof
    pim_ops = [o for o in r.ops if o["engine"] == "pim" and o["flops"] > 0]
    assert pim_ops and all(o["attained_flops"] <= o["peak_flops"] * 1.0001 for o in pim_ops)
    plt.close(fig)
    paths = roofline_chart([r], tmp_path / "roof.png")
    assert all(p.exists() for p in paths)


def test_sweep_over_mapping_and_banks_matches_analyze():
    from nmc.sweeps import sweep
    t = sweep("llama-2-7b", "hbm3-pim", {"mapping": ["host-only", "pim-gemv", "auto"],
                                         "pim_banks": [8, 32]}, phase="decode", context=1024)
    for i in range(len(t)):
        r = nmc.analyze("llama-2-7b", "hbm3-pim", context=1024, mapping=t["mapping"][i],
                        pim_banks=int(t["pim_banks"][i]))
        assert t["latency_s"][i] == pytest.approx(r.latency_s, rel=1e-12)
