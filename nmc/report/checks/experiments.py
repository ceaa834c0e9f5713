"""Numbers of docs/experiments.md (and the headline ratios README.md quotes): one source per
study, calling the study's compute functions on their full grids (what `python
experiments/<name>.py` computes), the generated tables between `<!-- nmc:NAME -->` markers and
the phrases of the prose (registered at the end of this module)."""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

from ...analysis.operating_point import TPOT_MAX
from ..studies import (
    aimc_limits,
    decode_crossover,
    device_edge,
    export_compliant,
    inference_vs_training,
    operating_points,
    roofline_three_archs,
    walls,
)
from . import banded, block, fmt, quotes, source, table

DOC = "docs/experiments.md"


def _ratio_band(num, den, end_num="low", end_den="high"):
    """A ratio's conservative band: (num low / den high, num high / den low)."""
    lo = num.band["low"]["tokens_per_j"] / den.band["high"]["tokens_per_j"]
    hi = num.band["high"]["tokens_per_j"] / den.band["low"]["tokens_per_j"]
    return lo, hi


# ---- 1. roofline -------------------------------------------------------------------------------

@source("roofline", quick=True)
def _roofline() -> dict:
    reports = roofline_three_archs.evaluate(False)
    _, summary, _ = roofline_three_archs.tables(reports)
    v = {"rows": summary}
    for s in summary:
        k = f"{s['model']}_{s['system']}_{s['phase']}".replace("-", "_").replace(" ", "_")
        v[k] = s
    return v


def _shares(s) -> str:
    parts = [(k, s[f"share_{k}"]) for k in ("compute", "memory", "latency", "comm")]
    parts = [(k, x) for k, x in sorted(parts, key=lambda p: -p[1]) if x >= 0.05]
    return ", ".join(f"{k} {fmt(x, '.0P')} %" for k, x in parts)


def _roofline_table(v) -> str:
    rows = []
    names = {"GPU": "GPU h100-sxm", "near-memory": "GPU+PIM h100+hbm3-pim", "analog": "AIMC"}
    by = {(s["model"], s["system"], s["phase"]): s for s in v["rows"]}
    for (m, sysl, ph), s in by.items():
        if ph != "prefill":
            continue
        d = by[(m, sysl, "decode")]
        name = names[sysl] + (f", {int(d['aimc_chips_needed'])} dies" if sysl == "analog" else "")
        fit = "" if d["fits"] else " (does not fit: per-device shapes)"
        rows.append([m, name + fit, f"{fmt(s['tokens_per_s'], '.3S')} ({s['bound']})",
                     f"{fmt(d['tokens_per_s'], '.3S')} ({_shares(d)})",
                     fmt(d["energy_per_token_j"], ".3S")])
    return table(["model", "system", "prefill tokens/s (bound)", "decode tokens/s (time shares)",
                  "decode J/token"], rows)


block(DOC, "roofline", "roofline", _roofline_table)


# ---- 2. decode crossover -----------------------------------------------------------------------

@source("crossover", quick=True)
def _crossover() -> dict:
    rows = decode_crossover.evaluate(False)
    wins = decode_crossover.winners(rows)
    h = decode_crossover.headline(rows, wins)
    c = 4096
    sp = {w["batch"]: w["pim_speedup_over_gpu"] for w in wins if w["context"] == c}
    fit_cells = sum(1 for w in wins if w["winner"] != "none")
    v = {"h": h, "rows": rows, "cells": len(wins), "fit_cells": fit_cells,
         "none_cells": len(wins) - fit_cells, "pim_b1": sp[1], "pim_b64": sp[64],
         "pim_min": min(sp.values()), "pim_min_batch": min(sp, key=sp.get),
         "pim_cells": h["winner"].get("GPU+PIM", 0), "aimc_energy_cells": h["energy_winner"].get("AIMC", 0),
         "pim_energy_cells": h["energy_winner"].get("GPU+PIM", 0)}
    pick = {(r["system"], r["batch"], r["context"]): r for r in rows}
    for s in ("GPU", "GPU+PIM", "AIMC"):
        k = s.replace("+", "_")
        v[f"{k}_b1_c4096_tok_s"] = pick[(s, 1, 4096)]["tokens_per_s"]
        v[f"{k}_b1_c131072_tok_s"] = pick[(s, 1, 131072)]["tokens_per_s"]
        v[f"{k}_b1_c131072_attn"] = pick[(s, 1, 131072)]["attention_share"]
        v[f"{k}_maxbatch_c512"] = pick[(s, 1, 512)]["max_batch"]
        v[f"{k}_maxbatch_c131072"] = pick[(s, 1, 131072)]["max_batch"]
        v[f"{k}_b1_c4096_mj"] = 1e3 * pick[(s, 1, 4096)]["energy_per_token_j"]
    v["GPU_PIM_b32_c512"] = pick[("GPU+PIM", 32, 512)]["tokens_per_s"] / pick[("GPU", 32, 512)]["tokens_per_s"]
    v["pim_c65536_b4"] = (pick[("GPU+PIM", 4, 65536)]["tokens_per_s"]
                          / pick[("GPU", 4, 65536)]["tokens_per_s"])
    v["AIMC_b16_c4096_tok_s"] = pick[("AIMC", 16, 4096)]["tokens_per_s"]
    return v


