"""Figures of the serving simulator: the time series of one run (running batch, queue, KV-cache
use) and the cost-latency Pareto chart of a capacity search across architectures."""
from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .sweep import _save


def series_chart(report, path, title: str | None = None):
    """Three stacked panels over simulated time: sequences running, requests waiting, KV-cache
    use (fraction of the pool's blocks); one line per pool (disaggregated: prefill, decode)."""
    rows = report.series_rows()
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.5), sharex=True)
    for pool in dict.fromkeys(r["pool"] for r in rows):
        sel = [r for r in rows if r["pool"] == pool]
        t = np.array([r["time_s"] for r in sel])
        for ax, key in zip(axes, ("batch", "queue", "kv_use")):
            ax.step(t, [r[key] for r in sel], where="post", lw=0.9,
                    label=pool if pool != "serve" else None)
    axes[0].set_ylabel("running sequences")
    axes[1].set_ylabel("queued requests")
    axes[2].set_ylabel("KV-cache use")
    axes[2].set_ylim(0, 1.05)
    axes[2].set_xlabel("simulated time (s)")
    if "prefill" in report.pools:
        axes[0].legend(loc="upper right", fontsize=8)
    d = report.to_dict()
    axes[0].set_title(title or (f"{d['model']} on {d['arch']} ({d['scheduler']}, "
                                f"{d['devices']} devices): {d['workload'].get('arrivals', '')}"),
                      fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path, "series.png")


def pareto_chart(rows, path, y: str = "ttft_p90_s", x: str | None = None,
                 title: str | None = None):
    """One point per feasible layout of a capacity search: x = cost per million tokens when
    every arch has a price (else devices per request/s), y = a latency at the layout's highest
    rate under the SLO; colour per arch, the Pareto front (lower-left) drawn and labelled."""
    ok = [r for r in rows if r.get("feasible")]
    if x is None:
        x = ("cost_per_million_tokens"
             if ok and all(r.get("cost_per_million_tokens") for r in ok) else "devices_per_rate")
    for r in ok:
        r["devices_per_rate"] = r["devices_per_unit"] / r["rate_per_unit"]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    archs = list(dict.fromkeys(r["arch"] + (f"+{r['decode_arch']}" if r.get("decode_arch")
                                              and r["decode_arch"] != r["arch"] else "")
                               for r in ok))
    cmap = plt.get_cmap("tab10")
    for i, a in enumerate(archs):
        sel = [r for r in ok if (r["arch"] + (f"+{r['decode_arch']}" if r.get("decode_arch")
                                               and r["decode_arch"] != r["arch"] else "")) == a]
        ax.scatter([r[x] for r in sel], [r[y] * 1e3 for r in sel], s=14, alpha=0.6,
                   color=cmap(i % 10), label=a)
    pts = sorted(ok, key=lambda r: (r[x], r[y]))
    front, best_y = [], np.inf
    for r in pts:
        if r[y] < best_y:
            front.append(r)
            best_y = r[y]
    ax.plot([r[x] for r in front], [r[y] * 1e3 for r in front], "k-", lw=1, label="Pareto front")
    step = max(1, len(front) // 6)              # label about six points along the front
    for r in front[::step]:
        ax.annotate(r["label"], (r[x], r[y] * 1e3), fontsize=6, xytext=(4, 2),
                    textcoords="offset points")
    ax.set_xlabel({"cost_per_million_tokens": "USD per million output tokens",
                   "devices_per_rate": "devices per request/s (no price known)"}.get(x, x))
    ax.set_ylabel(y.replace("_s", "") + " (ms)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax.xaxis, ax.yaxis):               # plain numbers on the (short) log axes
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(plain)
        axis.set_tick_params(which="minor", labelsize=7)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(title or "capacity search: each layout at its highest rate under the SLO",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path, "pareto.png")
