"""Fair operating points: energy and speed of each family at its best operating point, with
the batch-1 point beside it and uncertainty bands.

For llama-3.2-1b and llama-3-8b decode (context 2048, bf16 unless stated), each system runs at
the batch that gives the most tokens per joule among the batches that fit its memory and keep
a decode step within 50 ms (nmc.analysis.operating_point.best_operating_point, one sweep-kernel
pass per system with band=True: low..high over the presets' uncertainty bands,
docs/bands.md):

  GPU            h100-sxm, CUDA graphs (vLLM, SGLang), bf16
  GPU fused      h100-sxm, fused kernels (TensorRT-LLM), bf16
  GPU FP8        h100-sxm, CUDA graphs, FP8 weights and activations (W8A8)
  GPU+PIM        h100+hbm3-pim (AttAcc-style HBM3-PIM: power budget, tFAW, capacity taken by
                 the units, their static power, host and PIM taking turns), CUDA graphs
  AIMC package   aimc-edge-projected as built (3 dies; hybrid residency: what does not fit the
                 tiles runs on the digital unit from LPDDR5X), 4-bit weights in the cells
  AIMC, enough   aimc-edge-projected with as many dies as the weights need (aimc_chips = 0)
  phone          phone-lpddr5x, bf16

Writes points.csv (every batch of every system with its band), best.csv (batch 1 and the best
point per system) and operating_points.png/.svg.

    python experiments/operating_points.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import math
from pathlib import Path

from ...analysis.operating_point import BATCHES, TPOT_MAX, best_operating_point
from . import common as C

NAME = "operating_points"
MODELS = ["llama-3.2-1b", "llama-3-8b"]
CONTEXT = 2048
# key -> (label, arch, keyword arguments of best_operating_point, colour, line style)
SHORT = {"gpu": "GPU\ngraphs", "gpu_fused": "GPU\nfused", "gpu_fp8": "GPU\nFP8", "pim": "GPU+PIM",
         "aimc": "AIMC\n3 dies", "aimc_enough": "AIMC\nenough dies", "phone": "phone"}
SYSTEMS = {
    "gpu": ("GPU (H100, CUDA graphs)", "h100-sxm", {}, "tab:blue", "-"),
    "gpu_fused": ("GPU (H100, fused kernels)", "h100-sxm", {"runtimes": ("fused",)}, "tab:blue", ":"),
    "gpu_fp8": ("GPU (H100, FP8)", "h100-sxm", {"weights": "fp8", "activations": "fp8"},
                "tab:cyan", "--"),
    "pim": ("GPU+PIM (H100 + HBM3-PIM)", "h100+hbm3-pim", {}, "tab:red", "-"),
    "aimc": ("AIMC package (3 dies, hybrid)", "aimc-edge-projected", {}, "tab:green", "-"),
    "aimc_enough": ("AIMC, as many dies as needed", "aimc-edge-projected", {"aimc_chips": 0},
                    "darkgreen", "--"),
    "phone": ("phone SoC (LPDDR5X)", "phone-lpddr5x", {}, "tab:purple", "-"),
}
QUICK_SYSTEMS = ("gpu", "pim", "aimc")
QUICK_BATCHES = (1, 8, 64, 512)


def compute(quick: bool = False) -> dict:
    """{(model, key): OperatingPoints} plus the flat rows of best.csv."""
    ops = {}
    for model in MODELS[:1] if quick else MODELS:
        for key, (label, arch, kw, _, _) in SYSTEMS.items():
            if quick and key not in QUICK_SYSTEMS:
                continue
            ops[(model, key)] = best_operating_point(
                model, arch, context=CONTEXT, tpot_max=TPOT_MAX, band=True,
                batches=QUICK_BATCHES if quick else BATCHES, **kw)
    return {"ops": ops, "rows": best_rows(ops)}


def _b(p, end, f):
    return p.band[end][f] if p is not None and p.band else math.nan


def best_rows(ops) -> list[dict]:
    rows = []
    for (model, key), op in ops.items():
        ref = ops.get((model, "gpu"))
        b, one = op.best, op.batch1
        row = {"model": model, "system": key, "label": SYSTEMS[key][0], "arch": SYSTEMS[key][1],
               "b1_fits": one.fits, "b1_tokens_per_s": one.tokens_per_s,
               "b1_tpot_s": one.tpot_s, "b1_energy_per_token_j": one.energy_per_token_j,
               "b1_tokens_per_j": one.tokens_per_j,
               "best_batch": b.batch if b else None, "why": op.why}
        for end in ("low", "high"):
            row[f"b1_tokens_per_s_{end}"] = _b(one, end, "tokens_per_s")
            row[f"b1_tokens_per_j_{end}"] = _b(one, end, "tokens_per_j")
        if b:
            row.update({"best_tokens_per_s": b.tokens_per_s, "best_tpot_s": b.tpot_s,
                        "best_energy_per_token_j": b.energy_per_token_j,
                        "best_tokens_per_j": b.tokens_per_j, "best_bound": b.bound,
                        "gain_over_batch1": op.gain})
            for end in ("low", "high"):
                row[f"best_tokens_per_s_{end}"] = _b(b, end, "tokens_per_s")
                row[f"best_tokens_per_j_{end}"] = _b(b, end, "tokens_per_j")
                row[f"best_tpot_s_{end}"] = _b(b, end, "tpot_s")
        if ref is not None:
            row["b1_tokens_per_j_vs_gpu"] = one.tokens_per_j / ref.batch1.tokens_per_j
            row["b1_tokens_per_s_vs_gpu"] = one.tokens_per_s / ref.batch1.tokens_per_s
            if b and ref.best:
                row["best_tokens_per_j_vs_gpu"] = b.tokens_per_j / ref.best.tokens_per_j
                row["best_tokens_per_s_vs_gpu"] = b.tokens_per_s / ref.best.tokens_per_s
        rows.append(row)
    return rows


def point_rows(ops) -> list[dict]:
    rows = []
    for (model, key), op in ops.items():
        for p in op.points:
            d = {"model": model, "system": key, "arch": SYSTEMS[key][1], **p.to_dict()}
            band = d.pop("band") or {}
            for end, v in band.items():
                for f in ("tokens_per_s", "energy_per_token_j", "tpot_s", "tokens_per_j"):
                    d[f"{f}_{end}"] = v[f]
            d["best"] = op.best is not None and (p.batch, p.runtime) == (op.best.batch, op.best.runtime)
            rows.append(d)
    return rows


def figure(ops, path, svg: bool = True):
    """Per model: (a) tokens/J vs batch, (b) time per decode step vs batch, each system a line
    with its band shaded; points that do not fit are left out, points over the 50 ms limit are
    drawn hollow on a dotted line; star = best point, ring = batch 1. (c) tokens/J at batch 1
    and at the best point per system, with the band as an error bar; hatched = no batch meets
    the limit (batch 1 shown alone)."""
    import numpy as np
    plt = C.plt
    models = list(dict.fromkeys(m for m, _ in ops))
    fig, axes = plt.subplots(len(models), 3, figsize=(20, 5.6 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        keys = [k for m, k in ops if m == model]
        for j, field in enumerate(("tokens_per_j", "tpot_s")):
            ax = axes[i, j]
            for key in keys:
                label, _, _, col, ls = SYSTEMS[key]
                op = ops[(model, key)]
                pts = [p for p in op.points if p.fits]
                if not pts:
                    continue
                x = np.array([p.batch for p in pts], float)
                scale = 1e3 if field == "tpot_s" else 1.0
                y = np.array([getattr(p, field) for p in pts]) * scale
                lo = np.array([p.band["low"][field] for p in pts]) * scale
                hi = np.array([p.band["high"][field] for p in pts]) * scale
                ok = np.array([p.meets for p in pts])
                ax.fill_between(x, lo, hi, color=col, alpha=0.12, lw=0)
                yy = np.where(ok, y, np.nan)
                ax.plot(x, yy, ls, color=col, lw=1.8, label=label)
                ax.plot(x, y, ":", color=col, lw=0.8)
                ax.scatter(x[~ok], y[~ok], facecolors="white", edgecolors=col, s=18, zorder=3)
                b = op.best
                if b is not None:
                    ax.scatter([b.batch], [getattr(b, field) * scale], marker="*", s=160,
                               color=col, edgecolor="k", lw=0.6, zorder=5)
                one = op.batch1
                if one.fits:
                    ax.scatter([1], [getattr(one, field) * scale], marker="o", s=60,
                               facecolors="none", edgecolors=col, lw=1.5, zorder=5)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("batch (sequences decoded together)")
            ax.grid(True, which="both", alpha=0.25)
            if field == "tokens_per_j":
                ax.set_ylabel("tokens per joule (static power included)")
                ax.set_title(f"(a) {model}: tokens/J vs batch (star: best point, ring: batch 1;\n"
                             f"hollow/dotted: step over {TPOT_MAX * 1e3:.0f} ms; shaded: band)",
                             fontsize=10)
                ax.legend(fontsize=7.5, loc="lower right")
            else:
                ax.axhline(TPOT_MAX * 1e3, color="k", lw=1, ls="--")
                ax.annotate(f"{TPOT_MAX * 1e3:.0f} ms per token (20 tokens/s per user)",
                            (1, TPOT_MAX * 1e3), fontsize=8, va="bottom")
                ax.set_ylabel("time per decode step = TPOT (ms)")
                ax.set_title(f"(b) {model}: time per output token vs batch (shaded: band;\n"
                             "a line ends where the batch no longer fits memory)", fontsize=10)
        # (c) batch 1 vs best, tokens/J with band error bars
        ax = axes[i, 2]
        xs = np.arange(len(keys))
        floor = min([p.band["low"]["tokens_per_j"] for key in keys
                     for p in (ops[(model, key)].batch1, ops[(model, key)].best)
                     if p is not None and p.fits] or [1.0]) / 4
        for k, key in enumerate(keys):
            label, _, _, col, _ = SYSTEMS[key]
            op = ops[(model, key)]
            for off, p, name in ((-0.18, op.batch1, "batch 1"), (0.18, op.best, "best")):
                if p is None or not p.fits:
                    ax.bar([k + off], [0], 0.34)
                    ax.annotate("does not fit" if p is not None else f"no batch\n<= {TPOT_MAX * 1e3:.0f} ms",
                                (k + off, floor), ha="center", va="bottom", fontsize=6.5, rotation=90)
                    continue
                v = p.tokens_per_j
                err = [[v - p.band["low"]["tokens_per_j"]], [p.band["high"]["tokens_per_j"] - v]]
                ax.bar([k + off], [v], 0.34, color=col, alpha=0.45 if name == "batch 1" else 0.95,
                       hatch="" if (name == "best" or p.meets) else "////", edgecolor=col,
                       yerr=err, capsize=3, error_kw={"lw": 0.8})
                ax.annotate(f"{v:.3g}" + ("" if name == "batch 1" else f"\nb={p.batch}"),
                            (k + off, p.band["high"]["tokens_per_j"]), ha="center", va="bottom",
                            fontsize=6.5)
        ax.set_xticks(xs, [SHORT[k] for k in keys], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(floor, None)
        ax.set_ylabel("tokens per joule (error bar: band low..high)")
        ax.bar([], [], color="0.6", alpha=0.45, label="batch 1 (hatched: over the limit)")
        ax.bar([], [], color="0.3", label=f"best batch with a step <= {TPOT_MAX * 1e3:.0f} ms")
        ax.legend(fontsize=7.5, loc="upper left")
        ax.set_title(f"(c) {model}: tokens/J at batch 1 (light) and at the best point (dark)",
                     fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.25)
    fig.suptitle(f"Fair operating points: decode at context {CONTEXT}, bf16 unless stated, most "
                 f"tokens per joule with a step <= {TPOT_MAX * 1e3:.0f} ms (nmc model; bands over "
                 "the presets' estimate ranges)", fontsize=12)
    C.lean_log_ticks(fig)
    from matplotlib.ticker import FixedLocator, NullLocator
    ticks = [b for b in BATCHES if b in (1, 4, 16, 64, 256, 1024, 4096)]
    for row in axes:
        for ax in row[:2]:
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(t) for t in ticks])
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return C.save(fig, path, svg)


def headline(rows) -> None:
    C.say(f"== {NAME}: decode, context {CONTEXT}, most tokens/J with a step <= {TPOT_MAX * 1e3:.0f} ms")
    for r in rows:
        best = (f"best batch {r['best_batch']:>4}: {r['best_tokens_per_s']:8.4g} tok/s "
                f"{r['best_tokens_per_j']:7.3g} tok/J [{r['best_tokens_per_j_low']:.3g}..."
                f"{r['best_tokens_per_j_high']:.3g}] ({r['why']})") if r["best_batch"] else \
            f"no batch meets the limit ({r['why']})"
        C.say(f"  {r['model']:13s} {r['label']:32s} batch 1: {r['b1_tokens_per_s']:8.4g} tok/s "
              f"{r['b1_tokens_per_j']:7.3g} tok/J | {best}")


def run(quick: bool, out: Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res = compute(quick)
    C.write_csv(point_rows(res["ops"]), out / "points.csv")
    C.write_csv(res["rows"], out / "best.csv")
    figs = figure(res["ops"], out / "operating_points.png", svg=not quick)
    headline(res["rows"])
    C.say("wrote " + ", ".join(map(str, [out / "points.csv", out / "best.csv", *figs])))
    res["figures"] = figs
    return res
