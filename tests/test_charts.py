"""Comparison charts a person would rather read than the table: the whole scenario in the title,
units and readable ticks on every axis, facets on one scale, and no value for a shape that does
not fit in memory (issue 17, deliverable 4). The figures are caught before they are saved."""
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import nmc  # noqa: E402
from nmc.plot import roofline as R  # noqa: E402
from nmc.plot import sweep as S  # noqa: E402
from nmc.plot.labels import axis_label, eng_tick, scenario_title  # noqa: E402
from nmc.report.summary import summary_row  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture
def caught(monkeypatch):
    figs = []

    def keep(fig, path, default_name="x.png"):
        figs.append(fig)
        return []
    monkeypatch.setattr(R, "_save", keep)
    monkeypatch.setattr(S, "_save", keep)
    return figs


def _ticks(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def test_labels():
    assert eng_tick(2000) == "2k" and eng_tick(5e12, "B/s") == "5T" and eng_tick(0.5) == "0.5"
    assert eng_tick(3e-6, "s") == "3µ" and eng_tick(200) == "200"
    assert axis_label("mem_bw") == "mem_bw (B/s)" and axis_label("batch") == "batch (sequences)"
    assert "(tokens/s)" in axis_label("tokens_per_s")
    sc = nmc.Scenario(phase="decode", batch=8, context=4096, tp=2, weights="int4")
    t = scenario_title(sc, "llama-2-70b")
    for part in ("llama-2-70b decode", "batch 8", "context 4096", "tp 2", "weights int4",
                 "activations bf16", "runtime graphs"):
        assert part in t


def test_compare_chart_title_ticks_and_no_bar_where_it_does_not_fit(caught):
    reps = [nmc.analyze("llama-2-70b", a, phase="decode", batch=b, context=4096, tp=4)
            for a in ("h100-sxm", "h100+hbm3-pim") for b in (1, 16, 256)]
    rows = [summary_row(r) for r in reps]
    assert [r["fits"] for r in rows] == [True, True, False, True, True, False]
    R.compare_chart(rows, "x.png", scenario=scenario_title(reps[0].scenario, "llama-2-70b",
                                                           "1, 16, 256"))
    fig = caught[0]
    ax = fig.axes[0]
    assert "tp 4" in fig._suptitle.get_text() and "context 4096" in fig._suptitle.get_text()
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) == 4                                    # the two unfit shapes: no bar
    heights = sorted(b.get_height() for b in bars)
    fitted = sorted(r["tokens_per_s"] for r in rows if r["fits"])
    assert heights == pytest.approx(fitted)
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("does not fit") == 2
    assert not any(t == eng_tick(r["tokens_per_s"]) for r in rows if not r["fits"] for t in texts)
    labels = _ticks(ax.yaxis)
    assert len(labels) >= 3 and all("$" not in t for t in labels)   # plain 1-2-5 labels
    assert ax.get_ylabel() == "throughput (tokens/s)" and ax.get_xlabel() == "batch (sequences)"


def test_roofline_facets_share_scales_and_title_says_tp(caught):
    reps = [nmc.analyze("llama-2-70b", a, phase="decode", batch=1, tp=4)
            for a in ("a100-80g-sxm", "h100-sxm", "h20")]
    R.roofline_chart(reps, "r.png")
    fig = caught[0]
    axes = [a for a in fig.axes if a.get_visible()]
    assert len({a.get_ylim() for a in axes}) == 1 and len({a.get_xlim() for a in axes}) == 1
    title = fig._suptitle.get_text()
    assert "tp 4" in title and "batch 1" in title and "bf16" in title
    lo, hi = axes[0].get_xlim()
    pts = [o["intensity"] for r in reps for o in r.ops if o["flops"] > 0 and o["attained_flops"] > 0
           and np.isfinite(o["intensity"])]
    ridge = max(r.arch["peak_fp8"] or r.arch["peak_bf16"] for r in reps) / min(
        r.arch["mem_bw"] for r in reps)
    assert lo >= min(pts) / 10 and hi <= max(max(pts), ridge) * 10      # fitted, not 1e-2..1e5
    for ax in axes:
        assert "FLOP/s" in ax.get_ylabel() and "FLOP per byte" in ax.get_xlabel()
        # ceiling labels sit above or below their line, on a box, never two in one place
        boxes = [t.get_window_extent(fig.canvas.get_renderer()) for t in ax.texts]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert not boxes[i].overlaps(boxes[j])


@pytest.fixture(scope="module")
def table():
    return nmc.sweep("llama-2-7b", "h100-sxm", {"batch": [1, 4, 16, 64, 256],
                     "mem_bw": ["2 TB/s", "4 TB/s", "8 TB/s"], "context": [1024, 32768]},
                     phase="decode")


def test_heatmap_units_fixed_axis_and_unfit_cells(table, caught):
    S.heatmap(table, "mem_bw", "batch", "tokens_per_s", "h.png")
    fig = caught[-1]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "mem_bw (B/s)" and ax.get_ylabel() == "batch (sequences)"
    assert "T" in "".join(_ticks(ax.xaxis))                   # 2T, 4T ... not 10^12
    assert "context = 1024" in ax.get_title() and "first of 2 values" in ax.get_title()
    assert "does not fit in memory (no value)" in [t.get_text() for t in ax.get_legend().texts]
    mesh = ax.collections[0]
    arr = mesh.get_array()
    sub = table.where(table["context"] == 1024)
    unfit = int((sub["fits"] < 0.5).sum())
    assert unfit > 0 and int(np.ma.count_masked(arr)) == unfit   # no colour, no value
    S.heatmap(table, "mem_bw", "batch", "tokens_per_s", "h.png", where={"context": "32768"})
    assert "first of" not in caught[-1].axes[0].get_title()


def test_heatmap_of_bound_is_categorical(table, caught):
    S.heatmap(table, "mem_bw", "batch", "bound", "b.png")
    fig = caught[-1]
    assert len(fig.axes) == 1                                 # no 0-1 colour bar
    legend = [t.get_text() for t in fig.axes[0].get_legend().texts]
    assert "memory bound" in legend


def test_line_leaves_out_what_does_not_fit(table, caught):
    S.line(table, "batch", "tokens_per_s", "l.png", by="context")
    ax = caught[-1].axes[0]
    ys = [y for ln in ax.lines for y in np.asarray(ln.get_ydata(), dtype=float)
          if ln.get_label().startswith("context")]
    fits = table.where(table["mem_bw"] == table["mem_bw"][0])
    n_fit = int((fits["fits"] > 0.5).sum())
    assert np.isfinite(ys).sum() == n_fit
    assert ax.get_ylabel().endswith("(tokens/s)")
