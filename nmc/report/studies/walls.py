"""Bandwidth and latency walls: where decode time goes as memory bandwidth, per-operator
overhead, DRAM row activation and the PIM internal-bandwidth multiplier move.

llama-3-8b decode, 2048 tokens in the KV cache, bf16, tp 1, evaluated with nmc.sweep (one
numba grid kernel, no Python object per point):

  A  GPU (h100-sxm), batch 1: memory bandwidth x per-kernel overhead (kernel_overhead)
  B  GPU (h100-sxm): memory bandwidth x batch
  C  GPU+PIM (h100+hbm3-pim, mapping auto), batch 1: PIM internal-bandwidth multiplier x
     row activation (tRCD = tRP, tRAS = tRCD + 20 ns)
  D  GPU+PIM, batch 1: PIM internal-bandwidth multiplier x per-PIM-kernel overhead

The multiplier m is the peak in-bank column bandwidth over the external bus (U x burst / tCCD
over pins x rate; 16 for the AttAcc-style preset). It is moved through pim_tccd, and the unit
FLOP/s move with it (one FLOP per internal byte, AttAcc's design rule), so a larger m is a
faster PIM in both bandwidth and compute. Heat maps show tokens/s with the dominant bound
hatched (largest of the compute / memory / latency / comm time shares, docs/model.md);
the last two panels show the time shares along the bandwidth axis.

Writes gpu_bw_overhead.csv, gpu_bw_batch.csv, pim_mult_trcd.csv, pim_mult_overhead.csv and
walls.png/.svg.

    python experiments/walls.py [--quick] [--out DIR]
"""
from __future__ import annotations

from pathlib import Path

from . import common as C
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.patches import Patch

from ...arch.loader import load_arch
from ...sweeps import sweep

NAME = "walls"
MODEL = "llama-3-8b"
GPU, PIM = "h100-sxm", "h100+hbm3-pim"
SCEN = {"phase": "decode", "context": 2048}
HATCH = {"compute": "", "memory": "//", "latency": "..", "comm": "xx"}
SHARE_COLORS = {"memory": "tab:blue", "latency": "tab:orange", "compute": "tab:green", "comm": "tab:purple"}


