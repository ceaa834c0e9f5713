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
    out = [(f"{arch.text.get('mem_type', 'DRAM')} {arch['mem_bw'] / 1e12:.3g} TB/s", arch["mem_bw"])]
    if arch["sram_bw"] > 0:
        out.append((f"L2/SRAM {arch['sram_bw'] / 1e12:.3g} TB/s", arch["sram_bw"]))
    return out


def draw_roofline(ax, arch, ops: list[dict], title: str | None = None):
    xs = np.logspace(-2, 5, 256)
    ceil = _ceilings(arch)
    top = max(v for _, v in ceil)
    colors = plt.cm.tab10.colors
    for j, (label, bw) in enumerate(_levels(arch)):
        ax.plot(xs, np.minimum(xs * bw, top), color="0.25" if j == 0 else "0.6",
                ls="-" if j == 0 else "--", lw=1.5, label=label)
    for label, v in ceil:
        ax.axhline(v, color="0.4", ls=":", lw=1)
        ax.text(xs[-1], v * 1.08, f"{label} {v / 1e12:.4g} TFLOP/s", ha="right", va="bottom",
                fontsize=7, color="0.3")
        ridge = v / arch["mem_bw"]
        ax.plot([ridge], [v], marker="|", color="0.3", ms=8)
    bf = arch["peak_bf16"]
    ax.annotate(f"ridge {bf / arch['mem_bw']:.0f} FLOP/B", (bf / arch["mem_bw"], bf),
                textcoords="offset points", xytext=(-10, -18), fontsize=7, ha="right", color="0.3")
    kinds = {}
    pim = pim_roof(arch)
    if pim is not None:        # near-memory engine: its own diagonal and ceiling, in red
        pbw, ppk = pim
        ax.plot(xs, np.minimum(xs * pbw, ppk), color="tab:red", lw=1.5,
                label=f"PIM internal {pbw / 1e12:.3g} TB/s")
        ax.axhline(ppk, color="tab:red", ls=":", lw=1)
        ax.text(xs[0] * 1.5, ppk * 1.08, f"PIM FP16 {ppk / 1e12:.4g} TFLOP/s", ha="left",
                va="bottom", fontsize=7, color="tab:red")
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
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(top / 1e6, top * 3)
    ax.set_xlabel("arithmetic intensity (FLOP / device-memory byte)")
    ax.set_ylabel("attainable FLOP/s")
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
    digital unit's roofline. Writes PNG and SVG next to each other; returns the paths."""
    facets = _facets(reports)
    n = len(facets)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.4 * rows), squeeze=False)
    handles = {}
    for ax, (r, part) in zip(axes.flat, facets):
        sc = r.scenario
        sub = f"{r.arch.name}: {r.model.name} {sc.phase} b={sc.batch}"
        if part == "crossbar":
            handles.update(draw_crossbar(ax, r, sub + "\ncrossbar tiles"))
        elif part == "digital":
            ops = [o for o in r.ops if o["engine"] != "aimc_tiles"]
            handles.update(draw_roofline(ax, r.arch, ops, sub + "\ndigital unit"))
        else:
            handles.update(draw_roofline(ax, r.arch, r.ops, sub))
        ax.legend(loc="lower right", fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="upper center",
                   ncol=min(len(handles), 8), fontsize=8, frameon=False,
                   title="operators (marker size = share of time)", title_fontsize=8)
    if title:
        fig.suptitle(title, y=1.02)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return _save(fig, path, "roofline.png")


def compare_chart(rows: list[dict], path, metric: str = "tokens_per_s",
                  label: str = "tokens/s") -> list[Path]:
    """Grouped bars: one group per batch, one bar per architecture."""
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    batches = list(dict.fromkeys(r["batch"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(max(6, 1.2 * len(archs) * len(batches)) ,
                                                      4.2), squeeze=False)
    w = 0.8 / len(archs)
    for ax, model in zip(axes.flat, models):
        for j, a in enumerate(archs):
            vals = []
            for b in batches:
                v = [r[metric] for r in rows if r["arch"] == a and r["batch"] == b and r["model"] == model]
                vals.append(v[0] if v and v[0] is not None else 0.0)
            ax.bar(np.arange(len(batches)) + j * w, vals, w, label=a)
        ax.set_xticks(np.arange(len(batches)) + 0.4 - w / 2, [f"batch {b}" for b in batches])
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_title(model)
        ax.grid(True, axis="y", alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path, "compare.png")


def _save(fig, path, default_name: str) -> list[Path]:
    return save_figure(fig, path, default_name)
