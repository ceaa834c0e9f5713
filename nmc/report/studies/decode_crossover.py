"""Decode crossover: tokens/s and per-token latency of llama-3-8b decode vs batch (1..512) and
context (512..128k tokens in the KV cache) on a GPU (h100-sxm), a GPU with near-memory compute
(h100+hbm3-pim, mapping auto) and an analog system (aimc-edge-projected with as many chips as
the weights need, aimc_chips = 0); which system wins where, and the KV cache as the wall at
long context.

bf16 weights, activations and KV cache, tp 1. llama-3-8b has the shapes of Llama-3.1-8B, whose
window is 128k; contexts above 8k are beyond llama-3-8b's own trained window (a warning, not an
error). A point that does not fit the device memory (weights + KV + activations > usable
capacity) is kept in the CSV with fits = False and excluded from the winner map.

Writes points.csv, winners.csv and decode_crossover.png/.svg.

    python experiments/decode_crossover.py [--quick] [--out DIR]
"""
from __future__ import annotations

from pathlib import Path

from ..tables import sig
from . import common as C
import numpy as np

from ...analysis.inference import analyze
from ...sweeps.bands import band_sweep


NAME = "decode_crossover"
MODEL = "llama-3-8b"
SYSTEMS = [("GPU", "h100-sxm", {}, "tab:blue"),
           ("GPU+PIM", "h100+hbm3-pim", {}, "tab:red"),
           ("AIMC", "aimc-edge-projected", {"aimc_chips": 0}, "tab:green")]
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
CONTEXTS = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]
QUICK_BATCHES = [1, 16, 256]
QUICK_CONTEXTS = [512, 4096, 131072]
ATTN = ("attn_score", "softmax", "attn_context")


def evaluate(quick: bool) -> list[dict]:
    batches = QUICK_BATCHES if quick else BATCHES
    contexts = QUICK_CONTEXTS if quick else CONTEXTS
    rows = []
    for label, arch, over, _ in SYSTEMS:
        for c in contexts:
            for b in batches:
                r = analyze(MODEL, arch, phase="decode", batch=b, context=c, **over)
                tot = sum(o["time_s"] for o in r.ops) or 1.0
                attn = sum(o["time_s"] for o in r.ops if o["name"] in ATTN) / tot
                rows.append({"system": label, "arch": arch, "model": MODEL, "batch": b,
                             "context": c, "tokens_per_s": r.tokens_per_s,
                             "latency_per_token_s": r.latency_s, "fits": r.fits,
                             "max_batch": int(r.results["max_batch"]), "bound": r.bound,
                             "attention_share": attn, "kv_bytes": r.results["kv_bytes"],
                             "weight_bytes": r.results["weight_bytes"],
                             "memory_bytes": r.memory_bytes,
                             "energy_per_token_j": r.energy_per_token_j})
    return rows


def winners(rows: list[dict]) -> list[dict]:
    """Per (batch, context), among the systems that fit: the one with the most tokens/s (and its
    lead over the runner-up, and the GPU+PIM speed-up over the GPU) and the one with the least
    J/token ('none' if nothing fits)."""
    out = []
    keys = sorted({(r["batch"], r["context"]) for r in rows})
    for b, c in keys:
        here = {r["system"]: r for r in rows if r["batch"] == b and r["context"] == c}
        cand = sorted((r for r in here.values() if r["fits"]), key=lambda r: -r["tokens_per_s"])
        # a speed-up only between two systems that both run it (fit in memory)
        pim_vs_gpu = (here["GPU+PIM"]["tokens_per_s"] / here["GPU"]["tokens_per_s"]
                      if here["GPU+PIM"]["fits"] and here["GPU"]["fits"] else float("nan"))
        if not cand:
            out.append({"batch": b, "context": c, "winner": "none", "tokens_per_s": float("nan"),
                        "lead_over_next": float("nan"), "runner_up": "", "energy_winner": "none",
                        "energy_per_token_j": float("nan"), "pim_speedup_over_gpu": pim_vs_gpu})
            continue
        lead = cand[0]["tokens_per_s"] / cand[1]["tokens_per_s"] if len(cand) > 1 else float("inf")
        ew = min(cand, key=lambda r: r["energy_per_token_j"])
        out.append({"batch": b, "context": c, "winner": cand[0]["system"],
                    "tokens_per_s": cand[0]["tokens_per_s"], "lead_over_next": lead,
                    "runner_up": cand[1]["system"] if len(cand) > 1 else "",
                    "energy_winner": ew["system"], "energy_per_token_j": ew["energy_per_token_j"],
                    "pim_speedup_over_gpu": pim_vs_gpu})
    return out


def _sel(rows, **kw):
    return [r for r in rows if all(r[k] == v for k, v in kw.items())]


