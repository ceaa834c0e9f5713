"""PIM limits (docs/nmc.md sections 2, 4, 5, 8): the activation window (tFAW / tRRD), the power
budget, the capacity the compute units take, their static power and host/PIM overlap. Hand-derived
cases on the toy PIM system (tests/data/toy-pim.toml: 1 device x 2 channels x 4 banks, one unit
per bank, 256 B rows, 32 B per 1 ns, tRCD = tRP = 10 ns, tRAS = 20 ns, no refresh, 1 pJ/B bank
read, 0.5 pJ/B activation, 1 pJ/FLOP), invariants, the AttAcc 16x -> 9x derate, GPU presets
unchanged, and bad values rejected."""
from pathlib import Path

import numpy as np
import pytest

import nmc
from nmc.analysis.pim import pim_figures
from nmc.engine import pim as k
from nmc.errors import ConfigError

DATA = Path(__file__).parent / "data"
TOY_PIM = str(DATA / "toy-pim.toml")
ROW = 256.0                 # toy page
T_TIMING = 30e-9            # toy whole-row segment: max(tRAS 20, tRCD 10 + 8 x 1 ns) + tRP 10


def toy(**kw):
    return nmc.load_arch(TOY_PIM).with_(**kw)


def bw(arch):
    return k.pim_internal_bw(arch.vector(), ROW)


def ops_of(r):
    return {o["name"]: o for o in r.ops}


# ---- activation window ---------------------------------------------------------------------------
def test_tfaw_by_hand():
    # no limit set: DRAM timing, 8 units x 256 B / 30 ns
    assert bw(toy()) == pytest.approx(8 * 256 / 30e-9)
    # tFAW 40 ns, 4 activations per window, one domain per channel: a domain's 4 units each open
    # one row per segment, so a segment lasts >= 4 x 40/4 ns = 40 ns: 4 x 256 B / 40 ns = 25.6 GB/s
    # per channel, 51.2 GB/s for the two
    a = toy(pim_tfaw="40 ns")
    assert k.pim_act_slot(a.vector()) == pytest.approx(10e-9)
    assert k.pim_segment(a.vector(), ROW)[2] == pytest.approx(40e-9)
    assert bw(a) == pytest.approx(51.2e9)
    # tRRD 12 ns is the tighter limit: 4 x 12 ns = 48 ns per segment
    assert bw(toy(pim_tfaw="40 ns", pim_trrd="12 ns")) == pytest.approx(8 * 256 / 48e-9)
    # two ranks per channel: 2 units per domain, 20 ns < 30 ns of timing: not binding
    assert bw(toy(pim_tfaw="40 ns", pim_ranks=2)) == pytest.approx(8 * 256 / T_TIMING)
    # all-bank PIM activations exempt (weight 0) or half an ACT each (20 ns): not binding
    assert bw(toy(pim_tfaw="40 ns", pim_act_weight=0)) == pytest.approx(8 * 256 / T_TIMING)
    assert bw(toy(pim_tfaw="40 ns", pim_act_weight=0.5)) == pytest.approx(8 * 256 / T_TIMING)
    # a weight of 2 (a PIM activation counts twice): 80 ns per segment
    assert bw(toy(pim_tfaw="40 ns", pim_act_weight=2)) == pytest.approx(8 * 256 / 80e-9)
    # streaming 16 KiB: 64 activations over 8 units, 8 each x 40 ns
    t, n_act, used = k.pim_stream(a.vector(), 16384.0, ROW, 0.0)
    assert (n_act, used) == (64, 8) and t == pytest.approx(320e-9)
    # a small stream on 2 units (one per channel): one activation per domain, no wait
    t, n_act, used = k.pim_stream(a.vector(), 64.0, ROW, 0.0)
    assert (n_act, used) == (2, 2) and t == pytest.approx(T_TIMING)


def test_tfaw_hbm2_ganged_activations_by_hand():
    # Newton / NeuPIMs style: 16 banks per rank, 1 KiB rows, 4 ACTs per 30 ns: a rank opens at most
    # 4 rows per 30 ns, 4 x 1 KiB / 30 ns = 136.5 GB/s, whatever the column rate
    a = toy(pim_banks=16, pim_page="1 KiB", pim_tccd="0.1 ns", pim_tfaw="30 ns")
    v = a.vector()
    u, _nb, t_seg = k.pim_segment(v, 1024.0)
    assert t_seg == pytest.approx(16 * 7.5e-9)
    assert k.pim_internal_bw(v, 1024.0) / 2 == pytest.approx(4 * 1024 / 30e-9)