def _crossover_table(v) -> str:
    h = v["h"]
    rows = []
    for k in ("GPU", "GPU+PIM", "AIMC"):
        x = h[k]
        best = x["best_fitting"]
        rows.append([k + (" (7 dies)" if k == "AIMC" else ""), fmt(x["batch1_tokens_per_s"], ".3S"),
                     fmt(x["batch1_latency_ms"], ".2S"),
                     f"{best[0]} ({fmt(best[1], '.3S')})" if best else "none",
                     f"{_ctx(x['kv_wall_context_batch1'])} / {_ctx(x['kv_wall_context_batch64'])}"])
    return table(["context 4096", "batch 1 tokens/s", "ms/token", "best batch that fits (tokens/s)",
                  "attention ≥ 50 % of the step from context, batch 1 / batch 64"], rows)


def _ctx(c) -> str:
    if c is None:
        return "> 128k"
    return f"{c // 1024}k" if c >= 1024 else str(c)


block(DOC, "crossover", "crossover", _crossover_table)


# ---- 3. walls ----------------------------------------------------------------------------------

@source("walls", quick=True)
def _walls() -> dict:
    import numpy as np
    res = walls.evaluate(False)
    t = res["tables"]
    v = {}
    tab = t["gpu_bw_overhead"]
    bw, ov = np.asarray(tab["mem_bw"]), np.asarray(tab["kernel_overhead"])
    tps, slat = np.asarray(tab["tokens_per_s"]), np.asarray(tab["share_latency"])
    m = np.isclose(ov, 4e-6)
    v.update(gpu_tok_lo=tps[m][0], gpu_tok_ref=tps[m][np.argmin(abs(bw[m] - 3.35e12))],
             gpu_tok_hi=tps[m][-1], gpu_gain=tps[m][-1] / tps[m][0], bw_ratio=bw[m][-1] / bw[m][0],
             bw_lo=bw[m][0] / 1e12, bw_hi=bw[m][-1] / 1e12, lat_lo=slat[m][0], lat_hi=slat[m][-1])
    m = np.isclose(ov, ov.max())
    v["slow_cross_bw"] = bw[m][np.argmax(slat[m] >= 0.5)] / 1e12
    m = np.isclose(ov, ov.min())
    v["fast_lat_max"] = slat[m].max()
    tab = t["gpu_bw_batch"]
    b, bwb, bnd = np.asarray(tab["batch"]), np.asarray(tab["mem_bw"]), tab["bound"]
    m = np.isclose(bwb, bwb.max())
    comp = b[m][bnd[m] == "compute"]
    v["hi_bw_compute_from"] = int(comp.min()) if comp.size else None
    sc = np.asarray(tab["share_compute"])
    v["hi_bw_b512_compute_share"] = float(sc[m & (b == b.max())][0])
    v["ref_bw_b512_compute_share"] = float(sc[np.isclose(bwb, 3.35e12, rtol=0.02) & (b == b.max())][0])
    for key, par in (("pim_mult_trcd", "pim_trcd"), ("pim_mult_overhead", "pim_kernel_overhead")):
        tab = t[key]
        tps, pv = np.asarray(tab["tokens_per_s"]), np.asarray(tab[par])
        mults = res["grids"]["mult"]
        for name, sel in (("lo", pv.min()), ("hi", pv.max())):
            m = np.isclose(pv, sel)
            for mm, x in zip(mults, tps[m]):
                v[f"{key}_{name}_x{mm}"] = x
    v["trcd_lo_ns"] = 1e9 * np.asarray(t["pim_mult_trcd"]["pim_trcd"]).min()
    v["trcd_hi_ns"] = 1e9 * np.asarray(t["pim_mult_trcd"]["pim_trcd"]).max()
    v["pim_ovh_lo_us"] = 1e6 * np.asarray(t["pim_mult_overhead"]["pim_kernel_overhead"]).min()
    v["pim_ovh_hi_us"] = 1e6 * np.asarray(t["pim_mult_overhead"]["pim_kernel_overhead"]).max()
    return v


# ---- 4. export-compliant -----------------------------------------------------------------------

@source("export", quick=True)
def _export() -> dict:
    res = export_compliant.compute(False)
    v = {"res": res}
    for r in res["decode"]:
        k = f"{r['model']}_{r['arch']}_{r['format']}".replace("-", "_").replace(".", "_")
        v[k] = r
    for r in res["moe"]:
        k = f"moe_{r['model']}_{r['tp']}x{r['ep']}_{r['arch']}".replace("-", "_").replace(".", "_")
        v[k] = r
    for r in res["perf"]:
        k = f"perf_{r['workload']}_{r['arch']}".replace("-", "_").replace(" ", "_").replace(
            "(", "").replace(")", "").replace(".", "_")
        v[k] = r
    return v


def _x(x) -> str:
    return "–" if x is None else f"{x:.2f}"


def ratio(x, lo=None, hi=None) -> str:
    """'1.28×', '44×', with a band '1.28× (0.29–2.7)'."""
    def one(y):
        return fmt(y, ".2S") if abs(y) >= 10 else f"{y:.2f}"
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    s = one(x) + "×"
    if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
        a, b = sorted((lo, hi))
        s += f" ({one(a)}–{one(b)})"
    return s


