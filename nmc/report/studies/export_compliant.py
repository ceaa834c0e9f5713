"""Export-compliant and domestic accelerators: what does the cut cost, and on which workloads?

Six devices (h100-sxm, h800-sxm, h20, a800-80g-sxm, l20, ascend-910b), fixed batches through
nmc.analyze and the operating-point finder (the request-level view of the same parts is
nmc.serve's, docs/serving.md):
  * decode at the best operating point (nmc.analysis.operating_point: the batch with the most
    tokens/J whose step takes at most 50 ms), with batch 1 and batch 64 beside it:
    llama-3-8b on one device and llama-3-70b on 8 (tp 8), context 2048, CUDA graphs, in BF16
    and in the 8-bit format each part has (FP8 where peak_fp8 > 0: H100, H800, H20, L20; INT8
    W8A8 where only the INT8 units exist: A800, Ascend 910B);
  * MoE with expert parallelism, one and several nodes: qwen3-235b-a22b on one node of 8
    (ep 8, data-parallel attention; and tp 8) and deepseek-r1 (671B) on 2 nodes (tp 1 x ep 16,
    and tp 8 x ep 2) and 4 nodes (ep 32), 8-bit weights and activations, decode at the best
    operating point and prefill of 4096-token prompts (one per device);
  * serving one batch of requests in BF16 (phase "generate"): prefill-heavy, decode-heavy and
    interactive (batch 1) for llama-3-8b on one device and llama-3-70b on 8;
  * training (nmc.train through train_compare.best): llama-2-7b and llama-2-70b on 2T tokens
    at equal device count (256 / 1024; --quick 64 / 256);
  * export-control metrics (nmc.arch.export) and the best design under a TPP cap
    (nmc.analysis.policy.best_design_under_cap): decode tokens/s of llama-3-8b (batch 64,
    context 2048) for four design families derived from H100.

Writes export_compliant.csv (serving and training relative to H100), export_decode.csv,
export_moe.csv, export_policy.csv, export_cap_frontier.csv and export_compliant.png/.svg.

    python experiments/export_compliant.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

from pathlib import Path

from ...analysis import policy
from ...analysis.inference import analyze
from ...analysis.operating_point import TPOT_MAX, best_operating_point
from ...arch import export
from ...arch.loader import load_arch
from ...errors import NmcError
from . import common as C
from . import train_compare

NAME = "export_compliant"
DEVICES = ["h100-sxm", "h800-sxm", "h20", "a800-80g-sxm", "l20", "ascend-910b"]
REF = "h100-sxm"
CONTEXT = 2048
# name -> (model, tp, batch, prompt, generate)
SERVING = {
    "8B prefill-heavy": ("llama-3-8b", 1, 16, 4096, 128),
    "8B decode-heavy": ("llama-3-8b", 1, 64, 256, 1024),
    "8B interactive (batch 1)": ("llama-3-8b", 1, 1, 512, 256),
    "70B prefill-heavy (tp 8)": ("llama-3-70b", 8, 16, 4096, 128),
    "70B decode-heavy (tp 8)": ("llama-3-70b", 8, 64, 256, 1024),
}
DECODE = {"8B, 1 device": ("llama-3-8b", 1), "70B, 8 devices (tp 8)": ("llama-3-70b", 8)}
DECODE_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
# MoE layouts: label -> (model, tp, ep); devices = tp x ep, 8 per node
MOE = {
    "qwen3-235b-a22b, 1 node, ep 8": ("qwen3-235b-a22b", 1, 8),
    "qwen3-235b-a22b, 1 node, tp 8": ("qwen3-235b-a22b", 8, 1),
    "deepseek-r1, 2 nodes, ep 16": ("deepseek-r1", 1, 16),
    "deepseek-r1, 2 nodes, tp 8 x ep 2": ("deepseek-r1", 8, 2),
    "deepseek-r1, 4 nodes, ep 32": ("deepseek-r1", 1, 32),
}
MOE_DEVICES = ["h100-sxm", "h800-sxm", "h20", "a800-80g-sxm", "ascend-910b"]   # L20: 48 GB, PCIe
MOE_BATCHES_PER_DEVICE = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MOE_PROMPT = 4096
TRAIN = {"llama-2-7b": 256, "llama-2-70b": 1024}
TRAIN_QUICK = {"llama-2-7b": 64, "llama-2-70b": 256}
CAPS = [600, 1000, 1600, 2400, 3200, 4800, 8000, 16000, 24000]
CAPS_QUICK = [1600, 4800, 16000]
CAP_MODEL, CAP_BATCH, CAP_CONTEXT = "llama-3-8b", 64, 2048
FAMILIES = {   # label -> keyword arguments of best_design_under_cap
    "GPU, H100 bandwidth (3.35 TB/s)": {"arch": "h100-sxm", "mem_bw": ["3.35 TB/s"]},
    "GPU, bandwidth up to 8.4 TB/s": {"arch": "h100-sxm"},
    "GPU + HBM3-PIM (PIM TOPS counted)": {"arch": "h100+hbm3-pim"},
    "GPU + HBM3-PIM (PIM exempt)": {"arch": "h100+hbm3-pim", "pim_counts": False},
}
COLORS = dict(zip(DEVICES, ["#4c72b0", "#8172b3", "#dd8452", "#937860", "#c44e52", "#55a868"]))


def eight_bit(arch) -> str:
    """The 8-bit format a part runs: fp8 where it has FP8 units, else int8 (W8A8), else bf16."""
    a = load_arch(arch)
    return "fp8" if a["peak_fp8"] > 0 else "int8" if a["peak_int8"] > 0 else "bf16"


# ---- decode at the best operating point ---------------------------------------------------------

def decode_rows(quick: bool) -> list[dict]:
    rows = []
    work = {k: v for k, v in DECODE.items() if not quick or "8B" in k}
    for wl, (model, tp) in work.items():
        for dev in DEVICES:
            for fmt_label in ("bf16", "8-bit"):
                fmt = "bf16" if fmt_label == "bf16" else eight_bit(dev)
                op = best_operating_point(model, dev, context=CONTEXT, tp=tp, weights=fmt,
                                          activations=fmt, batches=DECODE_BATCHES)
                b64 = next(p for p in op.points if p.batch == 64)
                b = op.best
                rows.append({"workload": wl, "model": model, "arch": dev, "devices": tp,
                             "format": fmt_label, "dtype": fmt,
                             "b1_tokens_per_s": op.batch1.tokens_per_s,
                             "b1_energy_per_token_j": op.batch1.energy_per_token_j,
                             "b64_tokens_per_s": b64.tokens_per_s if b64.fits else None,
                             "b64_energy_per_token_j": b64.energy_per_token_j if b64.fits else None,
                             "b64_tpot_s": b64.tpot_s,
                             "best_batch": b.batch if b else None,
                             "best_tokens_per_s": b.tokens_per_s if b else None,
                             "best_tokens_per_s_per_device": b.tokens_per_s / tp if b else None,
                             "best_energy_per_token_j": b.energy_per_token_j if b else None,
                             "best_tpot_s": b.tpot_s if b else None,
                             "best_bound": b.bound if b else "", "why": op.why})
    for r in rows:      # relative to H100 in the same format column
        ref = next(x for x in rows if x["workload"] == r["workload"] and x["arch"] == REF
                   and x["format"] == r["format"])
        for k in ("b1_tokens_per_s", "b64_tokens_per_s", "best_tokens_per_s"):
            r[k.replace("tokens_per_s", "vs_h100")] = (r[k] / ref[k] if r[k] and ref[k] else None)
        e, e0 = r["best_energy_per_token_j"], ref["best_energy_per_token_j"]
        r["best_tokens_per_j_vs_h100"] = e0 / e if e and e0 else None
    return rows


# ---- MoE with expert parallelism, one and several nodes ---------------------------------------

def moe_rows(quick: bool) -> list[dict]:
    rows = []
    work = {k: v for k, v in MOE.items() if not quick or "2 nodes, ep 16" in k}
    devs = MOE_DEVICES if not quick else ["h100-sxm", "h800-sxm"]
    for wl, (model, tp, ep) in work.items():
        n = tp * ep
        for dev in devs:
            fmt = eight_bit(dev)
            kw = {"tp": tp, "ep": ep, "weights": fmt, "activations": fmt}
            op = best_operating_point(model, dev, context=CONTEXT,
                                      batches=[n * b for b in MOE_BATCHES_PER_DEVICE], **kw)
            b = op.best
            pre = analyze(model, dev, phase="prefill", batch=n, prompt=MOE_PROMPT, **kw)
            row = {"workload": wl, "model": model, "arch": dev, "devices": n, "tp": tp, "ep": ep,
                   "dtype": fmt, "fits": op.batch1.fits, "b1_tpot_s": op.batch1.tpot_s,
                   "best_batch": b.batch if b else None,
                   "best_tokens_per_s_per_device": b.tokens_per_s / n if b else None,
                   "best_energy_per_token_j": b.energy_per_token_j if b else None,
                   "best_tpot_s": b.tpot_s if b else None, "why": op.why,
                   "best_comm_share": None,
                   "prefill_fits": pre.fits,
                   "prefill_tokens_per_s_per_device": pre.tokens_per_s / n if pre.fits else None,
                   "prefill_ttft_s": pre.results["ttft_s"] if pre.fits else None,
                   "prefill_comm_share": pre.bound_shares["comm"] if pre.fits else None}
            if b:
                r = analyze(model, dev, phase="decode", batch=b.batch, context=CONTEXT, **kw)
                row["best_comm_share"] = r.bound_shares["comm"]
            rows.append(row)
    for r in rows:
        ref = next(x for x in rows if x["workload"] == r["workload"] and x["arch"] == REF)
        for k, out in (("best_tokens_per_s_per_device", "decode_vs_h100"),
                       ("prefill_tokens_per_s_per_device", "prefill_vs_h100")):
            r[out] = r[k] / ref[k] if r[k] and ref[k] else None
    return rows


# ---- serving one batch (BF16), training -------------------------------------------------------

def serving_rows(quick: bool) -> list[dict]:
    rows = []
    work = SERVING if not quick else {k: v for k, v in SERVING.items() if "8B" in k}
    for wl, (model, tp, batch, prompt, gen) in work.items():
        for dev in DEVICES:
            a = load_arch(dev)
            r = analyze(model, a, phase="generate", batch=batch, prompt=prompt, generate=gen, tp=tp)
            d = r.results
            req_s = batch / d["latency_s"] if r.fits else None
            rows.append({"kind": "serving", "workload": wl, "model": model, "arch": dev,
                         "devices": tp, "batch": batch, "prompt": prompt, "generate": gen,
                         "fits": r.fits, "requests_per_s": req_s,
                         "ttft_s": d["ttft_s"], "tpot_s": d["tpot_s"],
                         "tokens_per_s": d["tokens_per_s"], "energy_per_token_j": d["energy_per_token_j"],
                         "bound": r.bound, "group_tdp_w": tp * a["tdp"]})
    _relative(rows, "requests_per_s")
    return rows


def training_rows(quick: bool) -> list[dict]:
    rows = []
    for model, n in (TRAIN_QUICK if quick else TRAIN).items():
        for dev in DEVICES:
            a = load_arch(dev)
            try:
                r = train_compare.best(model, a, n, train_compare.GBS, quick)
            except NmcError as e:
                C.say(f"{model} {dev}: {e}")
                r = None
            row = {"kind": "training", "workload": f"train {model} ({n} devices)", "model": model,
                   "arch": dev, "devices": n, "fits": r is not None, "group_tdp_w": n * a["tdp"]}
            if r is not None:
                d = r.to_dict()
                c = r.config
                row.update({"days": d["time_to_train_days"], "mfu": d["mfu"],
                            "layout": f"tp{c.tp} pp{c.pp} dp{c.dp} mb{c.micro_batch} {c.recompute} z{c.zero}",
                            "bound": d["bottleneck"], "energy_mwh": d["energy_to_train_mwh"],
                            # speed = training runs per day: higher is better, like requests/s
                            "runs_per_day": 1.0 / d["time_to_train_days"]})
            rows.append(row)
    _relative(rows, "runs_per_day")
    return rows


def _relative(rows, key):
    ref = {r["workload"]: r.get(key) for r in rows if r["arch"] == REF}
    ref_w = {r["workload"]: r["group_tdp_w"] for r in rows if r["arch"] == REF}
    for r in rows:
        v, v0 = r.get(key), ref.get(r["workload"])
        r["vs_h100"] = v / v0 if v and v0 else None
        if r["vs_h100"] and r["group_tdp_w"] > 0 and ref_w.get(r["workload"]):
            r["vs_h100_per_watt"] = r["vs_h100"] * ref_w[r["workload"]] / r["group_tdp_w"]
        else:
            r["vs_h100_per_watt"] = None


def policy_rows() -> list[dict]:
    rows = []
    for dev in DEVICES + ["h100+hbm3-pim"]:
        c = export.classify(dev)
        a = load_arch(dev)
        rows.append({"arch": dev, "tpp": c["tpp"], "tpp_precision": c["tpp_precision"],
                     "die_area_mm2": c["die_area_mm2"], "performance_density": c["performance_density"],
                     "pim_tpp": policy.pim_tpp(dev), "class": c["class"],
                     "bf16_tflops": a["peak_bf16"] / 1e12, "fp8_tflops": a["peak_fp8"] / 1e12,
                     "int8_tops": a["peak_int8"] / 1e12, "mem_tb_s": a["mem_bw"] / 1e12,
                     "mem_gb": a["mem_capacity"] / 2 ** 30, "link_gb_s": a["link_bw"] / 1e9,
                     "net_gb_s": a["net_bw"] / 1e9, "tdp_w": a["tdp"]})
    return rows


def frontier_rows(quick: bool) -> tuple[list[dict], list[dict]]:
    rows = []
    for fam, kw in FAMILIES.items():
        for cap in (CAPS_QUICK if quick else CAPS):
            r = policy.best_design_under_cap(CAP_MODEL, cap, batch=CAP_BATCH, context=CAP_CONTEXT,
                                             top=1, **kw)
            b = r["best"]
            row = {"family": fam, "tpp_cap": cap, "tokens_per_s": b["tokens_per_s"] if b else None}
            if b:
                row.update({k: b[k] for k in ("compute_fraction", "cores", "n_cores", "ttft_s",
                                              "peak_bf16_tflops", "mem_bw_tb_s",
                                              "pim_multiplier", "tpp", "performance_density",
                                              "class", "bound")})
            rows.append(row)
    devs = []
    for dev in DEVICES:
        r = analyze(CAP_MODEL, dev, phase="decode", batch=CAP_BATCH, context=CAP_CONTEXT)
        devs.append({"family": "device", "arch": dev, "tpp_cap": export.tpp(dev)[0],
                     "tokens_per_s": r.tokens_per_s if r.fits else None, "bound": r.bound})
    return rows, devs


def compute(quick: bool = False) -> dict:
    front, devs = frontier_rows(quick)
    return {"decode": decode_rows(quick), "moe": moe_rows(quick),
            "perf": serving_rows(quick) + training_rows(quick), "policy": policy_rows(),
            "frontier": front, "devices": devs}


# ---- figure ------------------------------------------------------------------------------------

def _bars(ax, groups, devices, value, hatch_missing=True, ymax=None):
    """Grouped bars: one group per label, one bar per device; a missing value is an empty
    hatched bar at the bottom labelled 'n/f' (does not fit or no feasible batch)."""
    import numpy as np
    x = np.arange(len(groups))
    w = 0.8 / len(devices)
    for k, dev in enumerate(devices):
        xs = x + (k - (len(devices) - 1) / 2) * w
        vals = [value(g, dev) for g in groups]
        ax.bar(xs, [v if v else 0 for v in vals], w, label=dev, color=COLORS[dev])
        for xi, v in zip(xs, vals):
            if not v and hatch_missing:
                ax.bar([xi], [(ymax or 1) * 0.06], w, color="white", edgecolor=COLORS[dev],
                       hatch="////", lw=0.6)
    ax.set_xticks(x, groups, fontsize=7.5)


def figure(res: dict, path, svg: bool = True):
    plt = C.plt
    fig, axes = plt.subplots(3, 2, figsize=(16, 16))
    dec = res["decode"]
    # (a) decode at the best operating point, tokens/s per device, both formats
    ax = axes[0, 0]
    groups = [(wl, f) for wl in dict.fromkeys(r["workload"] for r in dec) for f in ("bf16", "8-bit")]
    labels = [f"{wl}\n{'BF16' if f == 'bf16' else '8-bit (FP8 or INT8)'}" for wl, f in groups]

    def dval(g, dev):
        r = next((r for r in dec if (r["workload"], r["format"]) == groups[g] and r["arch"] == dev), None)
        return r and r["best_tokens_per_s_per_device"]
    top = max((r["best_tokens_per_s_per_device"] or 0) for r in dec)
    _bars(ax, list(range(len(groups))), DEVICES, dval, ymax=top)
    ax.set_xticks(range(len(groups)), labels, fontsize=7.5)
    for g, (wl, f) in enumerate(groups):
        for k, dev in enumerate(DEVICES):
            r = next((r for r in dec if (r["workload"], r["format"]) == (wl, f) and r["arch"] == dev), None)
            if r and r["best_batch"]:
                ax.annotate(str(r["best_batch"]), (g + (k - 2.5) * 0.8 / 6, r["best_tokens_per_s_per_device"]),
                            ha="center", va="bottom", fontsize=6)
    ax.set_ylabel("decode tokens/s per device at the best batch")
    ax.set_title(f"(a) decode at each part's best batch (most tokens/J with a step <= "
                 f"{TPOT_MAX * 1e3:.0f} ms; number = batch)\ncontext {CONTEXT}, CUDA graphs; "
                 "8-bit = FP8 on H100/H800/H20/L20, INT8 W8A8 on A800/910B", fontsize=9.5)
    ax.legend(fontsize=8, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    # (b) tokens per joule at the best point and at batch 1
    ax = axes[0, 1]

    def eval_(g, dev):
        r = next((r for r in dec if (r["workload"], r["format"]) == groups[g] and r["arch"] == dev), None)
        return r and r["best_energy_per_token_j"] and 1 / r["best_energy_per_token_j"]
    topj = max(1 / r["best_energy_per_token_j"] for r in dec if r["best_energy_per_token_j"])
    _bars(ax, list(range(len(groups))), DEVICES, eval_, ymax=topj)
    for g in range(len(groups)):
        for k, dev in enumerate(DEVICES):
            r = next((r for r in dec if (r["workload"], r["format"]) == groups[g] and r["arch"] == dev), None)
            if r:
                ax.plot([g + (k - 2.5) * 0.8 / 6], [1 / r["b1_energy_per_token_j"]], "k_", ms=7)
    ax.plot([], [], "k_", ms=7, label="batch 1")
    ax.set_xticks(range(len(groups)), labels, fontsize=7.5)
    ax.set_yscale("log")
    ax.set_ylabel("tokens per joule (all devices of the group, static power included)")
    ax.set_title("(b) tokens/J at the best batch (bars) and at batch 1 (black ticks)", fontsize=9.5)
    ax.legend(fontsize=8, ncol=3)
    ax.grid(axis="y", alpha=0.3, which="both")
    # (c) MoE, multi-node: decode and prefill relative to H100 per layout
    ax = axes[1, 0]
    moe = res["moe"]
    wls = list(dict.fromkeys(r["workload"] for r in moe))
    devs = [d for d in MOE_DEVICES if any(r["arch"] == d for r in moe)]

    def mval(g, dev, key):
        r = next((r for r in moe if r["workload"] == wls[g] and r["arch"] == dev), None)
        return r and r[key]
    _bars(ax, list(range(len(wls))), devs, lambda g, d: mval(g, d, "decode_vs_h100"), ymax=1.2)
    import numpy as np
    w = 0.8 / len(devs)
    for k, dev in enumerate(devs):
        xs = np.arange(len(wls)) + (k - (len(devs) - 1) / 2) * w
        ax.scatter(xs, [mval(g, dev, "prefill_vs_h100") or np.nan for g in range(len(wls))],
                   marker="D", s=22, color="k", zorder=4)
    ax.scatter([], [], marker="D", s=22, color="k", label="prefill (4096-token prompts)")
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(range(len(wls)), [wl.replace(", ", "\n", 1) for wl in wls], fontsize=7.5)
    ax.set_ylim(0, 1.25)
    ax.set_ylabel("tokens/s per device relative to H100 (same layout)")
    ax.set_title("(c) MoE with expert parallelism, 8-bit weights (bars: decode at the best batch;"
                 "\ndiamonds: prefill; hatched: does not fit or no batch meets 50 ms)", fontsize=9.5)
    ax.legend(fontsize=8, ncol=3, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    # (d) serving / training relative (BF16), as before
    ax = axes[1, 1]
    perf = res["perf"]
    wl2 = list(dict.fromkeys(r["workload"] for r in perf))

    def pval(g, dev):
        r = next((r for r in perf if r["workload"] == wl2[g] and r["arch"] == dev), None)
        return r and r["vs_h100"]
    _bars(ax, list(range(len(wl2))), DEVICES, pval, ymax=1.25)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(range(len(wl2)), [_wrap(w_) for w_ in wl2], fontsize=7)
    ax.set_ylim(0, 1.3)
    ax.set_ylabel("relative to H100 (requests/s; training runs/day)")
    ax.set_title("(d) BF16 serving of one fixed batch (prompt + answer) and training, equal devices",
                 fontsize=9.5)
    ax.legend(fontsize=8, ncol=6, loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    # (e) TPP vs PD, (f) cap frontier
    _policy_panel(axes[2, 0], res["policy"])
    _frontier_panel(axes[2, 1], res["frontier"], res["devices"])
    fig.suptitle("Export-compliant and domestic accelerators (nmc model, fixed batches; request-level "
                 "serving: docs/serving.md)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    C.lean_log_ticks(fig)
    return C.save(fig, path, svg)


def _policy_panel(ax, pol):
    ax.fill_between([4800, 40000], 0.3, 60, color="#c44e52", alpha=0.12, label="3A090.a")
    ax.fill_between([1600, 4800], 5.92, 60, color="#c44e52", alpha=0.12)
    ax.fill_between([2400, 4800], 1.6, 5.92, color="#dd8452", alpha=0.15, label="3A090.b")
    ax.fill_between([1600, 2400], 3.2, 5.92, color="#dd8452", alpha=0.15)
    offsets = {"h20": (5, -22), "l20": (-10, 8)}
    for r in pol:
        pd = r["performance_density"]
        if r["arch"] in ("h100+hbm3-pim", "h800-sxm"):
            continue
        yv = pd if pd else 0.45
        name = "h100-sxm = h800-sxm" if r["arch"] == "h100-sxm" else r["arch"]
        ax.scatter([r["tpp"]], [yv], color=COLORS.get(r["arch"], "k"), s=45, zorder=3,
                   marker="o" if pd else "v")
        ax.annotate(name + ("" if pd else " (die area unknown)") + f"\n{r['class']}",
                    (r["tpp"], yv), fontsize=7.5, xytext=offsets.get(r["arch"], (5, 4)),
                    textcoords="offset points")
    ax.set(xscale="log", yscale="log", xlim=(300, 40000), ylim=(0.3, 60),
           xlabel="TPP = 2 x MAC TOPS x bit length (max over precisions, dense)",
           ylabel="performance density = TPP / die area (per mm2)")
    ax.set_title("(e) export-control metrics (ECCN 3A090, Oct 2023 rule; all rules: docs/policy.md)",
                 fontsize=9.5)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="both", alpha=0.2)


def _frontier_panel(ax, front, devs):
    for fam, mk in zip(FAMILIES, ["o", "s", "^", "D"]):
        sel = [r for r in front if r["family"] == fam and r["tokens_per_s"]]
        ax.plot([r["tpp_cap"] for r in sel], [r["tokens_per_s"] for r in sel], marker=mk, label=fam)
    for d in devs:
        if d["tokens_per_s"] and d["arch"] != "h800-sxm":
            ax.scatter([d["tpp_cap"]], [d["tokens_per_s"]], color=COLORS[d["arch"]], marker="*",
                       s=120, zorder=4, edgecolor="k", lw=0.5)
            ax.annotate("h100-sxm = h800-sxm" if d["arch"] == "h100-sxm" else d["arch"],
                        (d["tpp_cap"], d["tokens_per_s"]), fontsize=7.5,
                        xytext=(-95, -12) if d["arch"] == "h100-sxm" else (4, -10),
                        textcoords="offset points")
    for c in (1600, 2400, 4800):
        ax.axvline(c, color="grey", lw=0.7, ls=":")
        ax.annotate(f"TPP {c}", (c, 0.01), xycoords=("data", "axes fraction"), fontsize=7,
                    ha="right", va="bottom", color="grey", rotation=90)
    ax.set(xscale="log", yscale="log", xlabel="TPP cap (design must have TPP below it)",
           ylabel=f"best decode tokens/s ({CAP_MODEL}, batch {CAP_BATCH}, ctx {CAP_CONTEXT})")
    ax.set_title("(f) best design under a TPP cap, BF16 (stars: real devices at their TPP)",
                 fontsize=9.5)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)


def _wrap(wl: str) -> str:
    return wl.replace(" (", "\n(").replace("train ", "train\n").replace("-heavy", "-\nheavy")


# ---- headline ----------------------------------------------------------------------------------

def headline(res: dict) -> None:
    C.say(f"== {NAME}: decode at the best batch (step <= {TPOT_MAX * 1e3:.0f} ms), context {CONTEXT}")
    for r in res["decode"]:
        C.say(f"  {r['workload']:22s} {r['arch']:13s} {r['dtype']:5s} batch 1 {r['b1_tokens_per_s']:7.1f} tok/s "
              f"(x{r['b1_vs_h100'] or 0:.2f})  best batch {r['best_batch'] or '-':>5} "
              f"{(r['best_tokens_per_s'] or 0):8.0f} tok/s (x{r['best_vs_h100'] or 0:.2f}) "
              f"{1e3 * (r['best_energy_per_token_j'] or 0):6.1f} mJ/token  {r['why']}")
    C.say("  MoE, 8-bit, tokens/s per device (decode at the best batch; prefill 4096-token prompts):")
    for r in res["moe"]:
        C.say(f"  {r['workload']:34s} {r['arch']:13s} {r['dtype']:5s} decode "
              f"{(r['best_tokens_per_s_per_device'] or 0):7.0f} (x{r['decode_vs_h100'] or 0:.2f}, "
              f"batch {r['best_batch'] or '-'}, {r['why']})  prefill "
              f"{(r['prefill_tokens_per_s_per_device'] or 0):7.0f} (x{r['prefill_vs_h100'] or 0:.2f})")
    C.say(f"  {'workload (BF16, one batch)':34s} " + " ".join(f"{d:>12s}" for d in DEVICES))
    for wl in dict.fromkeys(r["workload"] for r in res["perf"]):
        vals = [next((r["vs_h100"] for r in res["perf"] if r["workload"] == wl and r["arch"] == d), None)
                for d in DEVICES]
        C.say(f"  {wl:34s} " + " ".join(f"{v:12.2f}" if v else f"{'-':>12s}" for v in vals))
    C.say("  export-control metrics:")
    for r in res["policy"]:
        pd = f"{r['performance_density']:.2f}" if r["performance_density"] else "-"
        C.say(f"    {r['arch']:14s} TPP {r['tpp']:7.0f} ({r['tpp_precision']})  PD {pd:>6s}  {r['class']}")
    C.say(f"  best decode tokens/s under a TPP cap ({CAP_MODEL}, batch {CAP_BATCH}):")
    for r in res["frontier"]:
        if r["tokens_per_s"]:
            C.say(f"    cap {r['tpp_cap']:6.0f}  {r['family']:36s} {r['tokens_per_s']:8.0f} tok/s  "
                  f"TPP {r['tpp']:5.0f} = {r['compute_fraction']:.3f} x H100 on {r['n_cores']:3d} cores, "
                  f"{r['mem_bw_tb_s']:.2f} TB/s, PIM x{r['pim_multiplier']:g}")


def run(quick: bool, out: Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res = compute(quick)
    C.write_csv(res["perf"], out / "export_compliant.csv")
    C.write_csv(res["decode"], out / "export_decode.csv")
    C.write_csv(res["moe"], out / "export_moe.csv")
    C.write_csv(res["policy"], out / "export_policy.csv")
    C.write_csv(res["frontier"] + res["devices"], out / "export_cap_frontier.csv")
    figs = figure(res, out / "export_compliant.png", svg=True)
    headline(res)
    C.say(f"wrote {out}/export_compliant.csv, export_decode.csv, export_moe.csv, export_policy.csv, "
          "export_cap_frontier.csv, export_compliant.png/.svg")
    res["figures"] = figs
    return res
