"""Where does near-memory compute stop paying for LLM decode, and what moves the limit?

llama-2-70b decode (context 4096, bf16) on h100+hbm3-pim (an H100 whose HBM3 stacks carry
AttAcc-style bank-level GEMV units), batch 1..256. Left: tokens/s under each mapping policy
(host-only = the plain H100). Right: weight-GEMM speed-up of PIM over the host (pim-gemv vs
host-only) as the PIM unit FLOP/s and the batch-reuse buffer change; the crossover (speed-up 1)
moves with PIM compute while the GEMVs are compute-bound, and with the buffer once they are
memory-bound. Writes results/pim_crossover/{pim_crossover.csv, pim_crossover.png}.

    python experiments/pim_crossover.py [--quick] [--out results/pim_crossover] [--docs]

--quick: five batch sizes and three PIM variants (seconds). Points whose model does not fit in
memory are drawn hollow (their speed is what it would be if it did).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from _common import parse_args, to_docs  # noqa: E402

from nmc.analysis.pim import crossover  # noqa: E402
from nmc.sweeps import sweep  # noqa: E402

MODEL, ARCH, CONTEXT = "llama-2-70b", "h100+hbm3-pim", 4096
BATCHES = [1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256]
MAPPINGS = ["host-only", "pim-gemv", "pim-attention", "auto"]
VARIANTS = [("5.2 GFLOPS/bank", {"pim_unit_flops": "5.2 GFLOPS"}),
            ("10.4 GFLOPS/bank (AttAcc)", {}),
            ("20.8 GFLOPS/bank", {"pim_unit_flops": "20.8 GFLOPS"}),
            ("83 GFLOPS/bank, 8-vector buffer", {"pim_unit_flops": "83 GFLOPS"}),
            ("83 GFLOPS/bank, 1-vector buffer", {"pim_unit_flops": "83 GFLOPS", "pim_buffer": "64 B"})]


QUICK_BATCHES = [1, 4, 16, 64, 256]


def main(argv=None) -> int:
    args = parse_args("pim_crossover", __doc__, argv)
    out = Path(args.out)
    batches = QUICK_BATCHES if args.quick else BATCHES
    variants = [VARIANTS[0], VARIANTS[1], VARIANTS[3]] if args.quick else VARIANTS
    t = sweep(MODEL, ARCH, {"mapping": MAPPINGS, "batch": batches}, phase="decode", context=CONTEXT)
    rows = []
    for i in range(len(t)):
        rows.append({"panel": "policy", "variant": t["mapping"][i], "batch": int(t["batch"][i]),
                     "tokens_per_s": float(t["tokens_per_s"][i]), "gemm_speedup": "",
                     "pim_bound": "", "fits": bool(t["fits"][i])})
    crosses = {}
    for label, kw in variants:
        c = crossover(MODEL, ARCH, batches, context=CONTEXT, **kw)
        crosses[label] = c
        for r in c["rows"]:
            rows.append({"panel": "crossover", "variant": label, "batch": r["batch"],
                         "tokens_per_s": r["pim_gemv_tokens_per_s"],
                         "gemm_speedup": r["pim_speedup"], "pim_bound": r["pim_bound"],
                         "fits": ""})
    with open(out / "pim_crossover.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    unfit = False
    for m in MAPPINGS:
        pts = [r for r in rows if r["panel"] == "policy" and r["variant"] == m]
        line, = a1.plot([r["batch"] for r in pts], [r["tokens_per_s"] for r in pts], lw=1,
                        label=m + (" (= h100-sxm)" if m == "host-only" else ""))
        for r in pts:        # filled: fits in memory; hollow: would not fit (speed if it did)
            a1.plot(r["batch"], r["tokens_per_s"], "o", ms=4, color=line.get_color(),
                    mfc=line.get_color() if r["fits"] else "none")
            unfit |= not r["fits"]
    a1.set(xscale="log", yscale="log", xlabel="batch (sequences)", ylabel="tokens/s",
           title=f"{MODEL} decode, bf16, context {CONTEXT}, tp 1, {ARCH}"
           + ("\nhollow: does not fit in memory (speed as if it did)" if unfit else ""))
    a1.grid(True, which="both", alpha=0.3)
    a1.legend(fontsize=8)
    for label, c in crosses.items():
        xs = [r["batch"] for r in c["rows"]]
        ys = [r["pim_speedup"] for r in c["rows"]]
        cb = c["crossover_batch"]
        a2.plot(xs, ys, marker="o", ms=3,
                label=f"{label}: crossover {cb} ({c['reason']})" if cb else f"{label}: none")
    a2.axhline(1.0, color="k", lw=1, ls="--")
    a2.set(xscale="log", yscale="log", xlabel="batch (sequences)",
           ylabel="weight-GEMM time, host / PIM (x)",
           title="where PIM GEMV stops paying (above 1: PIM faster)")
    a2.grid(True, which="both", alpha=0.3)
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "pim_crossover.png", dpi=140)
    plt.close(fig)
    for label, c in crosses.items():
        print(f"{label:34s} crossover batch {c['crossover_batch']} ({c['reason']}-bound PIM GEMVs)")
    print(f"wrote {out / 'pim_crossover.csv'}, {out / 'pim_crossover.png'}")
    if args.docs:
        print("docs: " + str(to_docs(out / "pim_crossover.png", "pim_crossover")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