def _export_decode_table(v) -> str:
    rows = []
    for r in v["res"]["decode"]:
        fmt_label = "BF16" if r["format"] == "bf16" else r["dtype"].upper() + (" W8A8" if r["dtype"] == "int8" else "")
        best = (f"{r['best_batch']}: {fmt(r['best_tokens_per_s_per_device'], '.3S')} ({_x(r['best_vs_h100'])}×)"
                if r["best_batch"] else "none")
        rows.append([r["workload"], r["arch"], fmt_label,
                     f"{fmt(r['b1_tokens_per_s'], '.3S')} ({_x(r['b1_vs_h100'])}×)",
                     f"{fmt(r['b64_tokens_per_s'], '.3S')} ({_x(r['b64_vs_h100'])}×)",
                     best, fmt(1e3 * r["best_energy_per_token_j"], ".3S") if r["best_batch"] else "–",
                     r["why"]])
    return table(["model, devices", "part", "format", "batch 1 tokens/s (× H100)",
                  "batch 64 tokens/s (× H100)", "best batch: tokens/s per device (× H100)",
                  "mJ/token at best", "next batch refused by"], rows)


def _export_moe_table(v) -> str:
    rows = []
    for r in v["res"]["moe"]:
        best = (f"{r['best_batch']}: {fmt(r['best_tokens_per_s_per_device'], '.3S')} ({_x(r['decode_vs_h100'])}×)"
                if r["best_batch"] else ("does not fit" if not r["fits"] else "none meets 50 ms"))
        pre = (f"{fmt(r['prefill_tokens_per_s_per_device'], '.3S')} ({_x(r['prefill_vs_h100'])}×)"
               if r["prefill_tokens_per_s_per_device"] else "does not fit")
        rows.append([r["workload"], r["arch"], r["dtype"].upper(), best,
                     fmt(1e3 * r["best_energy_per_token_j"], ".3S") if r["best_batch"] else "–",
                     fmt(r["best_comm_share"], ".0P") + " %" if r["best_comm_share"] is not None else "–",
                     pre, fmt(r["prefill_comm_share"], ".0P") + " %" if r["prefill_comm_share"] is not None else "–"])
    return table(["layout", "part", "weights, activations", "decode: best batch: tokens/s per device (× H100)",
                  "mJ/token", "comm share", "prefill tokens/s per device (× H100)", "comm share"], rows)


def _export_perf_table(v) -> str:
    perf = v["res"]["perf"]
    devs = export_compliant.DEVICES
    rows = []
    for wl in dict.fromkeys(r["workload"] for r in perf):
        cells = []
        for d in devs:
            r = next(r for r in perf if r["workload"] == wl and r["arch"] == d)
            cells.append(_x(r["vs_h100"]) if r["vs_h100"] else "does not fit")
        rows.append([wl] + cells)
    return table(["workload"] + devs, rows)


def _export_metrics_table(v) -> str:
    rows = []
    for r in v["res"]["policy"]:
        if r["arch"] not in export_compliant.DEVICES:
            continue
        rows.append([r["arch"], f"{r['tpp']:.0f} ({r['tpp_precision']})",
                     fmt(r["performance_density"], ".3S") if r["performance_density"] else "– (area unknown)",
                     r["class"], fmt(r["bf16_tflops"], ".4S"),
                     fmt(r["fp8_tflops"], ".4S") if r["fp8_tflops"] else "none",
                     fmt(r["mem_tb_s"], ".3S"), fmt(r["link_gb_s"], ".3S"), fmt(r["net_gb_s"], ".3S"),
                     fmt(r["tdp_w"], ".3S")])
    return table(["device", "TPP (precision)", "PD (TPP/mm²)", "3A090 (Oct 2023)", "BF16 TFLOPS",
                  "FP8 TFLOPS", "memory TB/s", "link GB/s", "network GB/s", "board W"], rows)


def _export_cap_table(v) -> str:
    front = v["res"]["frontier"]
    fams = list(export_compliant.FAMILIES)
    rows = []
    for cap in (1600, 2400, 4800, 24000):
        cells = []
        for f in fams:
            r = next((r for r in front if r["family"] == f and r["tpp_cap"] == cap), None)
            if not r or not r["tokens_per_s"]:
                cells.append("–")
                continue
            extra = f" (PIM × {r['pim_multiplier']:g})" if r.get("pim_multiplier") else ""
            cells.append(f"{r['tokens_per_s']:.0f}" + extra)
        rows.append([str(cap) if cap != 24000 else "24000 (none binds)"] + cells)
    return table(["TPP cap"] + fams, rows)


block(DOC, "export_decode", "export", _export_decode_table)
block(DOC, "export_moe", "export", _export_moe_table)
block(DOC, "export_perf", "export", _export_perf_table)
block(DOC, "export_metrics", "export", _export_metrics_table)
block(DOC, "export_cap", "export", _export_cap_table)


# ---- 5. device and edge ------------------------------------------------------------------------

@source("device_edge", quick=True)
def _device_edge() -> dict:
    with tempfile.TemporaryDirectory() as d:
        whatif = device_edge.write_whatif(Path(d))
        rows = device_edge.evaluate(False, whatif)
    th = device_edge.thresholds(rows)
    v = {"rows": rows, "th": th}
    base = {(r["model"], r["weights"]): r for r in rows if r["arch"] == "phone-lpddr5x"}
    gains = [r["tokens_per_s"] / base[(r["model"], r["weights"])]["tokens_per_s"]
             for r in rows if r["arch"] == device_edge.WHATIF
             and r["model"] in ("llama-3.2-1b", "llama-3.2-3b", "llama-3-8b")]
    v["pim_phone_gain_min"], v["pim_phone_gain_max"] = min(gains), max(gains)
    for r in rows:
        v[f"{r['arch']}_{r['model']}_{r['weights']}".replace("-", "_").replace(".", "_")] = r
    return v