# ---- power budget ------------------------------------------------------------------------------------
def test_power_budget_by_hand():
    # 10 mW for the device: a whole-row segment costs 256 x 1 + 256 x 0.5 = 384 pJ; 8 units need
    # 8 x 384 pJ / 10 mW = 307.2 ns per segment: B = budget / energy per byte = 10 mW / 1.5 pJ/B
    a = toy(pim_power="10 mW")
    assert k.pim_segment(a.vector(), ROW)[2] == pytest.approx(307.2e-9)
    assert bw(a) == pytest.approx(0.01 / 1.5e-12)
    # 100 mW: 30.72 ns, just above the 30 ns of timing; 1 W: timing binds
    assert k.pim_segment(toy(pim_power="100 mW").vector(), ROW)[2] == pytest.approx(30.72e-9)
    assert bw(toy(pim_power="1 W")) == pytest.approx(8 * 256 / T_TIMING)
    # a 64 B run pays a whole row's activation energy: 64 + 128 = 192 pJ per segment
    v = toy(pim_power="10 mW").vector()
    assert k.pim_segment(v, 64.0)[2] == pytest.approx(8 * 192e-12 / 0.01)


def test_power_budget_counts_the_units_flops(toy_llm):
    # qkv GEMV at batch 3: 49152 B streamed (16 KiB x 3 passes), 49152 FLOP, 192 row activations:
    # dynamic energy 49152 x 1 + 192 x 256 x 0.5 + 49152 x 1 = 122880 pJ; at 100 mW the op cannot
    # take less than 1228.8 ns (timing alone: 720 ns)
    r = nmc.analyze(toy_llm, toy(pim_power="100 mW"), phase="decode", batch=3, context=10,
                    mapping="pim-gemv")
    q = ops_of(r)["qkv_proj"]
    assert q["t_memory_s"] == pytest.approx(122880e-12 / 0.1)
    assert q["energy_j"] / 2 == pytest.approx((122880 + 1536 * 10) * 1e-12)    # 2 layers, + bus


def test_attacc_power_limit_16x_to_9x():
    # AttAcc (artifact src/config.py): bank-level internal bandwidth 16x the 670.4 GB/s external
    # without the power limit, 9x with it. The preset's budget reproduces the 9x at one FLOP per
    # byte from whole rows (before refresh), and the 16x column peak is unchanged.
    for name in ("hbm3-pim", "h100+hbm3-pim"):
        a = nmc.load_arch(name)
        v = a.vector()
        d = a["pim_devices"]
        f = pim_figures(name)
        assert f["internal_peak_bw"] / (1 - a["pim_refresh"]) / f["external_bw"] == \
            pytest.approx(16.0, rel=0.01)
        units = k.pim_units(v)
        t = k.pim_segment_used(v, 1024.0, units, a["pim_e_flop"])[2]
        assert units * 1024 / t / d / 670.4e9 == pytest.approx(9.0, rel=2e-3)
        assert f["limited_by"] == "power"
        # the whole-row effective figure (after refresh, no FLOP energy) and the old 11.2x
        assert f["internal_eff_bw"] / f["external_bw"] == pytest.approx(8.54, rel=0.01)
        assert f["internal_timing_bw"] / f["external_bw"] == pytest.approx(11.2, rel=0.01)
        # without the budget the unit is back to DRAM timing
        assert pim_figures(a.with_(pim_power=0))["internal_eff_bw"] == \
            pytest.approx(f["internal_timing_bw"])


