"""The best operating point (nmc.analysis.operating_point): the batch and runtime with the most
tokens per joule under a latency limit, found through the sweep kernel, against nmc.analyze
point by point; the reason the next batch is refused; bands; real values."""
from __future__ import annotations

import math

import pytest

import nmc
from nmc.analysis.operating_point import best_operating_point

SC = {"phase": "decode", "context": 2048}


def test_best_is_the_argmax_of_analyze_over_the_feasible_grid():
    batches = [1, 4, 16, 64, 128, 256]
    op = best_operating_point("llama-3-8b", "h100-sxm", batches=batches, runtimes=("graphs", "eager"),
                              tpot_max=0.05, context=2048)
    cands = []
    for b in batches:
        for rt in ("graphs", "eager"):
            r = nmc.analyze("llama-3-8b", "h100-sxm", batch=b, runtime=rt, **SC)
            p = next(p for p in op.points if p.batch == b and p.runtime == rt)
            assert p.tokens_per_s == pytest.approx(r.tokens_per_s, rel=1e-12)
            assert p.energy_per_token_j == pytest.approx(r.energy_per_token_j, rel=1e-12)
            assert p.fits == r.fits
            assert p.meets == (r.results["tpot_s"] <= 0.05)
            if r.fits and r.results["tpot_s"] <= 0.05:
                cands.append((1 / r.energy_per_token_j, b, rt))
    top = max(cands)
    assert (op.best.batch, op.best.runtime) == (top[1], top[2])
    # the H100 with an 8B model at 2048 tokens: 128 sequences fit 80 GB, 256 do not
    assert (op.best.batch, op.best.runtime, op.why) == (128, "graphs", "capacity")
    assert not nmc.analyze("llama-3-8b", "h100-sxm", batch=256, **SC).fits
    assert op.batch1.batch == 1 and op.batch1.runtime == "graphs"


def test_real_values_h100_llama3_8b():
    """Decode, context 2048, CUDA graphs: batch 1 154 tokens/s at 1.11 J/token; the best point
    (batch 128, capacity-limited) 6894 tokens/s at 33.2 mJ/token: 33x the tokens per joule."""
    op = best_operating_point("llama-3-8b", "h100-sxm", context=2048)
    assert op.batch1.tokens_per_s == pytest.approx(154.35, rel=1e-3)
    assert op.batch1.energy_per_token_j == pytest.approx(1.1073, rel=1e-3)
    assert op.best.tokens_per_s == pytest.approx(6893.6, rel=1e-3)
    assert op.best.energy_per_token_j == pytest.approx(0.033157, rel=1e-3)
    assert op.gain == pytest.approx(33.40, rel=1e-3)
    assert op.best.tpot_s <= 0.05


def test_latency_limit_binds_on_the_h20():
    """The H20's 148 TFLOPS: batch 256 fits its 96 GB but takes 72 ms per step, over 50 ms."""
    op = best_operating_point("llama-3-8b", "h20", context=2048)
    assert (op.best.batch, op.why) == (128, "latency")
    r = nmc.analyze("llama-3-8b", "h20", batch=256, **SC)
    assert r.fits and r.results["tpot_s"] > 0.05
    # without the limit batch 256 fits but gives fewer tokens/J: two rows of 128-high tiles,
    # 24 tiles per row of the QKV product on 78 SMs, leave SMs idle in each wave where batch
    # 128 (one row) splits K to fill them (docs/model.md, Tile choice)
    free = best_operating_point("llama-3-8b", "h20", context=2048, tpot_max=None)
    assert (free.best.batch, free.why) == (128, "energy")
    e256 = nmc.analyze("llama-3-8b", "h20", batch=256, **SC).energy_per_token_j
    assert 1.0 / e256 < free.best.tokens_per_j


def test_infeasible_and_arch_overrides():
    # the phone cannot hold an 8B bf16 model: no feasible point, batch 1 still reported
    op = best_operating_point("llama-3-8b", "phone-lpddr5x", context=2048)
    assert op.best is None and op.why == "infeasible" and not op.batch1.fits
    assert math.isnan(op.gain)
    # architecture parameters among the keywords go to the preset (as nmc.analyze)
    a = best_operating_point("llama-3.2-1b", "aimc-edge-projected", context=2048, aimc_chips=0,
                             batches=[1, 8])
    r = nmc.analyze("llama-3.2-1b", "aimc-edge-projected", batch=8, aimc_chips=0, **SC)
    p = next(p for p in a.points if p.batch == 8)
    assert p.energy_per_token_j == pytest.approx(r.energy_per_token_j, rel=1e-12)
    assert a.scenario["aimc_chips"] == 0


def test_prefill_uses_ttft_and_batch1_is_added():
    op = best_operating_point("llama-3-8b", "h100-sxm", phase="prefill", prompt=1024,
                              batches=[4, 16, 64], ttft_max=0.5)
    assert [p.batch for p in op.points] == [1, 4, 16, 64]
    assert op.limits == {"ttft_s": 0.5}
    for p in op.points:
        assert p.meets == (p.ttft_s <= 0.5)
    assert op.best.ttft_s <= 0.5


def test_band_ends_bracket_the_central_point():
    op = best_operating_point("llama-3.2-1b", "h100-sxm", context=2048, batches=[1, 16, 64],
                              band=True)
    for p in op.points:
        lo, hi = p.band["low"], p.band["high"]
        assert lo["tokens_per_s"] <= p.tokens_per_s <= hi["tokens_per_s"]
        assert lo["energy_per_token_j"] >= p.energy_per_token_j >= hi["energy_per_token_j"]
        assert lo["tokens_per_j"] <= p.tokens_per_j <= hi["tokens_per_j"]
    assert op.best.band["low"]["tokens_per_j"] < op.best.tokens_per_j
    d = op.to_dict()
    assert d["best"]["band"]["high"]["tokens_per_j"] == op.best.band["high"]["tokens_per_j"]
    assert d["gain"] == op.gain
