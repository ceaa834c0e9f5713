"""GPU alone vs GPU + near-memory compute vs disaggregated serving (GPU prefill, PIM decode) at
long context and with reasoning-length outputs (issue 14, experiment 7b; docs/serving.md,
"Experiments").

Model qwen3-32b (BF16, 64 layers, 8 KV heads, 40,960 positions: long requests fit), eight
devices in every configuration:
  * GPU: 4 replicas of h100-sxm tp2, chunked prefill (token budget 2048, max batch 256);
  * GPU+PIM: 4 replicas of h100+hbm3-pim tp2 (an H100 whose HBM3 stacks carry AttAcc-style
    processing units; power budget and tFAW/tRRD limits in the preset), mapping auto: each
    pass places attention (and GEMVs) on the PIM units when that is faster (docs/nmc.md);
  * disaggregated: prefill on h100-sxm tp2 replicas, decode on h100+hbm3-pim tp2 replicas, the
    KV cache crossing the scale-out network (50 GB/s per device), prefill:decode replicas
    3:1, 2:2 or 1:3 (the best of the three is reported).
Two workloads: reasoning (the bundled `reasoning` trace's lengths: prompt mean 402, output
mean 4039, up to 32,000 tokens) and long context (prompt 16,384 tokens, output 512). For each
configuration: the highest request rate of the 8 devices under the SLO p90 TTFT <= 2 s and
p99 TPOT <= 50 ms (bisection, nmc.serving.search.evaluate_layout, 2000 requests, the bracket's
top doubled up to 6 times: a reasoning trace's all-at-once rate is far below what the fleet
sustains), with its energy per output token; and p99 TPOT and energy per token against the
offered rate (a sweep). No price: the PIM part has none (a research design).

Writes serving_pim.csv (rate at the SLO), serving_pim_sweep.csv and serving_pim.png/.svg.

    python experiments/serving_pim.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import common as C
from ...serving.search import Layout, _measure, evaluate_layout, workload

NAME = "serving_pim"
MODEL = "qwen3-32b"
SLO = (2.0, 0.05)
GPU, PIM = "h100-sxm", "h100+hbm3-pim"
WORKLOADS = {"reasoning": dict(trace="reasoning", title="reasoning trace (output mean 4039)"),
             "long context": dict(prompt=16384, output=512,
                                  title="long context (prompt 16,384, output 512)")}
RATIOS = ((3, 1), (2, 2), (1, 3))


def configs(quick: bool = False) -> dict:
    """label -> list of candidate Layouts of one 8-device unit (the best is kept)."""
    return {
        "GPU (H100)": [Layout(GPU, 2, 1, "chunked", 256, 2048, replicas=4)],
        "GPU+PIM (H100+HBM3-PIM)": [Layout(PIM, 2, 1, "chunked", 256, 2048, replicas=4)],
        "disaggregated (GPU prefill, PIM decode)": [
            Layout(GPU, 2, 1, "disaggregated", 256, 8192, npre, PIM, 2, 1, ndec)
            for npre, ndec in (RATIOS[-1:] if quick else RATIOS)],
    }


def _workload(name: str, n: int):
    w = WORKLOADS[name]
    return workload(n, prompt=w.get("prompt", 512), output=w.get("output", 128),
                    trace=w.get("trace"), seed=0)


def run(quick: bool, out: Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 100 if quick else 2000
    steps = 3 if quick else 7
    rows, sweep = [], []
    for wname in WORKLOADS:
        wl = _workload(wname, n)
        for label, lays in configs(quick).items():
            best = None
            for lay in lays:
                r = evaluate_layout(MODEL, lay, wl, SLO, steps=steps, grow=2 if quick else 6)
                if best is None or r.get("rate_per_unit", 0) > best.get("rate_per_unit", 0):
                    best = r
            devices = best["devices_per_unit"]
            row = {"workload": wname, "config": label, "layout": best["label"],
                   "devices": devices, "feasible": best.get("feasible", False),
                   "rate_at_slo": best.get("rate_per_unit", 0.0),
                   "rate_per_device_at_slo": best.get("rate_per_unit", 0.0) / devices,
                   "ttft_p90_s": best.get("ttft_p90_s"), "tpot_p99_s": best.get("tpot_p99_s"),
                   "energy_per_token_j": best.get("energy_per_token_j"),
                   "saturation_rate": best.get("saturation_rate"),
                   "reason": best.get("reason", "")}
            rows.append(row)
            C.say(f"{wname:12s} {label:42s} {row['rate_at_slo']:.3g} req/s at the SLO "
                  f"({row['layout']}), "
                  + (f"{row['energy_per_token_j']:.3g} J/token" if row["energy_per_token_j"]
                     else row["reason"]))
            # the sweep: offered rate from 1/8 to 1.5x of the GPU's rate at the SLO
            lay = next(x for x in lays if x.label() == best["label"])
            sweep += _sweep(wname, label, lay, wl, rows, quick)
    C.write_csv(rows, out / f"{NAME}.csv")
    C.write_csv(sweep, out / f"{NAME}_sweep.csv")
    figs = figure(rows, sweep, out, quick)
    C.say("wrote " + ", ".join(map(str, [out / f"{NAME}.csv", out / f"{NAME}_sweep.csv",
                                         *figs])))
    h = {"model": MODEL, "slo": SLO, "rows": rows, "figures": figs}
    return h


def _sweep(wname, label, lay, wl, rows, quick) -> list[dict]:
    ref = next(r for r in rows if r["workload"] == wname and r["config"].startswith("GPU ("))
    base = ref["rate_at_slo"] or 0.1
    out = []
    for f in ((0.5, 2.0) if quick else (0.125, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)):
        rate = f * base
        d = _measure(MODEL, lay, wl, rate, SLO, {})
        out.append({"workload": wname, "config": label, "layout": lay.label(),
                    "rate": rate, "rate_per_device": rate / lay.devices,
                    "tpot_p50_s": d["tpot_p50_s"], "tpot_p99_s": d["tpot_p99_s"],
                    "ttft_p90_s": d["ttft_p90_s"], "throughput_tokens_per_s":
                    d["throughput_tokens_per_s"], "energy_per_token_j": d["energy_per_token_j"]})
    return out


def figure(rows, sweep, out: Path, quick: bool) -> list[Path]:
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    labels = list(configs())
    for i, wname in enumerate(WORKLOADS):
        ax = axes[0, i]
        for k, label in enumerate(labels):
            pts = [s for s in sweep if s["workload"] == wname and s["config"] == label]
            x = [s["rate_per_device"] for s in pts]
            y = [1e3 * (s["tpot_p99_s"] or np.nan) for s in pts]
            ax.plot(x, y, "o-", color=f"C{k}", label=label)
        ax.axhline(1e3 * SLO[1], color="grey", ls=":", lw=1)
        ax.text(ax.get_xlim()[0], 1e3 * SLO[1], " SLO", va="bottom", fontsize=7, color="grey")
        ax.set_yscale("log")
        ax.set_xlabel("offered rate per device (requests/s)")
        ax.set_ylabel("p99 TPOT (ms, log)")
        ax.set_title(f"{MODEL} BF16, 8 devices: {WORKLOADS[wname]['title']}", fontsize=9,
                     loc="left")
        if i == 0:
            ax.legend(fontsize=7)
        ax = axes[1, i]
        rs = [r for r in rows if r["workload"] == wname]
        for k, r in enumerate(rs):
            v = r["rate_per_device_at_slo"]
            if not r["feasible"]:
                ax.bar(k, 0.02, color="white", edgecolor="grey", hatch="//")
                ax.text(k, 0.02, "misses SLO", ha="center", va="bottom", fontsize=7)
                continue
            ax.bar(k, v, color=f"C{k}")
            ax.text(k, v, f"{v:.3g} req/s/dev\n{r['energy_per_token_j']:.2g} J/token\n"
                    f"{r['layout'].replace(' disagg b256', '')}", ha="center", va="bottom",
                    fontsize=7)
        ax.set_xticks(range(len(rs)))
        ax.set_xticklabels([r["config"].replace(" (", "\n(") for r in rs], fontsize=7)
        ax.set_ylabel("rate per device at the SLO (req/s)")
        top = max([r["rate_per_device_at_slo"] for r in rs] + [0.05])
        ax.set_ylim(0, top * 1.45)
        ax.set_title(f"highest rate under p90 TTFT <= {SLO[0]:g} s, p99 TPOT <= "
                     f"{1e3 * SLO[1]:g} ms", fontsize=9, loc="left")
    fig.suptitle("GPU alone vs GPU+PIM vs disaggregated (GPU prefill, PIM decode): nmc.serve, "
                 "no price (the PIM part is a research design)", fontsize=10)
    fig.tight_layout()
    return C.save(fig, out / f"{NAME}.png", svg=not quick)