def _grids(quick: bool) -> dict:
    steps = 2.0 ** (np.arange(-4, 4.01, 2.0) if quick else np.arange(-4, 4.01, 0.5))
    return {                                 # grids through the presets' own values
        "bw": 3.35e12 * steps,               # h100-sxm mem_bw
        "ovh": 4e-6 * steps,                 # h100-sxm kernel_overhead
        "batch": [1, 16, 256] if quick else [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        "mult": [1, 4, 16, 64] if quick else [1, 2, 4, 8, 16, 32, 64, 128, 256],
        "trcd": 14.6e-9 * 2.0 ** (np.arange(-2, 3.01, 1.0 if quick else 0.5)),   # preset tRCD
        "pim_ovh": 1e-6 * 2.0 ** (np.arange(-3, 3.01, 3.0) if quick else np.arange(-4, 5.01, 1.0)),
    }


def pim_multiplier_axis(arch_name: str, mults) -> list[list[float]]:
    """(pim_tccd, pim_unit_flops) pairs giving an internal/external peak ratio of m each."""
    a = load_arch(arch_name)
    units = a["pim_devices"] * a["pim_channels"] * a["pim_banks"] / a["pim_banks_per_unit"]
    b_ext = a["pim_devices"] * a["pim_pins"] * a["pim_io_rate"]     # io_rate is stored in B/s per pin
    out = []
    for m in mults:
        tccd = units * a["pim_burst"] / (m * b_ext)
        out.append([tccd, a["pim_burst"] / tccd])      # 1 FLOP per internal byte per unit
    return out


def evaluate(quick: bool) -> dict:
    g = _grids(quick)
    mult_axis = pim_multiplier_axis(PIM, g["mult"])
    t = {}
    t["gpu_bw_overhead"] = sweep(MODEL, GPU, {"kernel_overhead": list(g["ovh"]), "mem_bw": list(g["bw"])},
                                 batch=1, **SCEN)
    t["gpu_bw_batch"] = sweep(MODEL, GPU, {"batch": g["batch"], "mem_bw": list(g["bw"])}, **SCEN)
    t["pim_mult_trcd"] = sweep(MODEL, PIM, {
        "pim_trcd,pim_trp,pim_tras": [[x, x, x + 20e-9] for x in g["trcd"]],
        "pim_tccd,pim_unit_flops": mult_axis}, batch=1, **SCEN)
    t["pim_mult_overhead"] = sweep(MODEL, PIM, {"pim_kernel_overhead": list(g["pim_ovh"]),
                                                "pim_tccd,pim_unit_flops": mult_axis}, batch=1, **SCEN)
    return {"grids": g, "tables": t}


def _rows(tab, extra=None) -> list[dict]:
    cols = [c for c in tab.params] + ["tokens_per_s", "latency_s", "bound", "share_compute",
                                      "share_memory", "share_latency", "share_comm",
                                      "energy_per_token_j", "fits"]
    data = {c: tab[c] for c in cols}
    rows = []
    for i in range(len(tab)):
        r = {c: (data[c][i].item() if hasattr(data[c][i], "item") else data[c][i]) for c in cols}
        if extra:
            r.update(extra(i))
        rows.append(r)
    return rows


def _heat(ax, x, y, tab, xkey_vals, ykey_vals, title, xlabel, ylabel, xlog=True, ylog=True):
    """tokens/s heat map over (x, y) with the dominant bound hatched. The sweep's last grid key
    varies fastest, so values reshape to (len(y), len(x))."""
    ny, nx = len(ykey_vals), len(xkey_vals)
    z = np.asarray(tab["tokens_per_s"], float).reshape(ny, nx)
    bound = np.asarray(tab["bound"], object).reshape(ny, nx)
    X, Y = np.meshgrid(x, y)
    pc = ax.pcolormesh(X, Y, z, norm=LogNorm(vmin=z.min(), vmax=z.max()), cmap="viridis",
                       shading="nearest")
    codes = np.vectorize(lambda b: list(HATCH).index(b))(bound).astype(float)
    present = sorted(set(bound.flat), key=list(HATCH).index)
    ax.contourf(X, Y, codes, levels=[-0.5, 0.5, 1.5, 2.5, 3.5], hatches=list(HATCH.values()),
                colors="none")
    if len(present) > 1:
        ax.contour(X, Y, codes, levels=[0.5, 1.5, 2.5], colors="white", linewidths=1.2)
    cs = ax.contour(X, Y, z, levels=_nice_levels(z), colors="k", linewidths=0.6, alpha=0.7)
    ax.clabel(cs, fmt=lambda v: f"{v:.3g}", fontsize=7)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend([Patch(facecolor="white", edgecolor="k", hatch=HATCH[b]) for b in present],
              [f"{b}-bound" for b in present], loc="lower left", fontsize=7, framealpha=0.85)
    return pc


def _nice_levels(z):
    lo, hi = np.log10(z.min()), np.log10(z.max())
    lv = [m * 10 ** e for e in range(int(np.floor(lo)), int(np.ceil(hi)) + 1) for m in (1, 3)]
    return [v for v in lv if z.min() < v < z.max()]


def _shares(ax, x, tab, mask, xlabel, title, xref=None, xref_label=None):
    for k in ("memory", "latency", "compute", "comm"):
        v = np.asarray(tab[f"share_{k}"])[mask]
        if v.max() > 0.005:
            ax.plot(x, 100 * v, "-o", ms=3, color=SHARE_COLORS[k], label=f"{k}")
    if xref is not None:
        ax.axvline(xref, color="0.4", ls=":", lw=1)
        ax.text(xref, 102, xref_label, fontsize=7, ha="center", va="bottom", color="0.3")
    ax.set(xscale="log", ylim=(0, 110), xlabel=xlabel, ylabel="share of decode-step time (%)", title=title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="center right")


def figure(res, path, svg=True):
    plt = C.plt
    g, t = res["grids"], res["tables"]
    gpu, pim = load_arch(GPU), load_arch(PIM)
    fig, axes = plt.subplots(2, 3, figsize=(20, 11))
    bw_tb = g["bw"] / 1e12
    pcs = []
    pcs.append(_heat(axes[0, 0], bw_tb, g["ovh"] * 1e6, t["gpu_bw_overhead"], g["bw"], g["ovh"],
                     "A  GPU, batch 1: bandwidth x per-kernel overhead",
                     "memory bandwidth (TB/s)", "kernel_overhead per launch (µs)"))
    axes[0, 0].plot([gpu["mem_bw"] / 1e12], [gpu["kernel_overhead"] * 1e6], "r*", ms=12)
    pcs.append(_heat(axes[0, 1], bw_tb, np.asarray(g["batch"], float), t["gpu_bw_batch"], g["bw"],
                     g["batch"], "B  GPU: bandwidth x batch", "memory bandwidth (TB/s)", "batch"))
    axes[0, 1].axvline(gpu["mem_bw"] / 1e12, color="r", ls="--", lw=1)
    mult = np.asarray(g["mult"], float)
    pcs.append(_heat(axes[1, 0], mult, g["trcd"] * 1e9, t["pim_mult_trcd"], g["mult"], g["trcd"],
                     "C  GPU+PIM, batch 1: internal-bandwidth multiplier x row activation",
                     "PIM internal / external peak bandwidth (×)", "tRCD = tRP (ns)"))
    axes[1, 0].plot([16], [pim["pim_trcd"] * 1e9], "r*", ms=12)
    pcs.append(_heat(axes[1, 1], mult, g["pim_ovh"] * 1e6, t["pim_mult_overhead"], g["mult"],
                     g["pim_ovh"], "D  GPU+PIM, batch 1: multiplier x per-PIM-kernel overhead",
                     "PIM internal / external peak bandwidth (×)", "pim_kernel_overhead (µs)"))
    axes[1, 1].plot([16], [pim["pim_kernel_overhead"] * 1e6], "r*", ms=12)
    for ax, pc in zip((axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]), pcs):
        fig.colorbar(pc, ax=ax, label="decode tokens/s")
    # shares along bandwidth at the preset overhead (nearest grid row)
    tab = t["gpu_bw_overhead"]
    ov = g["ovh"][np.argmin(abs(np.log(g["ovh"] / gpu["kernel_overhead"])))]
    _shares(axes[0, 2], bw_tb, tab, np.isclose(np.asarray(tab["kernel_overhead"]), ov),
            "memory bandwidth (TB/s)",
            f"E  GPU, batch 1: time shares vs bandwidth (overhead {ov * 1e6:.2g} µs)",
            gpu["mem_bw"] / 1e12, "H100")
    tab = t["pim_mult_overhead"]
    ov = g["pim_ovh"][np.argmin(abs(np.log(g["pim_ovh"] / pim["pim_kernel_overhead"])))]
    _shares(axes[1, 2], mult, tab, np.isclose(np.asarray(tab["pim_kernel_overhead"]), ov),
            "PIM internal / external peak bandwidth (×)",
            f"F  GPU+PIM, batch 1: time shares vs multiplier (PIM overhead {ov * 1e6:.2g} µs)",
            16, "preset")
    fig.suptitle(f"{MODEL} decode, context 2048, bf16: tokens/s (colour, contour labels) and the "
                 f"dominant bound (hatching; white line = bound changes); red star = preset",
                 fontsize=12)
    C.lean_log_ticks(fig)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return C.save(fig, path, svg)


