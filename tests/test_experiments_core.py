"""Smoke tests of experiments 1, 2, 3, 5 (experiments/*.py --quick into tmp_path) and of
`nmc report --quick`: the scripts run, write CSV + PNG, and the numbers obey what must hold
physically (decode at batch 1 is memory-bound on a GPU, more bandwidth never slows decode, a
70B model does not fit the tiles of one AIMC package, ...)."""
from __future__ import annotations

import itertools

import pytest
from exp_helpers import EXP, ROOT, check_png, num, read_rows, run_script  # noqa: F401











@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def test_roofline_three_archs(out):
    d = out / "e1"
    text = run_script("roofline_three_archs", d)
    assert "decode" in text and "prefill" in text
    check_png(d / "roofline_llama-2-7b.png")
    summ = {(r["system"], r["phase"]): r for r in read_rows(d / "summary.csv")}
    # GPU decode at batch 1 reads every weight once per token: memory-bound
    gpu_dec = summ[("GPU", "decode")]
    assert gpu_dec["bound"] == "memory" and num(gpu_dec["share_memory"]) > 0.5
    # prefill (2048 tokens per weight read) is far faster per token than decode on every system
    for s in ("GPU", "near-memory", "analog"):
        assert num(summ[(s, "prefill")]["tokens_per_s"]) > 10 * num(summ[(s, "decode")]["tokens_per_s"])
    # PIM lifts decode above the GPU it is built on
    assert num(summ[("near-memory", "decode")]["tokens_per_s"]) > 2 * num(gpu_dec["tokens_per_s"])
    ops = read_rows(d / "operators.csv")
    gpu_gemm = [o for o in ops if o["system"] == "GPU" and o["kind"] == "gemm"]
    for o in gpu_gemm:
        i = num(o["intensity_flop_per_byte"])
        if o["phase"] == "decode":      # bf16 GEMV: 2 FLOP per 2-byte weight, about 1 FLOP/B
            assert 0.9 < i < 1.1 and o["bound"] == "memory"
        else:                           # prefill GEMMs far right of the H100 ridge (~295 FLOP/B)
            assert i > 300
    # on the analog chip the weight GEMMs run in the crossbar tiles
    assert all(o["engine"] == "aimc_tiles" for o in ops if o["system"] == "analog" and o["kind"] == "gemm")


def test_decode_crossover(out):
    d = out / "e2"
    run_script("decode_crossover", d)
    check_png(d / "decode_crossover.png")
    rows = read_rows(d / "points.csv")
    pt = {(r["system"], int(r["batch"]), int(r["context"])): r for r in rows}
    for s in ("GPU", "GPU+PIM", "AIMC"):
        # a longer KV cache never makes a decode step faster, and attention's share grows
        a, b = pt[(s, 1, 512)], pt[(s, 1, 131072)]
        assert num(b["latency_per_token_s"]) > num(a["latency_per_token_s"])
        assert num(b["attention_share"]) > num(a["attention_share"])
    # batching raises GPU throughput while the GEMVs are memory-bound
    assert num(pt[("GPU", 16, 512)]["tokens_per_s"]) > 5 * num(pt[("GPU", 1, 512)]["tokens_per_s"])
    # auto mapping never loses to the GPU it runs on
    for (s, b, c), r in pt.items():
        if s == "GPU+PIM":
            assert num(r["tokens_per_s"]) >= 0.999 * num(pt[("GPU", b, c)]["tokens_per_s"])
    # 256 sequences of 128k tokens of llama-3-8b KV cache (~4 TB) fit no single device
    assert all(pt[(s, 256, 131072)]["fits"] == "False" for s in ("GPU", "GPU+PIM", "AIMC"))
    wins = read_rows(d / "winners.csv")
    assert {w["winner"] for w in wins} <= {"GPU", "GPU+PIM", "AIMC", "none"}


def test_walls(out):
    d = out / "e3"
    run_script("walls", d)
    check_png(d / "walls.png")
    rows = read_rows(d / "gpu_bw_overhead.csv")
    by_ovh = {}
    for r in rows:
        by_ovh.setdefault(r["kernel_overhead"], []).append((num(r["mem_bw"]), num(r["tokens_per_s"]),
                                                            num(r["share_latency"])))
    for pts in by_ovh.values():
        pts.sort()
        tps = [p[1] for p in pts]
        lat = [p[2] for p in pts]
        assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(tps))   # more bandwidth never slower
        assert lat[-1] > lat[0]                                           # ... and latency's share grows
    ov = sorted(by_ovh, key=float)
    assert max(p[1] for p in by_ovh[ov[0]]) > max(p[1] for p in by_ovh[ov[-1]])  # overhead costs
    pim = read_rows(d / "pim_mult_trcd.csv")
    by_m = {}
    for r in pim:
        by_m.setdefault(r["pim_multiplier"], []).append((num(r["pim_trcd"]), num(r["tokens_per_s"])))
    for pts in by_m.values():
        pts.sort()
        tps = [p[1] for p in pts]
        assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(tps))   # slower rows never faster
    for name in ("gpu_bw_batch.csv", "pim_mult_overhead.csv"):
        read_rows(d / name)