def _device_table(v) -> str:
    names = {"phone-lpddr5x": "phone", device_edge.WHATIF: "phone + LPDDR5X-PIM (what-if)",
             "apple-m2-ultra": "M2 Ultra", "jetson-agx-orin-64g": "Jetson AGX Orin 64 GB",
             "aimc-edge-projected": "AIMC package (3 dies, hybrid)"}
    rows = []
    for t in v["th"]:
        rows.append([names[t["arch"]], t["weights"], t["largest_fitting"],
                     f"{t['largest_at_10_tok_s']} ({fmt(t['tok_s_there_10'], '.3S')})",
                     f"{t['largest_at_30_tok_s']} ({fmt(t['tok_s_there_30'], '.3S')})"])
    return table(["device", "weights", "largest model that fits", "largest ≥ 10 tokens/s",
                  "largest ≥ 30 tokens/s"], rows)


block(DOC, "device_edge", "device_edge", _device_table)


# ---- 6. analog limits --------------------------------------------------------------------------

@source("aimc_limits", quick=False)
def _aimc_limits() -> dict:
    res = aimc_limits.compute(False)
    v = {"res": res}
    for r in res["training"]:
        if r["study"] == "endurance":
            v[f"end_{r['model']}_{r['verify_iters']}_{r['tokens_per_step']}".replace("-", "_").replace(".", "_")] = r
    return v


def _aimc_models_table(v) -> str:
    rows = [r for r in v["res"]["inference"] if r["study"] == "models"]
    out = []
    for m in aimc_limits.SIZES:
        pk = next(r for r in rows if r["model"] == m and r["arch"] == aimc_limits.ARCH
                  and r["aimc_chips"] == aimc_limits.PACKAGE and r["policy"] == "hybrid")
        en = next(r for r in rows if r["model"] == m and r["arch"] == aimc_limits.ARCH
                  and r["aimc_chips"] == 0)
        cells = [m, str(en["chips_needed"]),
                 f"{banded(pk['tokens_per_s'], pk['tokens_per_s_low'], pk['tokens_per_s_high'], '.2S')} / "
                 f"{banded(pk['energy_per_token_j'], pk['energy_per_token_j_low'], pk['energy_per_token_j_high'], '.2S')}"
                 + (f", {fmt(pk['resident'], '.0P')} % resident" if pk["resident"] < 1 else "")
                 + ("" if pk["fits"] else ", does not fit"),
                 f"{fmt(en['tokens_per_s'], '.3S')} / {fmt(en['energy_per_token_j'], '.2S')}"]
        for ref in aimc_limits.REFS:
            r = next(r for r in rows if r["model"] == m and r["arch"] == ref)
            cells.append(f"{banded(r['tokens_per_s'], r['tokens_per_s_low'], r['tokens_per_s_high'], '.3S')} / "
                         f"{fmt(r['energy_per_token_j'], '.2S')}" if r["fits"] else "does not fit")
        out.append(cells)
    return table(["model", "dies needed", "3-die package, hybrid: tokens/s / J per token (band)",
                  "enough dies: tokens/s / J per token", "H100 batch 1 (band) / J per token",
                  "phone batch 1 (band) / J per token"], out)


def _aimc_training_table(v) -> str:
    rows = []
    for r in v["res"]["training"]:
        if r["study"] != "step":
            continue
        aimc = r["arch"] == aimc_limits.ARCH
        rows.append([r["case"], fmt(r["step_s"], ".3S"), fmt(r["tokens_per_s"], ".4S"),
                     fmt(1e3 * r["energy_per_token_j"], ".2S"),
                     fmt(r["update_share"], ".0P") + " %" if aimc else "–",
                     fmt(r["lifetime_steps"], ".1E") if aimc else "–"])
    return table(["case", "s/step", "tokens/s", "mJ/token", "update share", "lifetime (steps)"], rows)


block(DOC, "aimc_models", "aimc_limits", _aimc_models_table)
block(DOC, "aimc_training", "aimc_limits", _aimc_training_table)


# ---- 7. inference vs training ------------------------------------------------------------------

@source("ivt", quick=True)
def _ivt() -> dict:
    rows = inference_vs_training.compute(False)
    v = {"rows": rows}
    for r in rows:
        k = f"{r['model']}_{r['arch']}_{r['tokens_label']}".replace("-", "_").replace(".", "_").replace(
            " ", "_").replace("(", "").replace(")", "").replace("+", "_")
        v[k] = r
    return v


