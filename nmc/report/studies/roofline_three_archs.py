"""Three architectures on one roofline: Llama-2-7B and Llama-2-70B prefill and decode operators
on a GPU (h100-sxm), a near-memory system (h100+hbm3-pim, mapping auto) and an analog chip
(aimc-edge-projected with as many chips as the weights need, aimc_chips = 0).

Prefill: batch 1, prompt 2048. Decode: batch 1, 2048 tokens in the KV cache. bf16, tp 1 (the
70B does not fit one 80 GB device; the per-operator shapes and intensities are what the chart
is about). Writes operators.csv (one row per operator), summary.csv (one row per point),
moves.csv (operators whose bound differs between prefill and decode) and one roofline figure
per model (roofline_<model>.png/.svg).

    python experiments/roofline_three_archs.py [--quick] [--out DIR]
"""
from __future__ import annotations

from pathlib import Path

from . import common as C
from ...analysis.inference import analyze

from ...plot.roofline import draw_crossbar, draw_roofline

NAME = "roofline_three_archs"
ARCHS = [("GPU", "h100-sxm", {}),
         ("near-memory", "h100+hbm3-pim", {}),
         ("analog", "aimc-edge-projected", {"aimc_chips": 0})]
MODELS = ["llama-2-7b", "llama-2-70b"]
MATRIX = ("gemm", "lm_head", "attn_score", "attn_context")
PHASES = {"prefill": {"phase": "prefill", "batch": 1, "prompt": 2048},
          "decode": {"phase": "decode", "batch": 1, "context": 2048}}


def evaluate(quick: bool):
    models = MODELS[:1] if quick else MODELS
    reports = {}
    for m in models:
        for label, arch, over in ARCHS:
            for ph, kw in PHASES.items():
                reports[(m, label, ph)] = analyze(m, arch, **kw, **over)
    return reports


def _level(r, o) -> str:
    """Which memory level sets t_memory: device DRAM or the on-chip L2/SRAM (GEMM tile panels)."""
    if o["engine"] != "host" or o["t_memory_s"] <= 0:
        return ""
    t_dram = o["dram_bytes"] / (r.arch["mem_bw"] * r.arch["eff_mem"])
    return "dram" if t_dram >= 0.999 * o["t_memory_s"] else "sram"


def _label(o) -> str:
    return o["bound"] + (f"({o['memory_level']})" if o["bound"] == "memory" and o["memory_level"] else "")


def tables(reports):
    ops, summary = [], []
    for (m, label, ph), r in reports.items():
        summary.append({"model": m, "system": label, "arch": r.arch.name, "phase": ph,
                        "tokens_per_s": r.tokens_per_s, "latency_s": r.latency_s,
                        "bound": r.bound, **{f"share_{k}": v for k, v in r.bound_shares.items()},
                        "energy_per_token_j": r.energy_per_token_j, "fits": r.fits,
                        "aimc_chips_needed": r.results.get("aimc_chips_needed")})
        for o in r.ops:
            ops.append({"model": m, "system": label, "arch": r.arch.name, "phase": ph,
                        "op": o["name"], "kind": o["kind"], "engine": o["engine"],
                        "count": o["count"], "flops": o["flops"], "dram_bytes": o["dram_bytes"],
                        "intensity_flop_per_byte": o["intensity"],
                        "attained_flops": o["attained_flops"], "peak_flops": o["peak_flops"],
                        "time_s": o["time_s"], "share": o["share"], "bound": o["bound"],
                        "memory_level": _level(r, o)})
    moves = []
    by = {(o["model"], o["system"], o["op"], o["phase"]): o for o in ops}
    for (m, sysl, op, ph), o in by.items():
        if ph != "decode" or (m, sysl, op, "prefill") not in by:
            continue
        p = by[(m, sysl, op, "prefill")]
        pb, db = _label(p), _label(o)
        if pb != db or p["engine"] != o["engine"]:
            moves.append({"model": m, "system": sysl, "op": op, "kind": o["kind"],
                          "decode_bound": db, "decode_engine": o["engine"],
                          "decode_intensity": o["intensity_flop_per_byte"],
                          "prefill_bound": pb, "prefill_engine": p["engine"],
                          "prefill_intensity": p["intensity_flop_per_byte"],
                          "prefill_share": p["share"], "decode_share": o["share"]})
    return ops, summary, moves