def figure(rows, wins, path, svg=True):
    plt = C.plt
    batches = sorted({r["batch"] for r in rows})
    contexts = sorted({r["context"] for r in rows})
    c_ref = 4096 if 4096 in contexts else contexts[len(contexts) // 2]
    b_hi = 64 if 64 in batches else batches[-2]
    fig, axes = plt.subplots(2, 3, figsize=(20, 10.5))
    ax = axes[0, 0]
    for label, arch, over, col in SYSTEMS:
        s = _sel(rows, system=label, context=c_ref)
        # the band: low..high over the preset's estimate ranges (docs/bands.md), points that fit
        t = band_sweep(MODEL, arch, {"batch": [r["batch"] for r in s]}, phase="decode",
                       context=c_ref, arch_set=over or None, columns=["tokens_per_s", "fits"])
        ok = np.asarray(t["fits"], bool)
        ax.fill_between(np.asarray(t["batch"])[ok], np.asarray(t["tokens_per_s_low"])[ok],
                        np.asarray(t["tokens_per_s_high"])[ok], color=col, alpha=0.15, lw=0)
        ax.plot([r["batch"] for r in s], [r["tokens_per_s"] for r in s], "-", color=col, label=label)
        for r in s:
            ax.plot(r["batch"], r["tokens_per_s"], "o", color=col,
                    mfc=col if r["fits"] else "white")
    ax.set(xscale="log", yscale="log", xlabel="batch (sequences decoded together)",
           ylabel="decode throughput (tokens/s)",
           title=f"(a) throughput vs batch, context {c_ref} (hollow = does not fit memory;\n"
                 "shaded: low..high over the presets' estimate ranges where it fits)")
    ax.legend()
    ax = axes[0, 1]
    for label, _, _, col in SYSTEMS:
        for b, ls in ((1, "-"), (b_hi, "--")):
            s = _sel(rows, system=label, batch=b)
            ax.plot([r["context"] for r in s], [r["latency_per_token_s"] * 1e3 for r in s], ls,
                    color=col, label=f"{label}, batch {b}")
            for r in s:
                ax.plot(r["context"], r["latency_per_token_s"] * 1e3, "o", color=col,
                        mfc=col if r["fits"] else "white", ms=4)
    ax.set(xscale="log", yscale="log", xlabel="context (tokens in the KV cache)",
           ylabel="time per decode step (ms)",
           title="(b) per-token latency vs context (hollow = does not fit)")
    ax.legend(fontsize=8, ncol=2)
    names = ["none"] + [s[0] for s in SYSTEMS]
    colors = ["0.85"] + [s[3] for s in SYSTEMS]
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch, Rectangle
    clabels = [f"{c // 1024}k" if c >= 1024 else str(c) for c in contexts]
    for ax, key, val, title in (
            (axes[1, 0], "winner", "pim_speedup_over_gpu",
             "(c) most tokens/s among systems that fit\n(cell: GPU+PIM speed-up over GPU where "
             "both fit; hatched: nothing fits)"),
            (axes[1, 1], "energy_winner", "energy_per_token_j",
             "(d) least J/token among systems that fit\n(cell: that system's mJ/token; "
             "hatched: nothing fits)")):
        grid = np.zeros((len(batches), len(contexts)))
        for w in wins:
            grid[batches.index(w["batch"]), contexts.index(w["context"])] = names.index(w[key])
        ax.imshow(grid, origin="lower", cmap=ListedColormap(colors), vmin=-0.5,
                  vmax=len(names) - 0.5, aspect="auto", alpha=0.7)
        for w in wins:
            i, j = batches.index(w["batch"]), contexts.index(w["context"])
            v = w[val]
            if w[key] == "none":        # nothing fits: hatched, no number
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="xx",
                                       edgecolor="0.55", lw=0))
                continue
            if not np.isfinite(v):      # GPU or GPU+PIM does not fit: no speed-up to print
                continue
            txt = f"×{v:.2g}" if key == "winner" else sig(v * 1e3, 2)
            ax.text(j, i, txt, ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(contexts)), clabels)
        ax.set_yticks(range(len(batches)), [str(b) for b in batches])
        ax.set(xlabel="context (tokens in the KV cache)", ylabel="batch", title=title)
        ax.legend([Patch(facecolor=colors[0], alpha=0.7, hatch="xx", edgecolor="0.55")]
                  + [Patch(color=c, alpha=0.7) for c in colors[1:]], ["nothing fits"] + names[1:],
                  loc="upper right", fontsize=8)
        ax.grid(False)
    ax = axes[0, 2]
    for label, _, _, col in SYSTEMS:
        s = _sel(rows, system=label, batch=1)
        ax.plot([r["context"] for r in s], [max(r["max_batch"], 0.5) for r in s],
                "--o" if label == "GPU" else "-o", ms=3, color=col, lw=2.5 if label == "GPU" else 1.5,
                label=label + (" (= GPU+PIM: same 80 GB)" if label == "GPU" else ""), zorder=3)
    ax.set(xscale="log", yscale="log", xlabel="context (tokens in the KV cache)",
           ylabel="largest batch that fits (weights + KV + activations)",
           title="(e) the KV-cache capacity wall (0 plotted at 0.5)")
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    for label, _, _, col in SYSTEMS:
        for b, ls in ((1, "-"), (b_hi, "--")):
            s = _sel(rows, system=label, batch=b)
            ax.plot([r["context"] for r in s], [100 * r["attention_share"] for r in s], ls,
                    color=col, marker="o", ms=3, label=f"{label}, batch {b}")
    ax.axhline(50, color="0.5", lw=0.8, ls=":")
    ax.set(xscale="log", ylim=(0, 100), xlabel="context (tokens in the KV cache)",
           ylabel="attention (KV-cache reads) share of step time (%)",
           title="(f) the KV-cache bandwidth wall: attention's share of the step")
    ax.legend(fontsize=8, ncol=2)
    for a in (axes[0, 0], axes[0, 1], axes[0, 2], axes[1, 2]):
        a.grid(True, alpha=0.3)
    fig.suptitle(f"{MODEL} decode (bf16): GPU = h100-sxm, GPU+PIM = h100+hbm3-pim (auto mapping), "
                 f"AIMC = aimc-edge-projected with as many chips as the weights need", fontsize=11)
    C.lean_log_ticks(fig)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return C.save(fig, path, svg)