def _ivt_table(v) -> str:
    out = []
    rows = v["rows"]
    names = {"h100-sxm": "H100", "h100+hbm3-pim": "H100 + HBM3-PIM", "aimc-edge-projected": "AIMC"}
    for model in dict.fromkeys(r["model"] for r in rows):
        for arch, name in names.items():
            ch = next(r for r in rows if r["model"] == model and r["arch"] == arch
                      and r["tokens_label"] == "chinchilla")
            pub = next(r for r in rows if r["model"] == model and r["arch"] == arch
                       and r["tokens_label"] == "published 15T")
            unit = "die" if arch == "aimc-edge-projected" else "dev"
            serve = f"{fmt(ch['device_s_per_request'], '.2S')} {unit}-s, {fmt(ch['j_per_request'], '.2S')} J"
            if arch == "h100+hbm3-pim":
                train = "as H100 (PIM units idle)"
            else:
                train = (f"{fmt(ch['train_device_hours'], '.2E')} {unit}-h, "
                         f"{fmt(ch['train_mwh'], '.2S')} MWh")
            out.append([model, name, serve, train,
                        f"{fmt(ch['users_crossover_device_h_365d'], '.2E')} / {fmt(ch['users_crossover_energy_365d'], '.2E')}",
                        f"{fmt(pub['users_crossover_device_h_365d'], '.2E')} / {fmt(pub['users_crossover_energy_365d'], '.2E')}"])
    return table(["model", "arch", "serving per request", "training (Chinchilla)",
                  "users for 1 year = training, Chinchilla (device-h / energy)", "same, 15T tokens"], out)


block(DOC, "ivt", "ivt", _ivt_table)


# ---- 8. fair operating points, and the headline ratios ------------------------------------------

@source("opp", quick=True)
def _opp() -> dict:
    res = operating_points.compute(False)
    v = {"ops": res["ops"], "rows": res["rows"]}
    for r in res["rows"]:
        v[f"{r['model']}_{r['system']}".replace("-", "_").replace(".", "_")] = r
    return v


def _opp_table(v) -> str:
    out = []
    for r in v["rows"]:
        b1 = (f"{fmt(r['b1_tokens_per_s'], '.3S')} / "
              f"{banded(r['b1_tokens_per_j'], r['b1_tokens_per_j_low'], r['b1_tokens_per_j_high'], '.2S')}"
              + ("" if r["b1_fits"] else ", does not fit")
              + ("" if not r["b1_fits"] or r["b1_tpot_s"] <= TPOT_MAX else
                 f", {fmt(1e3 * r['b1_tpot_s'], '.2S')} ms/token"))
        if r["best_batch"]:
            best = (f"{r['best_batch']}", fmt(r["best_tokens_per_s"], ".3S"),
                    banded(r["best_tokens_per_j"], r["best_tokens_per_j_low"], r["best_tokens_per_j_high"], ".2S"),
                    fmt(1e3 * r["best_tpot_s"], ".2S"), r["why"],
                    ratio(r.get("best_tokens_per_j_vs_gpu")))
        else:
            best = ("none", "–", "–", "–", f"no batch ≤ {TPOT_MAX * 1e3:.0f} ms", "–")
        out.append([r["model"], r["label"], b1, *best])
    return table(["model", "system", "batch 1: tokens/s / tokens/J (band)", "best batch",
                  "tokens/s", "tokens/J (band)", "ms/token", "next batch refused by",
                  "tokens/J vs GPU at its best"], out)


block(DOC, "opp", "opp", _opp_table)


@source("headline", quick=True)
def _headline() -> dict:
    """The closing ratios of issue 15 (docs/experiments.md, "Headline ratios"; README.md)."""
    o = _opp()["ops"]
    e = _export()
    c = _crossover()
    v = {}

    def both(num, den, key):
        a, b = o[num], o[den]
        v[f"{key}_b1"] = a.batch1.tokens_per_j / b.batch1.tokens_per_j
        v[f"{key}_b1_lo"], v[f"{key}_b1_hi"] = _ratio_band(a.batch1, b.batch1)
        if a.best and b.best:
            v[f"{key}_best"] = a.best.tokens_per_j / b.best.tokens_per_j
            v[f"{key}_best_lo"], v[f"{key}_best_hi"] = _ratio_band(a.best, b.best)
            v[f"{key}_best_batches"] = f"{a.best.batch} vs {b.best.batch}"
        else:
            v[f"{key}_best"] = v[f"{key}_best_lo"] = v[f"{key}_best_hi"] = math.nan
            v[f"{key}_best_batches"] = "none"
    for m, mk in (("llama-3.2-1b", "1b"), ("llama-3-8b", "8b")):
        both((m, "aimc"), (m, "gpu"), f"aimc_gpu_{mk}")
        both((m, "aimc_enough"), (m, "gpu"), f"aimc_enough_gpu_{mk}")
        both((m, "aimc_enough"), (m, "gpu_fp8"), f"aimc_enough_fp8_{mk}")
        both((m, "pim"), (m, "gpu"), f"pim_gpu_j_{mk}")
        g, p = o[(m, "gpu")], o[(m, "pim")]
        v[f"pim_gpu_s_b1_{mk}"] = p.batch1.tokens_per_s / g.batch1.tokens_per_s
        v[f"pim_gpu_s_best_{mk}"] = p.best.tokens_per_s / g.best.tokens_per_s
        v[f"pim_gpu_s_best_batches_{mk}"] = f"{p.best.batch} vs {g.best.batch}"
    v["pim_b1_c4096"] = c["pim_b1"]
    d8 = {r["arch"] + r["format"]: r for r in e["res"]["decode"] if r["model"] == "llama-3-8b"}
    d70 = {r["arch"] + r["format"]: r for r in e["res"]["decode"] if r["model"] == "llama-3-70b"}
    for fk, f in (("bf16", "bf16"), ("fp8", "8-bit")):
        v[f"h20_b1_{fk}"] = d8["h20" + f]["b1_vs_h100"]
        v[f"h20_b64_{fk}"] = d8["h20" + f]["b64_vs_h100"]
        v[f"h20_best_{fk}"] = d8["h20" + f]["best_vs_h100"]
        v[f"h20_70b_b1_{fk}"] = d70["h20" + f]["b1_vs_h100"]
        v[f"h20_70b_b64_{fk}"] = d70["h20" + f]["b64_vs_h100"]
        v[f"h20_70b_best_{fk}"] = d70["h20" + f]["best_vs_h100"]
    moe = {(r["model"], r["tp"], r["ep"], r["arch"]): r for r in e["res"]["moe"]}
    for (m, tp, ep), key in ((("deepseek-r1", 1, 16), "ds_ep16"), (("deepseek-r1", 8, 2), "ds_tp8ep2"),
                             (("deepseek-r1", 1, 32), "ds_ep32"), (("qwen3-235b-a22b", 1, 8), "qw_ep8")):
        r = moe[(m, tp, ep, "h800-sxm")]
        v[f"h800_{key}_decode"] = r["decode_vs_h100"]
        v[f"h800_{key}_prefill"] = r["prefill_vs_h100"]
    return v