def headline(res) -> dict:
    g, t = res["grids"], res["tables"]
    h = {}
    C.say(f"== {NAME}: {MODEL} decode, context 2048, bf16")
    tab = t["gpu_bw_overhead"]
    bw, ov = np.asarray(tab["mem_bw"]), np.asarray(tab["kernel_overhead"])
    slat = np.asarray(tab["share_latency"])
    for o in (g["ovh"][0], g["ovh"][len(g["ovh"]) // 2], g["ovh"][-1]):
        m = np.isclose(ov, o)
        cross = bw[m][np.argmax(slat[m] >= 0.5)] if (slat[m] >= 0.5).any() else None
        C.say(f"  GPU batch 1, overhead {o * 1e6:.3g} µs: latency share {slat[m][0]:.0%} at "
              f"{bw[m][0] / 1e12:.3g} TB/s -> {slat[m][-1]:.0%} at {bw[m][-1] / 1e12:.3g} TB/s; "
              + (f"latency >= 50 % of the step from {cross / 1e12:.3g} TB/s" if cross else
                 f"latency < 50 % up to {bw[m][-1] / 1e12:.3g} TB/s"))
        h[f"gpu_latency_bound_from_bw_at_{o:.3g}s"] = cross
    tps = np.asarray(tab["tokens_per_s"])
    m = np.isclose(ov, 4e-6)
    h["gpu_tokens_per_s_max_bw"] = tps[m][-1]
    C.say(f"  GPU batch 1 at ~4 µs overhead: {tps[m][0]:.3g} tok/s at {bw[m][0] / 1e12:.3g} TB/s, "
          f"{tps[m][-1]:.3g} at {bw[m][-1] / 1e12:.3g} TB/s ({tps[m][-1] / tps[m][0]:.3g}x for "
          f"{bw[m][-1] / bw[m][0]:.3g}x bandwidth)")
    tab = t["gpu_bw_batch"]
    b, bwb, bnd = np.asarray(tab["batch"]), np.asarray(tab["mem_bw"]), tab["bound"]
    for bw_sel in (bwb.min(), 3.35e12, bwb.max()):
        m = np.isclose(bwb, bw_sel)
        comp = b[m][bnd[m] == "compute"]
        C.say(f"  GPU at {bw_sel / 1e12:.3g} TB/s: " + (f"compute-bound from batch {int(comp.min())}"
              if comp.size else f"not compute-bound up to batch {int(b.max())}"))
    for key, par, lab in (("pim_mult_trcd", "pim_trcd", "tRCD"),
                          ("pim_mult_overhead", "pim_kernel_overhead", "PIM overhead")):
        tab = t[key]
        tps = np.asarray(tab["tokens_per_s"])
        pv = np.asarray(tab[par])
        for sel in (pv.min(), pv.max()):
            m = np.isclose(pv, sel)
            C.say(f"  GPU+PIM batch 1, {lab} {sel * (1e9 if par == 'pim_trcd' else 1e6):.3g} "
                  f"{'ns' if par == 'pim_trcd' else 'µs'}: " + ", ".join(
                      f"x{mm:g}: {v:.4g}" for mm, v in zip(g["mult"], tps[m])) + " tok/s")
            h[f"{key}_{sel:.3g}"] = list(tps[m])
    return h


def _multiplier_column(tccd, mult_of):
    """Row i -> {"pim_multiplier": m} from the row's pim_tccd (CSV column for the PIM grids)."""
    return lambda i: {"pim_multiplier": mult_of.get(round(float(tccd[i]), 15))}


def run(quick: bool, out: Path) -> dict:
    res = evaluate(quick)
    g = res["grids"]
    mult_of = dict(zip([round(x[0], 15) for x in pim_multiplier_axis(PIM, g["mult"])], g["mult"]))
    for key, tab in res["tables"].items():
        extra = None
        if key.startswith("pim"):
            extra = _multiplier_column(np.asarray(tab["pim_tccd"]), mult_of)
        C.write_csv(_rows(tab, extra), out / f"{key}.csv")
    figs = figure(res, out / "walls.png", svg=not quick)
    h = headline(res)
    C.say("wrote " + ", ".join(map(str, [*(out / f"{k}.csv" for k in res["tables"]), *figs])))
    h["figures"] = figs
    return h
