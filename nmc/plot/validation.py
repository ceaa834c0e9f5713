"""The validation scatter: predicted vs measured per metric, one colour per group, ±10 % and
±25 % bands."""
from __future__ import annotations

from pathlib import Path

from .output import save_figure


def validation_scatter(done: list[dict], path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    groups = sorted({r["group"] for r in done})
    metrics = sorted({r["metric"] for r in done})
    cols = min(3, len(metrics))
    rows_n = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.6 * cols, 4.2 * rows_n), squeeze=False)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    colors = dict(zip(groups, plt.cm.tab10.colors))
    for ax, metric in zip(axes.flat, metrics):
        rs = [r for r in done if r["metric"] == metric]
        lo = min(min(r["measured"], r["predicted"]) for r in rs) / 1.5
        hi = max(max(r["measured"], r["predicted"]) for r in rs) * 1.5
        x = np.array([lo, hi])
        ax.plot(x, x, "k-", lw=1)
        for f in (0.10, 0.25):
            ax.fill_between(x, x * (1 - f), x * (1 + f), color="0.5", alpha=0.12 if f < 0.2 else 0.07,
                            label=f"±{f:.0%}")
        for g in groups:
            pts = [r for r in rs if r["group"] == g]
            if pts:
                ax.scatter([r["measured"] for r in pts], [r["predicted"] for r in pts], s=18,
                           color=colors[g], label=g, edgecolors="k", linewidths=0.3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"measured {metric}")
        ax.set_ylabel(f"predicted {metric}")
        ax.set_title(metric, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("nmc predictions vs published measurements")
    fig.tight_layout()
    return save_figure(fig, Path(path).with_suffix(".png"), "validation.png", dpi=90)