def _headline_table(v) -> str:
    r = ratio
    rows = [
        ["GPU+PIM / GPU, tokens/s, llama-3-8b decode", r(v["pim_gpu_s_b1_8b"]),
         r(v["pim_gpu_s_best_8b"]) + f" (batch {v['pim_gpu_s_best_batches_8b']})",
         f"context 4096, batch 1: {fmt(v['pim_b1_c4096'], '.2S')}× (experiment 2)"],
        ["GPU+PIM / GPU, tokens/J, llama-3-8b", r(v["pim_gpu_j_8b_b1"], v["pim_gpu_j_8b_b1_lo"], v["pim_gpu_j_8b_b1_hi"]),
         r(v["pim_gpu_j_8b_best"], v["pim_gpu_j_8b_best_lo"], v["pim_gpu_j_8b_best_hi"])
         + f" (batch {v['pim_gpu_j_8b_best_batches']})", "the PIM stacks' limits and static power included"],
        ["AIMC / GPU, tokens/J, llama-3.2-1b (3-die package)",
         r(v["aimc_gpu_1b_b1"], v["aimc_gpu_1b_b1_lo"], v["aimc_gpu_1b_b1_hi"]),
         r(v["aimc_gpu_1b_best"], v["aimc_gpu_1b_best_lo"], v["aimc_gpu_1b_best_hi"])
         + f" (batch {v['aimc_gpu_1b_best_batches']})", "the model is resident in the tiles"],
        ["AIMC / GPU, tokens/J, llama-3-8b (7 dies, resident)",
         r(v["aimc_enough_gpu_8b_b1"], v["aimc_enough_gpu_8b_b1_lo"], v["aimc_enough_gpu_8b_b1_hi"]),
         r(v["aimc_enough_gpu_8b_best"], v["aimc_enough_gpu_8b_best_lo"], v["aimc_enough_gpu_8b_best_hi"])
         + f" (batch {v['aimc_enough_gpu_8b_best_batches']})",
         f"against the H100 in FP8: {r(v['aimc_enough_fp8_8b_best'], v['aimc_enough_fp8_8b_best_lo'], v['aimc_enough_fp8_8b_best_hi'])} at the best points"],
        ["AIMC / GPU, tokens/J, llama-3-8b (3-die package, hybrid)",
         r(v["aimc_gpu_8b_b1"], v["aimc_gpu_8b_b1_lo"], v["aimc_gpu_8b_b1_hi"]),
         f"no batch ≤ {TPOT_MAX * 1e3:.0f} ms", "the weights beyond the tiles stream from LPDDR5X"],
        ["H20 / H100, tokens/s, llama-3-8b decode, BF16", r(v["h20_b1_bf16"]),
         r(v["h20_best_bf16"]), f"batch 64: {r(v['h20_b64_bf16'])}"],
        ["H20 / H100, tokens/s, llama-3-8b decode, FP8", r(v["h20_b1_fp8"]),
         r(v["h20_best_fp8"]), f"batch 64: {r(v['h20_b64_fp8'])}"],
        ["H20 / H100, tokens/s, llama-3-70b decode, FP8, 8 devices", r(v["h20_70b_b1_fp8"]),
         r(v["h20_70b_best_fp8"]), f"batch 64: {r(v['h20_70b_b64_fp8'])}"],
        ["H800 / H100, tokens/s, deepseek-r1, 2 nodes, ep 16", "–", r(v["h800_ds_ep16_decode"]),
         (f"prefill {r(v['h800_ds_ep16_prefill'])}; tp 8 × ep 2: decode {r(v['h800_ds_tp8ep2_decode'])}, "
          f"prefill {r(v['h800_ds_tp8ep2_prefill'])}")],
        ["H800 / H100, tokens/s, qwen3-235b-a22b, 1 node, ep 8", "–", r(v["h800_qw_ep8_decode"]),
         f"prefill {r(v['h800_qw_ep8_prefill'])}"],
    ]
    return table(["ratio", "batch 1", "best operating points", "also"], rows)


block(DOC, "headline", "headline", _headline_table)


