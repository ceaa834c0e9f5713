"""Roofline chart: log-log attainable FLOP/s vs arithmetic intensity (FLOP per device-memory
byte), one compute ceiling per dtype, one bandwidth diagonal per memory level, operators as
points (marker by kind, size by share of time), one facet per architecture."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..analysis.pim import pim_roof  # noqa: E402
from .labels import eng_axis, eng_tick, scenario_title  # noqa: E402
from .output import save_figure  # noqa: E402

MARKERS = {"gemm": "o", "lm_head": "D", "attn_score": "^", "attn_context": "v", "softmax": "x",
           "norm": "s", "elementwise": "P", "embedding": "*", "comm": "h"}
CEILINGS = (("peak_fp8", "FP8"), ("peak_int8", "INT8"), ("peak_bf16", "BF16"),
            ("peak_fp32", "FP32 vector"))


def _ceilings(arch) -> list[tuple[str, float]]:
    seen, out = set(), []
    for key, label in CEILINGS:
        v = arch[key]
        if v > 0 and v not in seen:
            seen.add(v)
            out.append((label, v))
    return out


def _levels(arch) -> list[tuple[str, float]]:
    ridge = arch["peak_bf16"] / arch["mem_bw"]
    out = [(f"{arch.text.get('mem_type', 'DRAM')} {arch['mem_bw'] / 1e12:.3g} TB/s "
            f"(BF16 ridge {ridge:.0f} FLOP/B)", arch["mem_bw"])]
    if arch["sram_bw"] > 0:
        out.append((f"L2/SRAM {arch['sram_bw'] / 1e12:.3g} TB/s", arch["sram_bw"]))
    return out


def _label(ax, x, y, text, color="0.3", ha="right", va="bottom", dy=3):
    """A text label just above (va bottom) or below a line, on a white box: never on the
    line itself."""
    dx = 3 if ha == "left" else -3 if ha == "right" else 0
    ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy if va == "bottom" else -dy),
                ha=ha, va=va, fontsize=7, color=color,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85), zorder=4)


def roof_extent(arch, ops: list[dict]) -> tuple[float, float, float, float]:
    """(x_lo, x_hi, y_lo, y_hi) this facet needs: its operators, ceilings and ridge points."""
    pts = [(o["intensity"], o["attained_flops"]) for o in ops
           if o["flops"] > 0 and math.isfinite(o["intensity"]) and o["attained_flops"] > 0]
    ceil = [v for _, v in _ceilings(arch)]
    xs = [x for x, _ in pts] + [v / arch["mem_bw"] for v in ceil]
    ys = [y for _, y in pts] + ceil
    pim = pim_roof(arch)
    if pim is not None:
        xs.append(pim[1] / pim[0])
        ys.append(pim[1])
    return min(xs), max(xs), min(ys), max(ys)


def draw_roofline(ax, arch, ops: list[dict], title: str | None = None, xlim=None, ylim=None):
    """The roofline of one architecture with its operators. xlim, ylim: shared limits of a
    figure with several facets (default: fitted to this one's points and ridges)."""
    if xlim is None or ylim is None:
        x0, x1, y0, y1 = roof_extent(arch, ops)
        xlim = xlim or (x0 / 4, x1 * 4)
        ylim = ylim or (y0 / 4, y1 * 4)
    xs = np.logspace(math.log10(xlim[0]), math.log10(xlim[1]), 256)
    ceil = _ceilings(arch)
    top = max(v for _, v in ceil)
    colors = plt.cm.tab10.colors
    for j, (label, bw) in enumerate(_levels(arch)):
        ax.plot(xs, np.minimum(xs * bw, top), color="0.25" if j == 0 else "0.6",
                ls="-" if j == 0 else "--", lw=1.5, label=label)
    # ceiling labels at the right end, above their line or, where that would overlap the
    # label of a ceiling above, below it (a label takes ~4.5% of the axis height)
    f = 10 ** (0.045 * math.log10(ylim[1] / ylim[0]))
    taken: list[tuple[float, float]] = []
    for label, v in sorted(ceil, key=lambda c: -c[1]):
        ax.axhline(v, color="0.4", ls=":", lw=1)
        ax.plot([v / arch["mem_bw"]], [v], marker="|", color="0.3", ms=8)   # its ridge point
        for va, (lo, hi) in (("bottom", (v, v * f)), ("top", (v / f, v))):
            if all(hi <= a or lo >= b for a, b in taken) and hi <= ylim[1]:
                taken.append((lo, hi))
                _label(ax, xs[-1], v, f"{label} {v / 1e12:.4g} TFLOP/s", ha="right", va=va)
                break
    kinds = {}
    pim = pim_roof(arch)
    if pim is not None:        # near-memory engine: its own diagonal and ceiling, in red
        pbw, ppk = pim
        ax.plot(xs, np.minimum(xs * pbw, ppk), color="tab:red", lw=1.5,
                label=f"PIM internal {pbw / 1e12:.3g} TB/s")
        ax.axhline(ppk, color="tab:red", ls=":", lw=1)
        _label(ax, xs[0], ppk, f"PIM FP16 {ppk / 1e12:.4g} TFLOP/s", color="tab:red", ha="left",
               va="top")
        ax.plot([ppk / pbw], [ppk], marker="|", color="tab:red", ms=8)
        kinds["ran on PIM (red edge; x = FLOP per byte read in the banks)"] = ax.scatter(
            [], [], marker="o", facecolors="none", edgecolors="tab:red", linewidths=1.5)
    for o in ops:
        if o["flops"] <= 0 or not math.isfinite(o["intensity"]) or o["attained_flops"] <= 0:
            continue
        k = o["kind"]
        idx = list(MARKERS).index(k) if k in MARKERS else 0
        sc = ax.scatter(o["intensity"], o["attained_flops"], marker=MARKERS.get(k, "o"),
                        s=20 + 400 * o.get("share", 0.0), color=colors[idx % 10], alpha=0.8,
                        edgecolors="tab:red" if o.get("engine") == "pim" else "k",
                        linewidths=1.5 if o.get("engine") == "pim" else 0.4, zorder=3)
        kinds.setdefault(k, sc)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    eng_axis(ax.xaxis, "FLOP/B")
    eng_axis(ax.yaxis, "FLOP/s")
    ax.set_xlabel("arithmetic intensity (FLOP per byte of device memory)")
    ax.set_ylabel("attained compute per device (FLOP/s)")
    ax.set_title(title or arch.name, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    return kinds


def draw_crossbar(ax, r, title: str | None = None):
    """AIMC crossbar tiles as their own engine: weights stay in the tiles, so the x axis is
    FLOP per byte of activations in and out of the tiles and the only ceiling is the tiles'
    compute peak (chips x tiles x 2 rows cols/cells_per_weight / t_mvm). A matrix uses only its
    own tiles, so at batch 1 its points sit below the system ceiling by its share of tiles."""
    ops = [o for o in r.ops if o["engine"] == "aimc_tiles"]
    peak = r.results.get("aimc_peak_ops") or max((o["peak_flops"] for o in ops), default=1.0)
    colors = plt.cm.tab10.colors
    xs = np.logspace(-2, 5, 256)
    ax.axhline(peak, color="0.25", lw=1.5, label=f"tile ceiling {peak / 1e12:.4g} TOPS")
    kinds = {}
    for o in ops:
        io = o["sram_bytes"]
        if o["flops"] <= 0 or io <= 0 or o["attained_flops"] <= 0:
            continue
        k = o["kind"]
        idx = list(MARKERS).index(k) if k in MARKERS else 0
        sc = ax.scatter(o["flops"] / io, o["attained_flops"], marker=MARKERS.get(k, "o"),
                        s=20 + 400 * o.get("share", 0.0), color=colors[idx % 10], alpha=0.8,
                        edgecolors="k", linewidths=0.4, zorder=3)
        kinds.setdefault(k, sc)
    if r.results.get("aimc_reprogram"):
        ax.text(0.02, 0.9, f"capacity wall: re-programming "
                f"{r.results['aimc_reprogram_s_per_token']:.3g} s/token", transform=ax.transAxes,
                fontsize=7, color="firebrick")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(peak / 1e9, peak * 3)
    ax.set_xlabel("FLOP / byte of activations in+out of the tiles")
    ax.set_ylabel("attained OP/s")
    ax.set_title(title or f"{r.arch.name} crossbar tiles", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    return kinds


def _facets(reports: list) -> list[tuple]:
    """(report, part): AIMC reports get two facets, crossbar tiles and digital unit."""
    out = []
    for r in reports:
        if r.arch.family == "aimc" and any(o["engine"] == "aimc_tiles" for o in r.ops):
            out += [(r, "crossbar"), (r, "digital")]
        else:
            out.append((r, None))
    return out


def roofline_chart(reports: list, path, title: str | None = None) -> list[Path]:
    """One facet per report (architecture); AIMC architectures get a crossbar facet beside the
    digital unit's roofline. The roofline facets share their x and y ranges (fitted to the
    operators and ridge points of them all), so they compare by eye; the title names the whole
    scenario. Writes PNG and SVG next to each other; returns the paths."""
    facets = _facets(reports)
    n = len(facets)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.4 * rows), squeeze=False)
    ext = [roof_extent(r.arch, [o for o in r.ops if o["engine"] != "aimc_tiles"])
           for r, part in facets if part != "crossbar"]
    xlim = (min(e[0] for e in ext) / 4, max(e[1] for e in ext) * 4) if ext else None
    ylim = (min(e[2] for e in ext) / 4, max(e[3] for e in ext) * 4) if ext else None
    handles = {}
    for ax, (r, part) in zip(axes.flat, facets):
        sub = r.arch.name
        if part == "crossbar":
            handles.update(draw_crossbar(ax, r, sub + ": crossbar tiles"))
        elif part == "digital":
            ops = [o for o in r.ops if o["engine"] != "aimc_tiles"]
            handles.update(draw_roofline(ax, r.arch, ops, sub + ": digital unit", xlim, ylim))
        else:
            handles.update(draw_roofline(ax, r.arch, r.ops, sub, xlim, ylim))
        ax.legend(loc="lower right", fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    models = list(dict.fromkeys(r.model.name for r in reports))
    batches = ", ".join(str(b) for b in dict.fromkeys(r.scenario.batch for r in reports))
    scen = list(dict.fromkeys(scenario_title(r.scenario, ", ".join(models), batches)
                              for r in reports))
    fig.suptitle(title or "; ".join(scen), fontsize=11, y=0.99)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="upper center",
                   bbox_to_anchor=(0.5, 0.95), ncol=min(len(handles), 8), fontsize=8,
                   frameon=False, title="operators (marker size = share of time)",
                   title_fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.87 if rows == 1 else 0.92))
    return _save(fig, path, "roofline.png")