def test_device_edge(out):
    d = out / "e5"
    text = run_script("device_edge", d)
    assert "what-if" in text
    check_png(d / "device_edge.png")
    rows = read_rows(d / "points.csv")
    pt = {(r["arch"], r["model"], r["weights"]): r for r in rows}
    # the analog package (3.2 G 4-bit weights) cannot hold a 70B model: the hybrid keeps 5 % of
    # it on the tiles and streams the rest from LPDDR5X, which then cannot hold it either
    big = pt[("aimc-edge-projected", "llama-3-70b", "int4")]
    assert big["aimc_reprogram"] == "False" and big["fits"] == "False"
    assert 0 < num(big["aimc_resident"]) < 0.1 and num(big["tokens_per_s"]) < 5.0
    small = pt[("aimc-edge-projected", "llama-3.2-1b", "int4")]
    assert small["aimc_reprogram"] == "False" and num(small["tokens_per_s"]) > 30
    assert num(small["aimc_resident"]) == 1.0
    assert ("aimc-edge-projected", "llama-3-8b", "fp16") not in pt     # analog cells hold <= 8 bits
    for m in ("llama-3.2-1b", "llama-3-8b", "llama-3-70b"):
        # fewer weight bytes never slow a memory-bound decode on a digital device
        fp16, int4 = pt[("phone-lpddr5x", m, "fp16")], pt[("phone-lpddr5x", m, "int4")]
        assert num(int4["tokens_per_s"]) > num(fp16["tokens_per_s"])
        # the what-if PIM phone never loses to the phone it is built on
        for dt in ("fp16", "int8", "int4"):
            assert num(pt[("phone-lpddr5x-pim", m, dt)]["tokens_per_s"]) >= \
                0.999 * num(pt[("phone-lpddr5x", m, dt)]["tokens_per_s"])
    # 140 GB of fp16 weights do not fit a 16 GB phone; 1B at int4 does
    assert pt[("phone-lpddr5x", "llama-3-70b", "fp16")]["fits"] == "False"
    assert pt[("phone-lpddr5x", "llama-3.2-1b", "int4")]["fits"] == "True"
    th = read_rows(d / "thresholds.csv")
    assert {t["arch"] for t in th} >= {"phone-lpddr5x", "apple-m2-ultra", "jetson-agx-orin-64g",
                                       "aimc-edge-projected", "phone-lpddr5x-pim"}
    from nmc.arch.loader import load_arch
    a = load_arch(d / "phone-lpddr5x-pim.toml")
    assert a.family == "pim" and a["pim_banks"] > 0
    assert a["mem_bw"] == load_arch("phone-lpddr5x")["mem_bw"]     # same bus, PIM inside


def test_nmc_report_quick(tmp_path, capsys):
    from nmc.cli import main
    assert main(["report", "--quick", "-o", str(tmp_path)]) == 0
    md = (tmp_path / "report.md").read_text()
    for section in ("## 1.", "## 2.", "## 3.", "## 5.", "## 8.", "what-if", "best batch"):
        assert section in md
    pngs = [line.split("(")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert len(pngs) == 5
    for p in pngs:
        check_png(tmp_path / p)


def test_pim_crossover_quick(tmp_path):
    """Every experiment script takes --quick (README): pim_crossover did not."""
    run_script("pim_crossover", tmp_path)
    rows = read_rows(tmp_path / "pim_crossover.csv")
    policy = [r for r in rows if r["panel"] == "policy"]
    assert {r["batch"] for r in policy} == {"1", "4", "16", "64", "256"}
    assert {r["fits"] for r in policy} <= {"True", "False"}
    check_png(tmp_path / "pim_crossover.png")


def test_every_experiment_takes_quick():
    """Each script defines --quick itself or gets it from experiments/_common.py (parse_args or
    main); make_traces.py writes the bundled traces and has no grid to shrink."""
    for p in sorted(EXP.glob("*.py")):
        if p.name.startswith("_") or p.stem == "make_traces":
            continue
        src = p.read_text()
        shared = ("from _common import" in src or "import _common" in src) and (
            "parse_args(" in src or "main(" in src)
        assert '"--quick"' in src or shared, p.name
