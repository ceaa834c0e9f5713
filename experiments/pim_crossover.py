"""Where does near-memory compute stop paying for LLM decode, and what moves the limit?

llama-2-70b decode (context 4096, bf16) on h100+hbm3-pim (an H100 whose HBM3 stacks carry
AttAcc-style bank-level GEMV units), batch 1..256. Left: tokens/s under each mapping policy
(host-only = the plain H100). Right: weight-GEMM speed-up of PIM over the host (pim-gemv vs
host-only) as the PIM unit FLOP/s and the batch-reuse buffer change; the crossover (speed-up 1)
moves with PIM compute while the GEMVs are compute-bound, and with the buffer once they are
memory-bound. Writes results/pim_crossover/{pim_crossover.csv, pim_crossover.png}.

    python experiments/pim_crossover.py [--out results/pim_crossover]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nmc.analysis.pim import crossover
from nmc.sweeps import sweep

MODEL, ARCH, CONTEXT = "llama-2-70b", "h100+hbm3-pim", 4096
BATCHES = [1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256]
MAPPINGS = ["host-only", "pim-gemv", "pim-attention", "auto"]
VARIANTS = [("5.2 GFLOPS/bank", {"pim_unit_flops": "5.2 GFLOPS"}),
            ("10.4 GFLOPS/bank (AttAcc)", {}),
            ("20.8 GFLOPS/bank", {"pim_unit_flops": "20.8 GFLOPS"}),
            ("83 GFLOPS/bank, 8-vector buffer", {"pim_unit_flops": "83 GFLOPS"}),
            ("83 GFLOPS/bank, 1-vector buffer", {"pim_unit_flops": "83 GFLOPS", "pim_buffer": "64 B"})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/pim_crossover")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t = sweep(MODEL, ARCH, {"mapping": MAPPINGS, "batch": BATCHES}, phase="decode", context=CONTEXT)
    rows = []
    for i in range(len(t)):
        rows.append({"panel": "policy", "variant": t["mapping"][i], "batch": int(t["batch"][i]),
                     "tokens_per_s": float(t["tokens_per_s"][i]), "gemm_speedup": "",
                     "pim_bound": ""})
    crosses = {}
    for label, kw in VARIANTS:
        c = crossover(MODEL, ARCH, BATCHES, context=CONTEXT, **kw)
        crosses[label] = c
        for r in c["rows"]:
            rows.append({"panel": "crossover", "variant": label, "batch": r["batch"],
                         "tokens_per_s": r["pim_gemv_tokens_per_s"],
                         "gemm_speedup": r["pim_speedup"], "pim_bound": r["pim_bound"]})
    with open(out / "pim_crossover.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for m in MAPPINGS:
        xs = [r["batch"] for r in rows if r["panel"] == "policy" and r["variant"] == m]
        ys = [r["tokens_per_s"] for r in rows if r["panel"] == "policy" and r["variant"] == m]
        a1.plot(xs, ys, marker="o", ms=3, label=m + (" (= h100-sxm)" if m == "host-only" else ""))
    a1.set(xscale="log", yscale="log", xlabel="batch", ylabel="tokens/s",
           title=f"{MODEL} decode, context {CONTEXT}, {ARCH}")
    a1.grid(True, which="both", alpha=0.3)
    a1.legend(fontsize=8)
    for label, c in crosses.items():
        xs = [r["batch"] for r in c["rows"]]
        ys = [r["pim_speedup"] for r in c["rows"]]
        cb = c["crossover_batch"]
        a2.plot(xs, ys, marker="o", ms=3,
                label=f"{label}: crossover {cb} ({c['reason']})" if cb else f"{label}: none")
    a2.axhline(1.0, color="k", lw=1, ls="--")
    a2.set(xscale="log", yscale="log", xlabel="batch", ylabel="weight-GEMM time host / PIM",
           title="where PIM GEMV stops paying")
    a2.grid(True, which="both", alpha=0.3)
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "pim_crossover.png", dpi=140)
    for label, c in crosses.items():
        print(f"{label:34s} crossover batch {c['crossover_batch']} ({c['reason']}-bound PIM GEMVs)")
    print(f"wrote {out / 'pim_crossover.csv'}, {out / 'pim_crossover.png'}")


if __name__ == "__main__":
    main()