# ---- capacity, static power -----------------------------------------------------------------------
def test_capacity_loss_by_hand(toy_llm):
    # toy: 16 GB, all usable. One device of 16 GB losing a quarter to its units leaves 12 GB: the
    # results equal those of a 12 GB toy without loss (fits and max_batch included)
    lossy = toy(pim_capacity="16 GB", pim_capacity_loss=0.25)
    plain = toy(mem_capacity="12 GB")
    assert k.usable_capacity(lossy.vector()) == pytest.approx(12e9)
    for phase in ("decode", "generate"):
        r1 = nmc.analyze(toy_llm, lossy, phase=phase, batch=2, generate=4)
        r2 = nmc.analyze(toy_llm, plain, phase=phase, batch=2, generate=4)
        assert r1.results == r2.results
    # max_batch falls exactly with the capacity: floor((cap - weights) / per-sequence bytes)
    base = nmc.analyze("llama-2-7b", "hbm-pim", batch=1, context=2048)
    w = base.results["weight_bytes"]
    per_seq = (base.results["kv_bytes"] + base.results["activation_bytes"])
    assert base.results["max_batch"] == int(((32e9 - 4 * 8e9 * 0.25) * 0.9 - w) // per_seq)
    no_loss = nmc.analyze("llama-2-7b", "hbm-pim", batch=1, context=2048, pim_capacity_loss=0)
    assert no_loss.results["max_batch"] == int((32e9 * 0.9 - w) // per_seq)
    prev = np.inf
    for loss in (0, 0.1, 0.25, 0.5, 0.7):
        mb = nmc.analyze("llama-2-7b", "hbm-pim", context=2048, pim_capacity_loss=loss).results["max_batch"]
        assert mb <= prev
        prev = mb


def test_capacity_of_the_presets():
    # Samsung HBM-PIM: 6 GB cubes where the stock cube holds 8 GB; 4 cubes on the MI100
    f = pim_figures("hbm-pim")
    assert f["capacity_lost"] == pytest.approx(8e9)
    assert f["usable_capacity"] == pytest.approx(24e9 * 0.9)
    # H100 + AttAcc-style stacks at the same die size: 10.84 % of 5 x 16 GiB
    f = pim_figures("h100+hbm3-pim")
    assert f["capacity_lost"] == pytest.approx(0.1084 * 80 * 2**30)


def test_static_power_by_hand(toy_llm):
    r0 = nmc.analyze(toy_llm, TOY_PIM, phase="decode", batch=2, tp=2)
    r1 = nmc.analyze(toy_llm, toy(pim_p_static="2 W"), phase="decode", batch=2, tp=2)
    assert r1.latency_s == r0.latency_s
    # 1 device x 2 W for the whole step, on each of the 2 tp devices
    assert r1.results["energy_j"] - r0.results["energy_j"] == pytest.approx(2 * 2.0 * r0.latency_s)
    # energy never below the static floor
    assert r1.results["energy_j"] >= 2 * (0 + 2.0) * r1.latency_s


# ---- overlap -------------------------------------------------------------------------------------
@pytest.mark.parametrize("phase", ["decode", "generate"])
def test_overlap_is_max_of_host_and_pim(toy_llm, phase):
    kw = dict(phase=phase, batch=4, context=300, prompt=16, generate=3, mapping="pim-attention")
    r0 = nmc.analyze(toy_llm, TOY_PIM, **kw)
    if phase == "decode":
        host = sum(o["time_s"] for o in r0.ops if o["engine"] == "host")
        pim = sum(o["time_s"] for o in r0.ops if o["engine"] == "pim")
        assert host > 0 and pim > 0
        assert r0.latency_s == pytest.approx(host + pim)
        r1 = nmc.analyze(toy_llm, toy(pim_overlap=1), **kw)
        assert r1.latency_s == pytest.approx(max(host, pim))
        rh = nmc.analyze(toy_llm, toy(pim_overlap=0.5), **kw)
        assert rh.latency_s == pytest.approx(host + pim - 0.5 * min(host, pim))
    else:
        # prefill has nothing on PIM: the first token's time is unchanged; decode steps shrink
        r1 = nmc.analyze(toy_llm, toy(pim_overlap=1), **kw)
        assert r1.results["ttft_s"] == r0.results["ttft_s"]
        assert r1.results["tpot_s"] < r0.results["tpot_s"]
    # host-only: nothing to overlap
    h0 = nmc.analyze(toy_llm, TOY_PIM, phase=phase, batch=4, context=300, mapping="host-only")
    h1 = nmc.analyze(toy_llm, toy(pim_overlap=1), phase=phase, batch=4, context=300,
                     mapping="host-only")
    assert h0.results == h1.results


# ---- invariants ------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 16, 128])
def test_looser_limits_never_slower(batch):
    kw = dict(phase="decode", batch=batch, context=2048)
    for name in ("h100+hbm3-pim", "hbm3-pim"):
        t = [nmc.analyze("llama-2-7b", name, pim_power=p, **kw).latency_s
             for p in (2, 5, 10, 20, 27.5, 50, 1e4)]
        assert all(x >= y * (1 - 1e-12) for x, y in zip(t, t[1:]))
        assert nmc.analyze("llama-2-7b", name, pim_power=0, **kw).latency_s <= t[-1] * (1 + 1e-12)
        # a tighter budget is slower where it binds (batch 1: every GEMV streams on PIM)
        if batch == 1:
            assert t[0] > 2 * t[-1]
    for mapping in ("pim-gemv", "pim-attention", "auto"):
        t = [nmc.analyze("llama-2-7b", "hbm3-pim", mapping=mapping, pim_act_weight=1,
                         pim_power=0, pim_tfaw=f"{x} ns", **kw).latency_s
             for x in (400, 200, 100, 60, 30, 0)]
        assert all(x >= y * (1 - 1e-12) for x, y in zip(t, t[1:]))
        t = [nmc.analyze("llama-2-7b", "hbm3-pim", mapping=mapping, pim_act_weight=1,
                         pim_power=0, pim_trrd=f"{x} ns", **kw).latency_s
             for x in (50, 20, 10, 5, 0)]
        assert all(x >= y * (1 - 1e-12) for x, y in zip(t, t[1:]))
        t = [nmc.analyze("llama-2-7b", "h100+hbm3-pim", mapping=mapping, pim_overlap=f,
                         **kw).latency_s for f in (0, 0.25, 0.5, 1)]
        assert all(x >= y * (1 - 1e-12) for x, y in zip(t, t[1:]))


def test_gpu_presets_ignore_pim_limits(toy_llm, toy_arch):
    # pim_banks = 0: no PIM engine, the new parameters change nothing (bit for bit)
    limits = dict(pim_power="1 W", pim_tfaw="30 ns", pim_trrd="5 ns", pim_capacity="8 GB",
                  pim_capacity_loss=0.5, pim_p_static="50 W", pim_overlap=1, pim_ranks=2)
    for arch, model in ((toy_arch, toy_llm), ("h100-sxm", "llama-2-7b"), ("a100-80g-sxm", "llama-2-7b")):
        for phase in ("decode", "prefill", "generate"):
            r0 = nmc.analyze(model, arch, phase=phase, batch=4, generate=4)
            r1 = nmc.analyze(model, arch, phase=phase, batch=4, generate=4, **limits)
            assert r0.results == r1.results


def test_sweep_over_limits_matches_analyze():
    from nmc.sweeps import sweep
    t = sweep("llama-2-7b", "hbm3-pim", {"pim_power": ["5 W", "27.5 W", 0],
                                         "pim_overlap": [0, 1]}, phase="decode", context=1024,
              batch=8)
    for i in range(len(t)):
        r = nmc.analyze("llama-2-7b", "hbm3-pim", context=1024, batch=8,
                        pim_power=float(t["pim_power"][i]), pim_overlap=float(t["pim_overlap"][i]))
        assert t["latency_s"][i] == pytest.approx(r.latency_s, rel=1e-12)
        assert t["energy_j"][i] == pytest.approx(r.results["energy_j"], rel=1e-12)
        assert t["max_batch"][i] == r.results["max_batch"]


# ---- bad values --------------------------------------------------------------------------------------
def _write(tmp_path, edits):
    p = tmp_path / "bad-pim.toml"
    src = Path(TOY_PIM).read_text().replace('name = "toy-pim"', 'name = "bad-pim"')
    for old, new in edits:
        assert old in src
        src = src.replace(old, new)
    p.write_text(src)
    return str(p)


SRC = '\npim_x = { ref = "test value", confidence = "estimate" }\n'


@pytest.mark.parametrize("edits,msg", [
    ([("[pim_timing]", '[pim_limits]\npim_power = "-1 W"\n\n[pim_timing]')],
     r"pim_limits\.pim_power = -1 is out of range"),
    ([("[pim_timing]", "[pim_limits]\npim_act_weight = 100\n\n[pim_timing]")],
     r"pim_limits\.pim_act_weight = 100 is out of range"),
    ([("[pim_timing]", "[pim_limits]\npim_faw_acts = 2.5\n\n[pim_timing]")],
     r"pim_faw_acts = 2.5 must be a whole number"),
    ([("pim_banks = 4", "pim_banks = 4\npim_ranks = 3")],
     r"pim_org\.pim_ranks = 3 must divide pim_banks = 4"),
    ([("pim_banks = 4", "pim_banks = 4\npim_capacity_loss = 1.5")],
     r"pim_org\.pim_capacity_loss = 1\.5 is out of range"),
    ([("pim_banks = 4", "pim_banks = 4\npim_capacity_loss = 0.25")],
     r"pim_capacity_loss = 0\.25 needs pim_org\.pim_capacity"),
    ([("pim_banks = 4", 'pim_banks = 4\npim_capacity = "64 GB"\npim_capacity_loss = 0.5')],
     r"pim_capacity_loss = 0\.5 removes 3.2e\+10 B, not less than mem_capacity"),
    ([("pim_broadcast = 0", "pim_broadcast = 0\npim_overlap = 2")],
     r"pim_host\.pim_overlap = 2 is out of range"),
    ([("[pim_timing]", '[pim_limits]\npim_tfaw = "-3 ns"\n\n[pim_timing]')],
     r"pim_limits\.pim_tfaw = -3e-09 is out of range"),
])
def test_bad_limit_values_rejected(tmp_path, edits, msg):
    path = _write(tmp_path, edits)
    # every key given needs a source: add them so the value check is what fails
    text = Path(path).read_text()
    for key in ("pim_power", "pim_act_weight", "pim_faw_acts", "pim_ranks", "pim_capacity_loss",
                "pim_capacity", "pim_overlap", "pim_tfaw"):
        if f"\n{key} = " in text and f"\n{key} = {{" not in text:
            text += SRC.replace("pim_x", key)
    Path(path).write_text(text)
    with pytest.raises(ConfigError, match=msg) as e:
        nmc.load_arch(path)
    assert "\n" not in str(e.value) and "bad-pim.toml" in str(e.value)


def test_limit_without_source_rejected(tmp_path):
    path = _write(tmp_path, [("[pim_timing]", '[pim_limits]\npim_power = "1 W"\n\n[pim_timing]')])
    with pytest.raises(ConfigError, match=r"no \[sources\] entry for pim_power"):
        nmc.load_arch(path)


# ---- papers reproduced with their own baselines (models/measurements/pim.csv) ---------------------
def _pim_rows(tmp_path, rows):
    import csv
    from nmc.validation import measurements
    p = tmp_path / "p.csv"
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=measurements.COLUMNS)
        w.writeheader()
        for r in rows:
            base = dict(group="pim", metric="speedup", value=2, kind="measured", split="evaluation",
                        source="test")
            base.update(r)
            w.writerow({k: base.get(k, "") for k in measurements.COLUMNS})
    return measurements.load([p])


NEU = dict(model="gpt3-6.7b", weights="fp16", phase="decode", batch=256, prompt=80, output=296, tp=4)


def test_predictor_uses_the_baseline_column(tmp_path):
    from nmc.validation.pim import predict_pim
    from nmc.validation.registry import Skip
    rows = _pim_rows(tmp_path, [
        dict(id="a", arch="neupims", baseline="neupims-npu", mapping="pim-attention", **NEU),
        dict(id="b", arch="neupims", baseline="neupims-naive", mapping="pim-attention", **NEU),
        dict(id="c", arch="neupims", baseline="neupims-npu", mapping="pim-attention",
             **dict(NEU, batch="")),
        dict(id="d", arch="upmem", baseline="upmem", mapping="pim-gemv", phase="kernel",
             model="INT8 GEMV", weights="int8"),
        dict(id="e", arch="attacc", baseline="attacc-dgx-large", mapping="pim-attention",
             model="gpt3-175b", weights="fp16", phase="decode", batch="max", prompt=2048,
             output=128, tp=8),
        dict(id="f", arch="hbm-pim", baseline="mi100", mapping="pim-gemv", phase="kernel",
             model="GEMV microkernel"),
    ])
    by = {r["id"]: r for r in rows}
    kw = dict(phase="decode", batch=256, context=80 + 296 // 2, tp=4, weights="fp16",
              activations="fp16", kv="fp16")
    sys_ = nmc.analyze("gpt3-6.7b", "neupims", mapping="pim-attention", **kw)
    npu = nmc.analyze("gpt3-6.7b", "neupims-npu", **kw)               # no PIM: its host
    naive = nmc.analyze("gpt3-6.7b", "neupims-naive", mapping="pim-attention", **kw)
    assert predict_pim(by["a"]) == pytest.approx(npu.latency_s / sys_.latency_s, rel=1e-12)
    assert predict_pim(by["b"]) == pytest.approx(naive.latency_s / sys_.latency_s, rel=1e-12)
    # NeuPIMs vs its naive integration differs only in overlap: max(host, PIM) vs their sum
    host = sum(o["time_s"] for o in naive.ops if o["engine"] == "host")
    pim = sum(o["time_s"] for o in naive.ops if o["engine"] == "pim")
    assert naive.latency_s == pytest.approx(host + pim) and sys_.latency_s == pytest.approx(max(host, pim))
    with pytest.raises(Skip, match="no batch stated"):
        predict_pim(by["c"])
    with pytest.raises(Skip, match="baseline is the system itself"):
        predict_pim(by["d"])
    # batch max: the largest batch both systems fit at prompt + output tokens
    mb = min(nmc.analyze("gpt3-175b", x, phase="decode", batch=1, context=2176, tp=8,
                         weights="fp16", activations="fp16", kv="fp16",
                         mapping="pim-attention" if x == "attacc" else "host-only").results["max_batch"]
             for x in ("attacc", "attacc-dgx-large"))
    assert mb > 50
    kw = dict(phase="decode", batch=int(mb), context=2048 + 64, tp=8, weights="fp16",
              activations="fp16", kv="fp16")
    want = (nmc.analyze("gpt3-175b", "attacc-dgx-large", **kw).latency_s
            / nmc.analyze("gpt3-175b", "attacc", mapping="pim-attention", **kw).latency_s)
    assert predict_pim(by["e"]) == pytest.approx(want, rel=1e-12)
    # kernel rows: GEMV time of the baseline's host over the system's PIM GEMVs
    m = dict(phase="decode", batch=1, context=1024)
    g = nmc.analyze("llama-2-7b", "mi100", **m)
    p = nmc.analyze("llama-2-7b", "hbm-pim", mapping="pim-gemv", **m)
    t = lambda r: sum(o["time_s"] for o in r.ops if o["kind"] in ("gemm", "lm_head"))  # noqa: E731
    assert predict_pim(by["f"]) == pytest.approx(t(g) / t(p), rel=1e-12)


def test_pim_rows_bad_values(tmp_path):
    with pytest.raises(ConfigError, match=r"p\.csv:2: mapping 'pim-everything' not one of"):
        _pim_rows(tmp_path, [dict(id="x", arch="neupims", baseline="neupims-npu",
                                  mapping="pim-everything", **NEU)])
    from nmc.validation.pim import predict_pim
    rows = _pim_rows(tmp_path, [dict(id="y", arch="neupims", baseline="no-such-preset",
                                     mapping="pim-attention", **NEU)])
    with pytest.raises(ConfigError, match="unknown architecture 'no-such-preset'"):
        predict_pim(rows[0])


def test_paper_presets():
    # AttAcc: DGX_Large doubles DGX_Base's memory, DGX+AttAcc holds as much (80 GiB GPU + 5 x 16 GiB)
    base, large, att = (nmc.load_arch(n) for n in ("attacc-dgx-base", "attacc-dgx-large", "attacc"))
    assert large["mem_capacity"] == 2 * base["mem_capacity"] == att["mem_capacity"]
    assert att["mem_bw"] == base["mem_bw"] == 3352e9 and att["pim_capacity_loss"] == 0
    # NeuPIMs: 4 activations per 30 ns per rank, 64 ranks, 1 KiB rows: the window binds
    f = pim_figures("neupims")
    assert f["limited_by"] == "activation window"
    assert f["internal_eff_bw"] == pytest.approx(4 * 8 * 2 * 4 * 1024 / 30e-9 * (1 - 0.0667))
    naive = nmc.load_arch("neupims-naive")
    neu = nmc.load_arch("neupims")
    assert {k for k in neu.values if neu[k] != naive[k]} == {"pim_overlap"}
    # the baselines without PIM units keep the host block of their system
    for sys_name, base_name in (("aim-gddr6", "aimx-gddr6"), ("upmem", "xeon-4215-2s"),
                                ("hbm-pim", "mi100"), ("u280+hbm-pim", "alveo-u280"),
                                ("neupims", "neupims-npu")):
        s, b = nmc.load_arch(sys_name), nmc.load_arch(base_name)
        assert b["pim_banks"] == 0 and s["pim_banks"] > 0
        assert (s["mem_bw"], s["peak_bf16"]) == (b["mem_bw"], b["peak_bf16"])
