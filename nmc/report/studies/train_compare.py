"""How much longer does training take on export-compliant and domestic accelerators than on
H100, and is it a compute, memory or network problem?

Time-to-train of a 70B model (llama-2-70b) and a 7B model (llama-2-7b) on 2T tokens, global
batch 1024 x 4096 tokens (equal devices), across h100-sxm, h800-sxm, h20, a800-80g-sxm and ascend-910b:
  * at equal device count (1024 for 70B, 256 for 7B; --quick: 256 and 64),
  * at equal power: devices = reference count x TDP(h100-sxm) / TDP(arch), rounded to 64
    (board TDP, the `tdp` preset key; skipped where a preset has none), with the global batch
    scaled by the same factor (weak scaling: same sequences per device).
For every (model, arch, cluster) the fastest (tp, pp, micro-batch, recompute, ZeRO 0-2) that
fits memory is found with nmc.analysis.training.search (ZeRO-3 is left out, see best()); the time shares of that configuration say what
limits it. Writes train_compare.csv and train_compare.png under --out (default
results/train_compare).

    python experiments/train_compare.py [--quick] [--out DIR] [--docs] [--archs A,B,...]
"""
from __future__ import annotations

import sys
from pathlib import Path

from ...analysis.training import search, train
from ...arch.loader import load_arch
from ...errors import NmcError
from . import common as C

NAME = "train_compare"

ARCHS = ["h100-sxm", "h800-sxm", "h20", "a800-80g-sxm", "ascend-910b"]
MODELS = {"llama-2-70b": 1024, "llama-2-7b": 256}
QUICK = {"llama-2-70b": 256, "llama-2-7b": 64}
TOKENS = 2e12
SEQ = 4096
GBS = 1024
SHARES = ("compute", "memory", "latency", "communication", "bubble")


def grouped_shares(ts: dict) -> dict:
    return {"compute": ts["compute"], "memory": ts["memory"] + ts["optimizer"],
            "latency": ts["latency"],
            "communication": (ts["comm_tp"] + ts["comm_pp"] + ts["comm_ep"] + ts["comm_cp"]
                              + ts["comm_dp"]),
            "bubble": ts["bubble"]}


def best(model, arch, devices, gbs, quick):
    # ZeRO-3 is left out: its per-layer gathers are hidden up to each layer's compute, but the
    # validation shows ZeRO-3/FSDP stacks (DeepSpeed 2021, PyTorch FSDP on H100) running well
    # below the model (docs/training.md, sec. 6); the comparison sticks to ZeRO 0-2
    kw = {"micro_batch": [1, 2] if quick else [1, 2, 4], "zero": [1] if quick else [0, 1, 2]}
    rows = search(model, arch, devices=devices, global_batch=gbs, seq=SEQ, top=1, **kw)
    if not rows:
        return None
    b = rows[0]
    r = train(model, arch, devices=devices, tp=b["tp"], pp=b["pp"], micro_batch=b["micro_batch"],
              global_batch=gbs, seq=SEQ, recompute=b["recompute"], zero=b["zero"], tokens=TOKENS)
    return r


def compute(quick: bool = False, arch_names=None) -> list[dict]:
    """One row per (model, arch, case): the fastest layout and its days, MFU, energy, shares;
    vs_h100 = days / the first arch's days."""
    archs = {}
    for name in arch_names or ARCHS:
        try:
            a = load_arch(name)
            archs[a.name] = a
        except NmcError as e:
            print(f"skipping {name}: {e}", file=sys.stderr)
    counts = QUICK if quick else MODELS
    ref = next(iter(archs.values()), None)           # the first architecture is the reference
    ref_tdp = ref["tdp"] if ref is not None else 0.0
    rows = []
    for model, n_ref in counts.items():
        for name, a in archs.items():
            cases = [("equal devices", n_ref)]
            if ref_tdp > 0 and a["tdp"] > 0:
                cases.append(("equal power", max(64, round(n_ref * ref_tdp / a["tdp"] / 64) * 64)))
            for case, n in cases:
                # equal power is weak scaling: the global batch grows with the device count
                # (same sequences per device), so that every cluster keeps its data parallelism
                gbs = GBS * n // n_ref
                try:
                    r = best(model, a, n, gbs, quick)
                except NmcError as e:
                    print(f"{model} {name} {case}: {e}", file=sys.stderr)
                    r = None
                row = {"model": model, "arch": name, "case": case, "devices": n,
                       "global_batch": gbs}
                if r is None:
                    row["note"] = "no configuration fits memory"
                else:
                    d = r.to_dict()
                    c = r.config
                    row.update({"tp": c.tp, "pp": c.pp, "dp": c.dp, "micro_batch": c.micro_batch,
                                "recompute": c.recompute, "zero": c.zero,
                                "step_time_s": d["step_time_s"], "mfu": d["mfu"],
                                "days": d["time_to_train_days"],
                                "device_hours": d["device_hours"],
                                "energy_mwh": d["energy_to_train_mwh"],
                                "cluster_tdp_kw": n * a["tdp"] / 1e3,
                                "bottleneck": d["bottleneck"], "note": ""})
                    row.update({f"share_{k}": v for k, v in grouped_shares(d["time_shares"]).items()})
                rows.append(row)
                C.say(_line(row))
    h100 = {(r["model"], r["case"]): r.get("days") for r in rows if r["arch"] == ref.name}
    for r in rows:
        ref = h100.get((r["model"], r["case"]))
        r["vs_h100"] = r["days"] / ref if r.get("days") and ref else None
    return rows