# ---- the prose (generated from the doc's phrases) ------------------------------------------------
quotes('docs/experiments.md',
       'per joule shrinks from {headline.pim_gpu_j_8b_b1:.2S}× at batch 1 to {headline.pim_gpu_j_8b_best:.2S}× when both',
       'a batch-1 H100 ({headline.aimc_gpu_1b_b1:.2S}× for the',
       "and 8B models are {headline.aimc_gpu_1b_best:.2f}× and {headline.aimc_enough_gpu_8b_best:.2f}× the H100's",
       '7-die AIMC system gives {headline.aimc_enough_fp8_8b_best:.2f}× the tokens/J',
       'at batch 1 ({headline.h20_b1_bf16:.2f}×: its 4.0',
       'makes decode compute-bound ({headline.h20_best_bf16:.2f}× at the',
       'with expert parallelism ({headline.h800_ds_ep16_decode:.2f}×: the all-to-all',
       'both parts share) and {headline.h800_qw_ep8_prefill:.2f}× on the',
       'is per-kernel overhead ({roofline.llama_2_7b_near_memory_decode.share_latency:.0P} % latency) —',
       'where anything fits ({crossover.pim_cells} of {crossover.cells} cells; in {crossover.none_cells} nothing fits). Its',
       'over the GPU is {crossover.pim_b1:.2S}× at batch',
       'context) and falls to {crossover.pim_min:.2S}× at batch {crossover.pim_min_batch} ({crossover.GPU_PIM_b32_c512:.2S}× at batch',
       'batch and context ({crossover.pim_b64:.2S}× at batch',
       '64 and 4k, {crossover.pim_c65536_b4:.2S}× at 64k',
       'the lowest J/token in {crossover.aimc_energy_cells} cells and GPU+PIM in {crossover.pim_energy_cells}; AIMC wins',
       '(batch 1, 4k context: {crossover.AIMC_b1_c4096_mj:.2S} mJ per token against {crossover.GPU_PIM_b1_c4096_mj:.3S} on GPU+PIM and {crossover.GPU_b1_c4096_mj:.4S} on the GPU).',
       '1 the GPU spends {crossover.GPU_b1_c131072_attn:.0P} % of a',
       'the KV cache ({crossover.GPU_b1_c131072_tok_s:.3S} tokens/s there, {crossover.GPU_b1_c4096_tok_s:.3S} at 4k); AIMC',
       'grow with batch ({crossover.AIMC_b1_c4096_tok_s:.3S} at batch 1, {crossover.AIMC_b16_c4096_tok_s:.3S} at batch 16).',
       '80 GB falls from {crossover.GPU_maxbatch_c512} at 512 tokens to {crossover.GPU_maxbatch_c131072} at 128k (GPU+PIM,',
       "% of the stacks: {crossover.GPU_PIM_maxbatch_c512} → {crossover.GPU_PIM_maxbatch_c131072}; AIMC's 12 GB: {crossover.AIMC_maxbatch_c512} → {crossover.AIMC_maxbatch_c131072}).",
       '4 µs per kernel: {walls.gpu_tok_lo:.3S} tokens/s at {walls.bw_lo:.2S} TB/s, {walls.gpu_tok_ref:.3S} at 3.35 TB/s, {walls.gpu_tok_hi:.3S} at {walls.bw_hi:.3S} TB/s — {walls.gpu_gain:.2S}× for {walls.bw_ratio:.3S}× the bandwidth.',
       'latency share grows from {walls.lat_lo:.0P} % to {walls.lat_hi:.0P} % (E), and',
       'half the step from {walls.slow_cross_bw:.2S} TB/s; with 0.25',
       'µs it never exceeds {walls.fast_lat_max:.0P} %. - **Batch',
       "a batch-512 step is {walls.ref_bw_b512_compute_share:.0P} % at 3.35 TB/s and {walls.hi_bw_b512_compute_share:.0P} % at {walls.bw_hi:.3S} TB/s. - **PIM's",
       'power.** With tRCD = {walls.trcd_lo_ns:.3S} ns, {walls.pim_mult_trcd_lo_x1:.3S} → {walls.pim_mult_trcd_lo_x8:.3S} (8×) → {walls.pim_mult_trcd_lo_x16:.4S} tokens/s (16×) and',
       'and no further ({walls.pim_mult_trcd_lo_x256:.4S} at 256×); with {walls.trcd_hi_ns:.3S} ns rows {walls.pim_mult_trcd_hi_x1:.3S} → {walls.pim_mult_trcd_hi_x16:.3S} → {walls.pim_mult_trcd_hi_x256:.3S}. Above ~8–16×',
       "the GPU's share. With {walls.pim_ovh_hi_us:.2S} µs PIM kernels",
       'PIM buys nothing ({walls.pim_mult_overhead_hi_x1:.3S} → {walls.pim_mult_overhead_hi_x16:.3S} tokens/s); with {walls.pim_ovh_lo_us:.2S} µs kernels the',
       'the same hardware reaches {walls.pim_mult_overhead_lo_x16:.4S} (16×).',
       'beats the H100 ({export.llama_3_8b_h20_bf16.b1_vs_h100:.2f}× on the',
       '8B model in BF16, {export.llama_3_70b_h20_8_bit.b1_vs_h100:.2f}× on the',
       '8B model runs at {export.llama_3_8b_h20_bf16.b64_vs_h100:.2f}× in BF16,',
       "part's best batch at {export.llama_3_8b_h20_bf16.best_vs_h100:.2f}× (BF16) and {export.llama_3_8b_h20_8_bit.best_vs_h100:.2f}× (FP8); the",
       'on 8 H20s reaches {export.llama_3_70b_h20_8_bit.best_vs_h100:.2f}× of 8 H100s, against {export.llama_3_70b_a800_80g_sxm_8_bit.best_vs_h100:.2f}× on 8 A800s and {export.llama_3_70b_ascend_910b_8_bit.best_vs_h100:.2f}× on 8',
       'in INT8 W8A8 (BF16: {export.llama_3_70b_a800_80g_sxm_bf16.best_vs_h100:.2f}× and {export.llama_3_70b_ascend_910b_bf16.best_vs_h100:.2f}×). FP8 (or',
       'batch the H20 reaches {export.llama_3_8b_h20_bf16.best_tokens_per_j_vs_h100:.2f}× (8B, BF16) and {export.llama_3_70b_h20_8_bit.best_tokens_per_j_vs_h100:.2f}× (70B, FP8)',
       '8 it runs at {export.llama_3_70b_h800_sxm_8_bit.best_vs_h100:.2f}× of the',
       'of large batches) and {export.perf_70B_prefill_heavy_tp_8_h800_sxm.vs_h100:.2f}× on BF16',
       'the H800 loses ({export.moe_qwen3_235b_a22b_1x8_h800_sxm.decode_vs_h100:.2f}× decode, {export.moe_qwen3_235b_a22b_1x8_h800_sxm.prefill_vs_h100:.2f}× prefill for',
       'same on both ({export.moe_deepseek_r1_1x16_h800_sxm.decode_vs_h100:.2f}×). With tp',
       'back on NVLink ({export.moe_deepseek_r1_8x2_h800_sxm.decode_vs_h100:.2f}×) — which',
       'over two nodes takes {export.moe_deepseek_r1_1x16_ascend_910b.b1_tpot_s:.2S} s at batch',
       '1, so only batch {export.moe_deepseek_r1_1x16_ascend_910b.best_batch} still meets the',
       'llama-3-8b at int4: phone {device_edge.phone_lpddr5x_llama_3_8b_int4.tokens_per_s:.3S} tokens/s; the what-if PIM phone {device_edge.phone_lpddr5x_pim_llama_3_8b_int4.tokens_per_s:.3S}; M2 Ultra {device_edge.apple_m2_ultra_llama_3_8b_int4.tokens_per_s:.3S}; Jetson Orin {device_edge.jetson_agx_orin_64g_llama_3_8b_int4.tokens_per_s:.3S}; the AIMC',
       'package (3 dies, hybrid) {device_edge.aimc_edge_projected_llama_3_8b_int4.tokens_per_s:.3S} tokens/s at {device_edge.aimc_edge_projected_llama_3_8b_int4.energy_per_token_j:.2S} J per token',
       'tiles** (llama-3.2-1b at int4: {device_edge.aimc_edge_projected_llama_3_2_1b_int4.tokens_per_s:.3S} tokens/s at {device_edge.aimc_edge_projected_llama_3_2_1b_int4.energy_per_token_j:.2S} J per token)',
       "the phone's line by {device_edge.pim_phone_gain_min:.2S}–{device_edge.pim_phone_gain_max:.2S}× (1B to",
       '(panel b): for llama-3.2-1b {aimc_limits.end_llama_3_2_1b_20_4096.endurance_needed:.2E} write cycles at',
       'and 20 verify iterations, {aimc_limits.end_llama_3_2_1b_20_1048576.endurance_needed:.2E} at 1M tokens',
       'single-shot updates. For llama-3-8b: {aimc_limits.end_llama_3_8b_20_4096.endurance_needed:.2E} and {aimc_limits.end_llama_3_8b_20_1048576.endurance_needed:.2E}.',
       'serving equals training at {ivt.llama_3_8b_h100_sxm_Meta_model_card_measured_GPU_hours.users_crossover_device_h_365d:.2E} (8B) and {ivt.llama_3_70b_h100_sxm_Meta_model_card_measured_GPU_hours.users_crossover_device_h_365d:.2E} (70B) daily users',
       'catches up only at {ivt.llama_3_8b_aimc_edge_projected_chinchilla.users_crossover_device_h_365d:.2E} (8B) to {ivt.llama_3_70b_aimc_edge_projected_chinchilla.users_crossover_device_h_365d:.2E} (70B) daily users.',
       'the 8B model grow {opp.llama_3_8b_gpu.gain_over_batch1:.2S}× from batch',
       'its best batch ({opp.llama_3_8b_gpu.best_batch}, where the',
       'resident AIMC systems give {opp.llama_3_2_1b_aimc.best_tokens_per_j_vs_gpu:.2f}× (1B) and {opp.llama_3_8b_aimc_enough.best_tokens_per_j_vs_gpu:.2f}× (8B) the',
       'FP8 is already at {opp.llama_3_8b_gpu_fp8.best_tokens_per_j_vs_gpu:.2f}× of the',
       'at every batch ({opp.llama_3_8b_aimc.b1_tokens_per_s:.3S} tokens/s at batch',
       'the best point ({opp.llama_3_8b_pim.best_tokens_per_j_vs_gpu:.2f}× the tokens/J',
       'on the 8B model, {opp.llama_3_2_1b_pim.best_tokens_per_j_vs_gpu:.2f}× on the',
       'at batch 1 ({opp.llama_3_2_1b_gpu_fused.b1_tokens_per_s:.3S} against {opp.llama_3_2_1b_gpu.b1_tokens_per_s:.3S} tokens/s on the',
       'the 1B model at {opp.llama_3_2_1b_phone.b1_tokens_per_s:.3S} tokens/s, just over',
)