def figure(reports, model: str, path, svg: bool = True) -> list[Path]:
    """Rows: prefill, decode. Columns: GPU, near-memory (host + PIM roofs), analog crossbar
    tiles, analog digital unit. Marker size = the operator's share of the step time."""
    plt = C.plt
    fig, axes = plt.subplots(2, 4, figsize=(21, 9.5))
    handles = {}
    for i, ph in enumerate(PHASES):
        for j, (label, _, _) in enumerate(ARCHS[:2]):
            r = reports[(model, label, ph)]
            handles.update(draw_roofline(axes[i, j], r.arch, r.ops,
                                         f"{label}: {r.arch.name}\n{ph}, {r.tokens_per_s:.4g} tokens/s"))
        r = reports[(model, "analog", ph)]
        chips = int(r.results["aimc_chips_needed"])
        handles.update(draw_crossbar(axes[i, 2], r, f"analog: {r.arch.name} x {chips} chips, "
                                     f"crossbar tiles\n{ph}, {r.tokens_per_s:.4g} tokens/s"))
        handles.update(draw_roofline(axes[i, 3], r.arch, [o for o in r.ops if o["engine"] != "aimc_tiles"],
                                     f"analog: digital unit + LPDDR5X (KV cache)\n{ph}"))
        for ax in axes[i]:
            ax.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"{model}, bf16, batch 1: prefill (prompt 2048) vs decode (2048 tokens in the KV "
                 f"cache) operators on three architectures", fontsize=13)
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=8, fontsize=9,
               frameon=False, title="operators (marker size = share of step time)", title_fontsize=9)
    C.lean_log_ticks(fig)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return C.save(fig, path, svg)


def run(quick: bool, out: Path) -> dict:
    reports = evaluate(quick)
    ops, summary, moves = tables(reports)
    C.write_csv(ops, out / "operators.csv")
    C.write_csv(summary, out / "summary.csv")
    C.write_csv(moves, out / "moves.csv")
    figs = []
    for m in dict.fromkeys(k[0] for k in reports):
        figs += figure(reports, m, out / f"roofline_{m}.png", svg=not quick)
    head = {}
    C.say(f"== {NAME}: tokens/s and bound per system (batch 1, bf16)")
    for s in summary:
        C.say(f"  {s['model']:12s} {s['system']:12s} {s['phase']:8s} {C.fmt(s['tokens_per_s'], 4):>9s} tok/s"
              f"  bound {s['bound']:9s} memory {s['share_memory']:.0%} compute {s['share_compute']:.0%}"
              f" latency {s['share_latency']:.0%}")
        head[(s["model"], s["system"], s["phase"])] = s
    C.say("  matrix operators whose bound or engine changes from decode to prefill (share >= 1 %):")
    for mv in moves:
        if mv["kind"] in MATRIX and max(mv["prefill_share"], mv["decode_share"]) >= 0.01:
            C.say(f"    {mv['model']:12s} {mv['system']:12s} {mv['op']:13s} decode {mv['decode_bound']:12s}"
                  f" ({mv['decode_engine']}, {C.fmt(mv['decode_intensity'])} FLOP/B) -> prefill "
                  f"{mv['prefill_bound']:12s} ({mv['prefill_engine']}, {C.fmt(mv['prefill_intensity'])} FLOP/B)")
    C.say("wrote " + ", ".join(str(p) for p in [out / "operators.csv", out / "summary.csv",
                                                  out / "moves.csv", *figs]))
    return {"summary": summary, "moves": moves, "figures": figs}