def run(quick: bool, out: Path, arch_names=None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = compute(quick, arch_names)
    csv_path = C.write_csv(rows, out / "train_compare.csv")
    figs = chart(rows, out / "train_compare.png", svg=not quick)
    C.say("wrote " + ", ".join(map(str, [csv_path, *figs])))
    return {"rows": rows, "figures": figs}


def table(rows: list[dict]) -> str:
    """The Markdown table of docs/training.md section 7 (one row per model, arch and case)."""
    L = [("| model | arch | case | devices | layout (tp/pp/dp, mb, recompute, ZeRO) | days | "
          "vs H100 | MFU | MWh | compute | memory | comm | bubble |"),
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("days") is None:
            L.append(f"| {r['model']} | {r['arch']} | {r['case']} | {r['devices']} | "
                     f"{r['note']} | – | – | – | – | – | – | – | – |")
            continue
        L.append(f"| {r['model']} | {r['arch']} | {r['case']} | {r['devices']} | "
                 f"{r['tp']}/{r['pp']}/{r['dp']}, {r['micro_batch']}, {r['recompute']}, {r['zero']} | "
                 f"{r['days']:.1f} | {r['vs_h100']:.2f}x | {r['mfu']:.1%} | {r['energy_mwh']:.0f} | "
                 f"{r['share_compute']:.0%} | {r['share_memory']:.0%} | "
                 f"{r['share_communication']:.0%} | {r['share_bubble']:.0%} |")
    return "\n".join(L)


def _line(r):
    if "days" not in r:
        return f"{r['model']:12s} {r['arch']:13s} {r['case']:14s} {r['devices']:5d}  {r['note']}"
    return (f"{r['model']:12s} {r['arch']:13s} {r['case']:14s} {r['devices']:5d}  tp{r['tp']} "
            f"pp{r['pp']} dp{r['dp']} mb{r['micro_batch']} {r['recompute']:9s} z{r['zero']}  "
            f"{r['days']:7.1f} days  MFU {r['mfu']:.1%}  {r['bottleneck']}")



def chart(rows, path, svg: bool = True):
    import numpy as np
    plt = C.plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    fig, axes = plt.subplots(2, len(models), figsize=(6.5 * len(models), 8.5), squeeze=False)
    colors = {"compute": "#4c72b0", "memory": "#dd8452", "latency": "#8172b3",
              "communication": "#c44e52", "bubble": "#937860"}
    x = np.arange(len(archs))
    for j, model in enumerate(models):
        ax = axes[0, j]
        for k, case in enumerate(("equal devices", "equal power")):
            vals, labels = [], []
            for a in archs:
                r = next((r for r in rows if r["model"] == model and r["arch"] == a
                          and r["case"] == case), None)
                vals.append(r["days"] if r and r.get("days") else np.nan)
                labels.append(r["devices"] if r else "")
            bars = ax.bar(x + (k - 0.5) * 0.38, vals, 0.38, label=case,
                          color="#4c72b0" if k == 0 else "#55a868")
            for b, n in zip(bars, labels):
                if np.isfinite(b.get_height()):
                    ax.annotate(f"{n}", (b.get_x() + b.get_width() / 2, b.get_height()),
                                ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, archs, rotation=15)
        ax.set_ylabel("days to train on 2T tokens")
        n_eq = next(r["devices"] for r in rows if r["model"] == model and r["case"] == "equal devices")
        ax.set_title(f"{model}: time to train (numbers: devices; equal devices = {n_eq})",
                     fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax = axes[1, j]
        bottom = np.zeros(len(archs))
        for s in SHARES:
            vals = []
            for a in archs:
                r = next((r for r in rows if r["model"] == model and r["arch"] == a
                          and r["case"] == "equal devices"), None)
                vals.append(r.get(f"share_{s}", 0.0) if r else 0.0)
            ax.bar(x, vals, 0.6, bottom=bottom, color=colors[s],
                   label="memory (HBM or L2)" if s == "memory" else s)
            bottom += np.array(vals)
        for i, a in enumerate(archs):
            r = next((r for r in rows if r["model"] == model and r["arch"] == a
                      and r["case"] == "equal devices"), None)
            if r and r.get("tp"):
                ax.annotate(f"tp{r['tp']} pp{r['pp']}\n{r['recompute']} z{r['zero']}",
                            (i, 1.0), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, archs, rotation=15)
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("share of step time (equal devices)")
        ax.set_title(f"{model}: where the step time goes (fastest layout that fits)", fontsize=10)
        ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.suptitle("Time to train on 2T tokens (nmc model): global batch 1024 x 4096 tokens at equal "
                 "devices, scaled with the device count at equal power (board TDP)", fontsize=11)
    fig.tight_layout()
    return C.save(fig, path, svg)