def headline(rows, wins) -> dict:
    h = {}
    contexts = sorted({r["context"] for r in rows})
    c_ref = 4096 if 4096 in contexts else contexts[len(contexts) // 2]
    C.say(f"== {NAME}: {MODEL} decode, bf16")
    for label, *_ in SYSTEMS:
        s = _sel(rows, system=label, context=c_ref)
        b1 = _sel(s, batch=1)[0]
        fit = [r for r in s if r["fits"]]
        best = max(fit, key=lambda r: r["tokens_per_s"]) if fit else None
        h[label] = {"batch1_tokens_per_s": b1["tokens_per_s"], "batch1_latency_ms": b1["latency_per_token_s"] * 1e3,
                    "best_fitting": best and (best["batch"], best["tokens_per_s"])}
        C.say(f"  {label:8s} context {c_ref}: batch 1 {b1['tokens_per_s']:.4g} tok/s "
              f"({b1['latency_per_token_s'] * 1e3:.3g} ms/token); best fitting batch "
              + (f"{best['batch']}: {best['tokens_per_s']:.4g} tok/s" if best else "none"))
        long = _sel(rows, system=label, batch=1)
        wall = next((r["context"] for r in long if r["attention_share"] >= 0.5), None)
        h[label]["kv_wall_context_batch1"] = wall
        bh = 64 if _sel(rows, batch=64) else sorted({r["batch"] for r in rows})[-2]
        wall_hi = next((r["context"] for r in _sel(rows, system=label, batch=bh)
                        if r["attention_share"] >= 0.5), None)
        h[label][f"kv_wall_context_batch{bh}"] = wall_hi
        C.say(f"           batch 1: attention >= 50 % of the step from context "
              f"{wall if wall else '> ' + str(contexts[-1])}; at {contexts[-1]}: "
              f"{long[-1]['tokens_per_s']:.3g} tok/s, attention {long[-1]['attention_share']:.0%}; "
              f"batch {bh}: attention >= 50 % from context {wall_hi}")
    for key in ("winner", "energy_winner"):
        counts = {}
        for w in wins:
            counts[w[key]] = counts.get(w[key], 0) + 1
        h[key] = counts
        C.say(f"  {key} cells (fitting systems only): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    sp = [w["pim_speedup_over_gpu"] for w in wins if w["context"] == c_ref]
    h["pim_speedup_range"] = (max(sp), min(sp))
    h["pim_speedup_batch1"], h["pim_speedup_last"] = sp[0], sp[-1]
    C.say(f"  GPU+PIM over GPU at context {c_ref}: x{max(sp):.3g} (batch 1) ... x{sp[-1]:.3g} (batch {max(w['batch'] for w in wins)})")
    gp = [w for w in wins if w["context"] == c_ref]
    order = " -> ".join(f"b{w['batch']}:{w['winner']}" for w in gp)
    C.say(f"  context {c_ref}, by batch: {order}")
    return h


def run(quick: bool, out: Path) -> dict:
    rows = evaluate(quick)
    wins = winners(rows)
    C.write_csv(rows, out / "points.csv")
    C.write_csv(wins, out / "winners.csv")
    figs = figure(rows, wins, out / "decode_crossover.png", svg=not quick)
    h = headline(rows, wins)
    C.say("wrote " + ", ".join(map(str, [out / "points.csv", out / "winners.csv", *figs])))
    h["figures"] = figs
    return h