def compare_chart(rows: list[dict], path, metric: str = "tokens_per_s",
                  label: str = "throughput (tokens/s)", scenario: str | None = None) -> list[Path]:
    """Grouped bars: one group per batch, one bar per architecture, one facet per model; a log
    axis with 1-2-5 ticks in engineering notation, the value on each bar, and the scenario
    (phase, lengths, tp, dtypes, runtime) in the title. A shape that does not fit in memory
    gets no bar and no value: an 'x' and the words 'does not fit' mark its place."""
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    batches = list(dict.fromkeys(r["batch"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(max(6.5, 1.3 * len(archs) * len(batches)),
                                                      4.6), squeeze=False)
    w = 0.8 / len(archs)
    colors = plt.cm.tab10.colors
    unfit = False
    for ax, model in zip(axes.flat, models):
        vals_all = [r[metric] for r in rows if r["model"] == model and r.get("fits", True)
                    and r[metric] is not None and r[metric] > 0]
        lo = min(vals_all) if vals_all else 1.0
        hi = max(vals_all) if vals_all else 10.0
        ax.set_yscale("log")
        ax.set_ylim(lo / 2.5, hi * 2.5)
        for j, a in enumerate(archs):
            for i, b in enumerate(batches):
                r = next((r for r in rows if r["arch"] == a and r["batch"] == b
                          and r["model"] == model), None)
                x = i + j * w
                if r is None or r[metric] is None:
                    continue
                if not r.get("fits", True):     # never a value for a shape that does not fit
                    unfit = True
                    ax.plot([x], [lo / 2.5 * 1.25], marker="x", color=colors[j % 10], ms=7,
                            mew=2, clip_on=False)
                    ax.text(x, lo / 2.5 * 1.6, "does not fit", rotation=90, ha="center",
                            va="bottom", fontsize=7, color="0.35")
                    continue
                ax.bar(x, r[metric], w, color=colors[j % 10], label=a if i == 0 else None)
                ax.text(x, r[metric] * 1.06, eng_tick(r[metric]), ha="center", va="bottom",
                        fontsize=7)
        for j, a in enumerate(archs):            # every architecture in the legend
            if not any(r["arch"] == a and r["model"] == model and r.get("fits", True)
                       for r in rows):
                ax.bar([0], [0], w, color=colors[j % 10], label=a)
        ax.set_xticks(np.arange(len(batches)) + 0.4 - w / 2, [f"{b}" for b in batches])
        ax.set_xlabel("batch (sequences)")
        eng_axis(ax.yaxis)
        ax.set_ylabel(label)
        ax.set_title(model if len(models) > 1 else "", fontsize=10)
        ax.grid(True, axis="y", which="major", alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if unfit:
        from matplotlib.lines import Line2D
        handles.append(Line2D([], [], marker="x", color="0.35", ls="none", mew=2))
        labels.append("does not fit in memory (no value)")
    axes.flat[0].legend(handles, labels, fontsize=8, loc="upper left")
    head = scenario or ", ".join(models)
    fig.suptitle(head, fontsize=10)
    fig.tight_layout()
    return _save(fig, path, "compare.png")


def _save(fig, path, default_name: str) -> list[Path]:
    return save_figure(fig, path, default_name)
