"""Export-compliant and domestic accelerators: what does the cut cost, and on which workloads?

Six devices (h100-sxm, h800-sxm, h20, a800-80g-sxm, l20, ascend-910b) on
  * serving (nmc.analyze, phase "generate": one batch of requests, prompt then response):
    prefill-heavy (long prompt, short answer) and decode-heavy (short prompt, long answer) for
    llama-3-8b on one device and llama-3-70b on 8 devices (tp = 8), plus interactive batch-1
    decode of llama-3-8b; metric: requests/s of the device group relative to H100, and per
    board watt (TDP) relative to H100;
  * training (nmc.train, through experiments/train_compare.py's layout search): llama-2-7b and
    llama-2-70b on 2T tokens at equal device count (256 / 1024; --quick 64 / 256);
  * export-control metrics from nmc.arch.export: TPP, performance density, 3A090 class;
  * the best design under a TPP cap (nmc.analysis.policy.best_design_under_cap): decode tokens/s of
    llama-3-8b (batch 64, context 2048) vs the cap for four design families derived from H100.

Writes export_compliant.csv (relative performance), export_policy.csv (metrics),
export_cap_frontier.csv and export_compliant.png/.svg under --out (default
results/export_compliant).

    python experiments/export_compliant.py [--quick] [--out DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _common as C  # noqa: E402  (experiments/ is on sys.path when run as a script)
import nmc
from nmc.analysis import policy
from nmc.arch import export
from nmc.errors import NmcError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_compare

DEVICES = ["h100-sxm", "h800-sxm", "h20", "a800-80g-sxm", "l20", "ascend-910b"]
REF = "h100-sxm"
# name -> (model, tp, batch, prompt, generate)
SERVING = {
    "8B prefill-heavy": ("llama-3-8b", 1, 16, 4096, 128),
    "8B decode-heavy": ("llama-3-8b", 1, 64, 256, 1024),
    "8B interactive (batch 1)": ("llama-3-8b", 1, 1, 512, 256),
    "70B prefill-heavy (tp 8)": ("llama-3-70b", 8, 16, 4096, 128),
    "70B decode-heavy (tp 8)": ("llama-3-70b", 8, 64, 256, 1024),
}
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


def serving_rows(quick: bool) -> list[dict]:
    rows = []
    work = SERVING if not quick else {k: v for k, v in SERVING.items() if "8B" in k}
    for wl, (model, tp, batch, prompt, gen) in work.items():
        for dev in DEVICES:
            a = nmc.load_arch(dev)
            r = nmc.analyze(model, a, phase="generate", batch=batch, prompt=prompt,
                            generate=gen, tp=tp)
            d = r.results
            req_s = batch / d["latency_s"] if r.fits else None
            rows.append({"kind": "serving", "workload": wl, "model": model, "arch": dev,
                         "devices": tp, "batch": batch, "prompt": prompt, "generate": gen,
                         "fits": r.fits, "requests_per_s": req_s,
                         "ttft_s": d["ttft_s"], "tpot_s": d["tpot_s"],
                         "tokens_per_s": d["tokens_per_s"], "energy_per_token_j": d["energy_per_token_j"],
                         "bound": r.bound, "group_tdp_w": tp * a["tdp"]})
    _relative(rows, "requests_per_s", higher=True)
    return rows


def training_rows(quick: bool) -> list[dict]:
    rows = []
    for model, n in (TRAIN_QUICK if quick else TRAIN).items():
        for dev in DEVICES:
            a = nmc.load_arch(dev)
            try:
                r = train_compare.best(model, a, n, train_compare.GBS, quick)
            except NmcError as e:
                print(f"{model} {dev}: {e}", file=sys.stderr)
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
    _relative(rows, "runs_per_day", higher=True)
    return rows


def _relative(rows, key, higher=True):
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
        rows.append({"arch": dev, "tpp": c["tpp"], "tpp_precision": c["tpp_precision"],
                     "die_area_mm2": c["die_area_mm2"], "performance_density": c["performance_density"],
                     "pim_tpp": policy.pim_tpp(dev), "class": c["class"]})
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
        r = nmc.analyze(CAP_MODEL, dev, phase="decode", batch=CAP_BATCH, context=CAP_CONTEXT)
        devs.append({"family": "device", "arch": dev, "tpp_cap": export.tpp(dev)[0],
                     "tokens_per_s": r.tokens_per_s if r.fits else None, "bound": r.bound})
    return rows, devs



def chart(perf, pol, front, devs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(2, 2, figsize=(15, 10.5))
    colors = dict(zip(DEVICES, ["#4c72b0", "#8172b3", "#dd8452", "#937860", "#c44e52", "#55a868"]))
    # (a) relative performance per workload
    ax = axes[0, 0]
    wls = list(dict.fromkeys(r["workload"] for r in perf))
    x = np.arange(len(wls))
    w = 0.8 / len(DEVICES)
    for k, dev in enumerate(DEVICES):
        vals = [next((r["vs_h100"] for r in perf if r["workload"] == wl and r["arch"] == dev), None)
                for wl in wls]
        vals = [v if v else np.nan for v in vals]
        ax.bar(x + (k - (len(DEVICES) - 1) / 2) * w, vals, w, label=dev, color=colors[dev])
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, [_wrap(wl) for wl in wls], fontsize=7.5)
    ax.set_ylabel("throughput relative to H100 (requests/s; training runs/day)")
    ax.set_title("(a) relative performance, equal device count (1, 8 or the training cluster)",
                 fontsize=10)
    ax.set_ylim(0, 1.25)
    ax.legend(fontsize=8, ncol=6, loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    # (b) per board watt
    ax = axes[0, 1]
    for k, dev in enumerate(DEVICES):
        vals = [next((r["vs_h100_per_watt"] for r in perf if r["workload"] == wl and r["arch"] == dev),
                     None) for wl in wls]
        vals = [v if v else np.nan for v in vals]
        ax.bar(x + (k - (len(DEVICES) - 1) / 2) * w, vals, w, label=dev, color=colors[dev])
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, [_wrap(wl) for wl in wls], fontsize=7.5)
    ax.set_ylabel("throughput per board watt (TDP), relative to H100")
    ax.set_title("(b) the same per watt of board power (TDP from the presets)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    # (c) TPP vs performance density with the 3A090 regions
    ax = axes[1, 0]
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
        ax.scatter([r["tpp"]], [yv], color=colors.get(r["arch"], "k"), s=45, zorder=3,
                   marker="o" if pd else "v")
        ax.annotate(name + ("" if pd else " (die area unknown)") + f"\n{r['class']}",
                    (r["tpp"], yv), fontsize=7.5, xytext=offsets.get(r["arch"], (5, 4)),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(300, 40000)
    ax.set_ylim(0.3, 60)
    ax.set_xlabel("TPP = 2 x MAC TOPS x bit length (max over precisions, dense)")
    ax.set_ylabel("performance density = TPP / die area (per mm2)")
    ax.set_title("(c) export-control metrics (ECCN 3A090, Oct 2023 rule)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="both", alpha=0.2)
    # (d) the cap frontier
    ax = axes[1, 1]
    for fam, mk in zip(FAMILIES, ["o", "s", "^", "D"]):
        sel = [r for r in front if r["family"] == fam and r["tokens_per_s"]]
        ax.plot([r["tpp_cap"] for r in sel], [r["tokens_per_s"] for r in sel], marker=mk, label=fam)
    for d in devs:
        if d["tokens_per_s"] and d["arch"] != "h800-sxm":
            ax.scatter([d["tpp_cap"]], [d["tokens_per_s"]], color=colors[d["arch"]], marker="*",
                       s=120, zorder=4, edgecolor="k", lw=0.5)
            ax.annotate("h100-sxm = h800-sxm" if d["arch"] == "h100-sxm" else d["arch"],
                        (d["tpp_cap"], d["tokens_per_s"]), fontsize=7.5,
                        xytext=(-95, -12) if d["arch"] == "h100-sxm" else (4, -10),
                        textcoords="offset points")
    for c in (1600, 2400, 4800):
        ax.axvline(c, color="grey", lw=0.7, ls=":")
        ax.annotate(f"TPP {c}", (c, 0.01), xycoords=("data", "axes fraction"), fontsize=7,
                    ha="right", va="bottom", color="grey", rotation=90)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("TPP cap (design must have TPP below it)")
    ax.set_ylabel(f"best decode tokens/s ({CAP_MODEL}, batch {CAP_BATCH}, ctx {CAP_CONTEXT})")
    ax.set_title("(d) best design under a TPP cap (stars: real devices at their TPP)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    fig.suptitle("Export-compliant and domestic accelerators (nmc model; serving: llama-3 8B/70B, "
                 "training: llama-2 7B/70B on 2T tokens)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    fig.savefig(Path(path).with_suffix(".svg"))
    plt.close(fig)


def _wrap(wl: str) -> str:
    return wl.replace(" (", "\n(").replace("train ", "train\n").replace("-heavy", "-\nheavy")


def run(quick: bool, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    perf = serving_rows(quick) + training_rows(quick)
    pol = policy_rows()
    front, devs = frontier_rows(quick)
    C.write_csv(perf, out / "export_compliant.csv")
    C.write_csv(pol, out / "export_policy.csv")
    C.write_csv(front + devs, out / "export_cap_frontier.csv")
    chart(perf, pol, front, devs, out / "export_compliant.png")
    # headline
    print(f"{'workload':34s} " + " ".join(f"{d:>12s}" for d in DEVICES))
    for wl in dict.fromkeys(r["workload"] for r in perf):
        vals = [next((r["vs_h100"] for r in perf if r["workload"] == wl and r["arch"] == d), None)
                for d in DEVICES]
        print(f"{wl:34s} " + " ".join(f"{v:12.2f}" if v else f"{'-':>12s}" for v in vals))
    print("\nexport-control metrics:")
    for r in pol:
        pd = f"{r['performance_density']:.2f}" if r["performance_density"] else "-"
        print(f"  {r['arch']:14s} TPP {r['tpp']:7.0f} ({r['tpp_precision']})  PD {pd:>6s}  {r['class']}")
    print(f"\nbest decode tokens/s under a TPP cap ({CAP_MODEL}, batch {CAP_BATCH}):")
    for r in front:
        if r["tokens_per_s"]:
            print(f"  cap {r['tpp_cap']:6.0f}  {r['family']:36s} {r['tokens_per_s']:8.0f} tok/s  "
                  f"TPP {r['tpp']:5.0f} = {r['compute_fraction']:.3f} x H100 on {r['n_cores']:3d} cores, "
                  f"{r['mem_bw_tb_s']:.2f} TB/s, "
                  f"PIM x{r['pim_multiplier']:g}")
    print(f"wrote {out}/export_compliant.csv, export_policy.csv, export_cap_frontier.csv, "
          f"export_compliant.png/.svg")
    return {"perf": perf, "policy": pol, "frontier": front, "devices": devs}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="8B serving only, small clusters, 3 caps")
    p.add_argument("--out", default="results/export_compliant", help="output folder")
    args = p.parse_args(argv)
    run(args.quick, Path(args.out))


if __name__ == "__main__":
    main()
