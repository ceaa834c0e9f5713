"""Export-compliant parts at a service level: how many H20, H100, H800, A800, L20 or Ascend 910B
devices serve a request stream under an SLO, and at what cost and energy per million tokens
(issue 14, experiment 7a; docs/serving.md, "Experiments").

Two workloads, each at a target rate of `RATE` requests/s with the bundled `chat` trace's
lengths (prompt mean 576, output mean 253 tokens):
  * dense: llama-3-70b in BF16 on every part, SLO p90 TTFT <= 2 s and p99 TPOT <= 50 ms;
    layouts tp in {1, 2, 4, 8} x pp in {1, 2} x max batch {64, 128, 256}, chunked prefill
    (token budget 2048);
  * MoE: deepseek-r1 (DeepSeek-V3 architecture, 671B, 37B active) in FP8 where the part has
    FP8 units (H20, H100, H800, L20) and BF16 where it does not (A800, 910B), KV cache BF16;
    SLO p90 TTFT <= 2 s and p99 TPOT <= 100 ms; expert parallelism as DeepSeek/SGLang deploy it:
    ep data-parallel attention groups of tp devices, tp in {4, 8} x ep in {2, 4, 8} (8 to 64
    devices, so 1 to 8 nodes of 8), max batch per group {32, 64, 128}, token budget 4096.
For each part the capacity search (nmc.serving.search.capacity_search) finds the fewest devices
meeting the SLO at the rate; the winner is then run as a whole fleet at the target rate (the
search's check), and its energy and cost per million output tokens are that run's. Cost needs a
price per device-hour: only h100-sxm carries a sourced one (AWS capacity blocks, 4.916 USD/h);
the others have none (docs/serving.md), so their cost is left out, not guessed. Energy counts
every device's static power for the whole run plus the dynamic energy of every pass.

Writes serving_export.csv (one row per part and workload) and serving_export.png/.svg.

    python experiments/serving_export.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

from pathlib import Path

from . import common as C
from ...arch.loader import load_arch
from ...errors import NmcError
from ...serving.search import Layout, capacity_search

NAME = "serving_export"
PARTS = ["h100-sxm", "h800-sxm", "h20", "a800-80g-sxm", "l20", "ascend-910b"]
LABELS = {"h100-sxm": "H100", "h800-sxm": "H800", "h20": "H20", "a800-80g-sxm": "A800",
          "l20": "L20", "ascend-910b": "910B"}
RATE = 20.0
TRACE = "chat"
WORKLOADS = {
    "dense": dict(model="llama-3-70b", slo=(2.0, 0.05), title="Llama-3-70B BF16"),
    "moe": dict(model="deepseek-r1", slo=(2.0, 0.10), title="DeepSeek-R1 (V3 arch.) FP8/BF16"),
}


def dtype_of(arch: str, workload: str) -> str:
    """BF16 for the dense model; FP8 for the MoE where the part has FP8 units."""
    if workload == "dense":
        return "bf16"
    return "fp8" if load_arch(arch)["peak_fp8"] > 0 else "bf16"


def candidates(arch: str, workload: str, quick: bool) -> list[Layout]:
    if workload == "dense":
        tps, pps, mbs = ((4, 8), (1, 2), (128, 256)) if quick else ((1, 2, 4, 8), (1, 2),
                                                                     (64, 128, 256))
        return [Layout(arch, tp, pp, "chunked", mb, 2048) for tp in tps for pp in pps
                for mb in mbs]
    tps, eps, mbs = ((4, 8), (2, 4, 8), (64,)) if quick else ((4, 8), (2, 4, 8), (32, 64, 128))
    return [Layout(arch, tp, 1, "chunked", mb, 4096, ep=ep) for tp in tps for ep in eps
            for mb in mbs]


def run_one(arch: str, workload: str, quick: bool) -> dict:
    w = WORKLOADS[workload]
    dt = dtype_of(arch, workload)
    extra = dict(weights=dt, activations=dt, kv="bf16")
    row = {"workload": workload, "model": w["model"], "arch": arch, "part": LABELS[arch],
           "dtype": dt, "rate": RATE, "slo_ttft_s": w["slo"][0], "slo_tpot_s": w["slo"][1]}
    try:
        res = capacity_search(w["model"], [arch], rate=RATE, slo_ttft=w["slo"][0],
                              slo_tpot=w["slo"][1], n_requests=300 if quick else 1000,
                              trace=TRACE, steps=4 if quick else 7,
                              candidates=candidates(arch, workload, quick), extra=extra,
                              threads=2)
    except NmcError as e:
        row.update(feasible=False, reason=str(e))
        return row
    b, v = res.best, res.verify
    price = load_arch(arch)["price_per_hour"]
    row.update(feasible=True, devices=b["devices"], layout=b["label"], units=b["units"],
               devices_per_unit=b["devices_per_unit"], rate_per_device=RATE / b["devices"],
               ttft_p90_s=v["ttft_p90_s"], tpot_p99_s=v["tpot_p99_s"],
               meets_slo_whole_fleet=v["meets_slo"],
               mj_per_million_tokens=v["energy_per_token_j"],   # J/token = MJ per 1e6 tokens
               usd_per_million_tokens=v["cost_per_million_tokens"],
               price_per_hour=price if price > 0 else None,
               layouts=len(res.rows), feasible_layouts=sum(r["feasible"] for r in res.rows),
               simulations=res.simulations, search_s=res.seconds)
    return row


def run(quick: bool, out: Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for workload in WORKLOADS:
        for arch in PARTS:
            r = run_one(arch, workload, quick)
            rows.append(r)
            if r["feasible"]:
                C.say(f"{workload:5s} {r['part']:5s} {r['dtype']}: {r['devices']:3d} devices "
                      f"({r['layout']} x {r['units']}), p90 TTFT {r['ttft_p90_s']:.2f} s, "
                      f"p99 TPOT {1e3 * r['tpot_p99_s']:.0f} ms, "
                      f"{r['mj_per_million_tokens']:.2f} MJ/Mtok"
                      + (f", {r['usd_per_million_tokens']:.2f} USD/Mtok"
                         if r["usd_per_million_tokens"] is not None else ""))
            else:
                C.say(f"{workload:5s} {r['part']:5s}: no layout meets the SLO ({r['reason']})")
    C.write_csv(rows, out / f"{NAME}.csv")
    figs = figure(rows, out, quick)
    C.say("wrote " + ", ".join(map(str, [out / f"{NAME}.csv", *figs])))
    h = headline(rows)
    h["figures"] = figs
    return h


def headline(rows: list[dict]) -> dict:
    h = {"rate": RATE, "slo": {k: w["slo"] for k, w in WORKLOADS.items()}, "parts": {}}
    for r in rows:
        h["parts"].setdefault(r["workload"], {})[r["part"]] = (
            {k: r.get(k) for k in ("devices", "layout", "dtype", "mj_per_million_tokens",
                                   "usd_per_million_tokens")} if r["feasible"] else None)
    return h


def figure(rows: list[dict], out: Path, quick: bool) -> list[Path]:
    import matplotlib.pyplot as plt
    metrics = [("devices", "devices at the rate (log); p99 TPOT", "{:.0f}"),
               ("usd_per_million_tokens", "USD per million output tokens", "{:.2f}"),
               ("mj_per_million_tokens", "MJ per million output tokens (= J/token)", "{:.2f}")]
    fig, axes = plt.subplots(len(WORKLOADS), 3, figsize=(14, 7.5))
    for i, (wk, w) in enumerate(WORKLOADS.items()):
        rs = {r["arch"]: r for r in rows if r["workload"] == wk}
        for j, (key, label, f) in enumerate(metrics):
            ax = axes[i, j]
            vals = [rs[a].get(key) if rs[a]["feasible"] else None for a in PARTS]
            top = max([v for v in vals if v is not None] or [1.0])
            for k, (a, v) in enumerate(zip(PARTS, vals)):
                if v is None:
                    why = "no price" if rs[a]["feasible"] else "misses SLO"
                    hgt = 3.0 if key == "devices" else top * 0.15
                    ax.bar(k, hgt, color="white", edgecolor="grey", hatch="//")
                    ax.text(k, hgt * (1.1 if key == "devices" else 1.0) + top * 0.02 * (
                        key != "devices"), why, ha="center", va="bottom", fontsize=7,
                        rotation=90, color="grey")
                    continue
                ax.bar(k, v, color=f"C{k}")
                txt = f.format(v)
                if key == "devices":                    # the unit: tp [x ep] [x pp]
                    r = rs[a]
                    unit = r["layout"].split(" chunked")[0].split(" ", 1)[1]
                    txt += f"\n{r['units']} x {unit}\nTPOT {1e3 * r['tpot_p99_s']:.0f} ms"
                ax.text(k, v, txt, ha="center", va="bottom", fontsize=7)
            ax.set_xticks(range(len(PARTS)))
            ax.set_xticklabels([f"{LABELS[a]}\n{dtype_of(a, wk).upper()}" for a in PARTS],
                               fontsize=8)
            ax.set_ylabel(label, fontsize=9)
            if j == 0:
                ax.set_title(f"{w['title']}: {RATE:g} req/s chat, p90 TTFT <= {w['slo'][0]:g} s,"
                             f" p99 TPOT <= {1e3 * w['slo'][1]:g} ms", fontsize=9, loc="left")
            if key == "devices":
                ax.set_yscale("log")
                ax.set_ylim(1, top * 8)
            else:
                ax.set_ylim(0, top * 1.18)
    fig.suptitle("Export-compliant parts at an SLO (nmc.serve capacity search; cost only where a "
                 "sourced price per device-hour exists)", fontsize=10)
    fig.tight_layout()
    return C.save(fig, out / f"{NAME}.png", svg=not quick)
