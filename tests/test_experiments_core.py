"""Smoke tests of experiments 1, 2, 3, 5 (experiments/*.py --quick into tmp_path) and of
`nmc report --quick`: the scripts run, write CSV + PNG, and the numbers obey what must hold
physically (decode at batch 1 is memory-bound on a GPU, more bandwidth never slows decode, a
70B model does not fit the tiles of one AIMC package, ...)."""
from __future__ import annotations

import csv
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXP = ROOT / "experiments"


def _run(name: str, out: Path) -> str:
    p = subprocess.run([sys.executable, str(EXP / f"{name}.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def _csv(path: Path) -> list[dict]:
    assert path.exists(), path
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, path
    return rows


def _png(path: Path) -> None:
    assert path.exists(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000          # a real figure, not an empty canvas


def _f(x) -> float:
    return float(x) if x not in ("", None) else float("nan")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def test_roofline_three_archs(out):
    d = out / "e1"
    text = _run("roofline_three_archs", d)
    assert "decode" in text and "prefill" in text
    _png(d / "roofline_llama-2-7b.png")
    summ = {(r["system"], r["phase"]): r for r in _csv(d / "summary.csv")}
    # GPU decode at batch 1 reads every weight once per token: memory-bound
    gpu_dec = summ[("GPU", "decode")]
    assert gpu_dec["bound"] == "memory" and _f(gpu_dec["share_memory"]) > 0.5
    # prefill (2048 tokens per weight read) is far faster per token than decode on every system
    for s in ("GPU", "near-memory", "analog"):
        assert _f(summ[(s, "prefill")]["tokens_per_s"]) > 10 * _f(summ[(s, "decode")]["tokens_per_s"])
    # PIM lifts decode above the GPU it is built on
    assert _f(summ[("near-memory", "decode")]["tokens_per_s"]) > 2 * _f(gpu_dec["tokens_per_s"])
    ops = _csv(d / "operators.csv")
    gpu_gemm = [o for o in ops if o["system"] == "GPU" and o["kind"] == "gemm"]
    for o in gpu_gemm:
        i = _f(o["intensity_flop_per_byte"])
        if o["phase"] == "decode":      # bf16 GEMV: 2 FLOP per 2-byte weight, about 1 FLOP/B
            assert 0.9 < i < 1.1 and o["bound"] == "memory"
        else:                           # prefill GEMMs far right of the H100 ridge (~295 FLOP/B)
            assert i > 300
    # on the analog chip the weight GEMMs run in the crossbar tiles
    assert all(o["engine"] == "aimc_tiles" for o in ops if o["system"] == "analog" and o["kind"] == "gemm")


def test_decode_crossover(out):
    d = out / "e2"
    _run("decode_crossover", d)
    _png(d / "decode_crossover.png")
    rows = _csv(d / "points.csv")
    pt = {(r["system"], int(r["batch"]), int(r["context"])): r for r in rows}
    for s in ("GPU", "GPU+PIM", "AIMC"):
        # a longer KV cache never makes a decode step faster, and attention's share grows
        a, b = pt[(s, 1, 512)], pt[(s, 1, 131072)]
        assert _f(b["latency_per_token_s"]) > _f(a["latency_per_token_s"])
        assert _f(b["attention_share"]) > _f(a["attention_share"])
    # batching raises GPU throughput while the GEMVs are memory-bound
    assert _f(pt[("GPU", 16, 512)]["tokens_per_s"]) > 5 * _f(pt[("GPU", 1, 512)]["tokens_per_s"])
    # auto mapping never loses to the GPU it runs on
    for (s, b, c), r in pt.items():
        if s == "GPU+PIM":
            assert _f(r["tokens_per_s"]) >= 0.999 * _f(pt[("GPU", b, c)]["tokens_per_s"])
    # 256 sequences of 128k tokens of llama-3-8b KV cache (~4 TB) fit no single device
    assert all(pt[(s, 256, 131072)]["fits"] == "False" for s in ("GPU", "GPU+PIM", "AIMC"))
    wins = _csv(d / "winners.csv")
    assert {w["winner"] for w in wins} <= {"GPU", "GPU+PIM", "AIMC", "none"}


def test_walls(out):
    d = out / "e3"
    _run("walls", d)
    _png(d / "walls.png")
    rows = _csv(d / "gpu_bw_overhead.csv")
    by_ovh = {}
    for r in rows:
        by_ovh.setdefault(r["kernel_overhead"], []).append((_f(r["mem_bw"]), _f(r["tokens_per_s"]),
                                                            _f(r["share_latency"])))
    for pts in by_ovh.values():
        pts.sort()
        tps = [p[1] for p in pts]
        lat = [p[2] for p in pts]
        assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(tps))   # more bandwidth never slower
        assert lat[-1] > lat[0]                                           # ... and latency's share grows
    ov = sorted(by_ovh, key=float)
    assert max(p[1] for p in by_ovh[ov[0]]) > max(p[1] for p in by_ovh[ov[-1]])  # overhead costs
    pim = _csv(d / "pim_mult_trcd.csv")
    by_m = {}
    for r in pim:
        by_m.setdefault(r["pim_multiplier"], []).append((_f(r["pim_trcd"]), _f(r["tokens_per_s"])))
    for pts in by_m.values():
        pts.sort()
        tps = [p[1] for p in pts]
        assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(tps))   # slower rows never faster
    for name in ("gpu_bw_batch.csv", "pim_mult_overhead.csv"):
        _csv(d / name)


def test_device_edge(out):
    d = out / "e5"
    text = _run("device_edge", d)
    assert "what-if" in text
    _png(d / "device_edge.png")
    rows = _csv(d / "points.csv")
    pt = {(r["arch"], r["model"], r["weights"]): r for r in rows}
    # the analog package (3.2 G 4-bit weights) cannot hold a 70B model: tiles are re-programmed
    big = pt[("aimc-edge-projected", "llama-3-70b", "int4")]
    assert big["aimc_reprogram"] == "True" and _f(big["tokens_per_s"]) < 1.0
    small = pt[("aimc-edge-projected", "llama-3.2-1b", "int4")]
    assert small["aimc_reprogram"] == "False" and _f(small["tokens_per_s"]) > 30
    assert ("aimc-edge-projected", "llama-3-8b", "fp16") not in pt     # analog cells hold <= 8 bits
    for m in ("llama-3.2-1b", "llama-3-8b", "llama-3-70b"):
        # fewer weight bytes never slow a memory-bound decode on a digital device
        fp16, int4 = pt[("phone-lpddr5x", m, "fp16")], pt[("phone-lpddr5x", m, "int4")]
        assert _f(int4["tokens_per_s"]) > _f(fp16["tokens_per_s"])
        # the what-if PIM phone never loses to the phone it is built on
        for dt in ("fp16", "int8", "int4"):
            assert _f(pt[("phone-lpddr5x-pim", m, dt)]["tokens_per_s"]) >= \
                0.999 * _f(pt[("phone-lpddr5x", m, dt)]["tokens_per_s"])
    # 140 GB of fp16 weights do not fit a 16 GB phone; 1B at int4 does
    assert pt[("phone-lpddr5x", "llama-3-70b", "fp16")]["fits"] == "False"
    assert pt[("phone-lpddr5x", "llama-3.2-1b", "int4")]["fits"] == "True"
    th = _csv(d / "thresholds.csv")
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
    for section in ("## 1.", "## 2.", "## 3.", "## 5.", "what-if"):
        assert section in md
    pngs = [line.split("(")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert len(pngs) == 4
    for p in pngs:
        _png(tmp_path / p)
