"""`nmc policy`: export-control metrics of presets (TPP, performance density, ECCN 3A090 class)
and the best design under a TPP / density cap (nmc.arch.export, nmc.analysis.policy, docs/policy.md).

    nmc policy --arch h100-sxm,h20,ascend-910b
    nmc policy --cap 4800 --model llama-3-8b [--pd-cap 5.92] [--base h100+hbm3-pim] [--batch 64]
"""
from __future__ import annotations

from ..analysis.policy import best_design_under_cap
from ..arch import export
from ..errors import NmcError
from ..report.tables import render, wrap
from .common import add_model_args, add_wide, emit, floats, model_spec, names

CLASS_COLS = ["arch", "tpp", "tpp_precision", "die_area_mm2", "performance_density", "class"]
DESIGN_COLS = ["compute_fraction", "n_cores", "peak_bf16_tflops", "mem_bw_tb_s", "pim_multiplier",
               "pim_tflops", "tpp", "performance_density", "class", "tokens_per_s", "ttft_s", "bound"]


def cmd_policy(args) -> int:
    if not args.arch and args.cap is None:
        raise NmcError("nmc policy needs --arch a,b (metrics table) or --cap TPP --model M "
                       "(best design under the cap)")
    if args.die_area is not None and not args.die_area > 0:
        raise NmcError(f"--die-area must be > 0 (mm2), got {args.die_area:g}")
    if args.arch:
        rows = [export.classify(a) for a in names(args.arch, "arch")]
        for r in rows:
            r["rule"] = "3A090 (88 FR 73458)"
        emit(rows, args.format, CLASS_COLS, wide=args.wide)
        if args.format == "text":
            print("\n" + wrap("thresholds: " + "; ".join(f"{k}: {v}" for k, v in
                                                        export.THRESHOLDS.items())))
            print(wrap("source: " + export.SOURCE))
    if args.cap is not None:
        if not args.model:
            raise NmcError("--cap needs --model (the model whose decode tokens/s is maximised)")
        pim = floats(args.pim, "pim")
        r = best_design_under_cap(model_spec(args, args.model), args.cap, pd_cap=args.pd_cap, arch=args.base,
                                         pim=pim, cores=args.cores.split(","),
                                         batch=args.batch, context=args.context,
                                         tp=args.tp, weights=args.weights, top=args.top,
                                         prompt=args.prompt, ttft_max=args.ttft_max,
                                         die_area=args.die_area,
                                         pim_counts=not args.pim_exempt)
        if args.format != "text":
            emit(r["rows"], args.format, DESIGN_COLS, wide=args.wide)
            return 0
        if args.arch:
            print()
        a = r["assumptions"]
        print(wrap(f"{r['model']} decode, batch {a['batch']}, context {a['context']}, tp {a['tp']}, "
              f"designs derived from {r['arch']} (die {a['die_area_mm2']:g} mm2); cap TPP < "
              f"{r['tpp_cap']:g}" + (f", PD < {r['pd_cap']:g}" if r["pd_cap"] else "")
              + (", PIM TOPS counted in TPP" if a["pim_counts_in_tpp"] else ", PIM TOPS exempt")
              + (f", TTFT <= {r['ttft_max']:g} s ({a['prompt']}-token prompt)" if r["ttft_max"] else "")))
        print(f"{r['n_feasible']} of {r['n_points']} designs under the cap\n")
        print(render(r["rows"], DESIGN_COLS, wide=args.wide))
        if r["best"] and r["reference"]:
            b, ref = r["best"], r["reference"]
            print(f"\nbest: {b['tokens_per_s']:.4g} tokens/s = {b['tokens_per_s'] / ref['tokens_per_s']:.2f}x "
                  f"the uncapped {r['arch']} ({ref['tokens_per_s']:.4g} tokens/s, TPP {ref['tpp']:.0f})")
        elif not r["best"]:
            print("\nno design in the grid is under the cap")
    return 0


def register(sub) -> None:
    q = sub.add_parser("policy", help="export-control metrics (TPP, density, 3A090 class) and "
                                      "the best design under a TPP cap (docs/policy.md)")
    q.add_argument("--arch", help="comma-separated presets: TPP / PD / class table")
    q.add_argument("--cap", type=float, help="TPP cap: search designs with TPP below it")
    q.add_argument("--pd-cap", type=float, help="performance-density cap (TPP/mm2) as well")
    q.add_argument("--die-area", type=float, help="die area in mm2 for the density (default: "
                                                   "the base preset's)")
    add_model_args(q, required=False, help="model whose decode tokens/s the search maximises")
    q.add_argument("--base", default="h100+hbm3-pim",
                   help="preset the designs are derived from (default h100+hbm3-pim)")
    q.add_argument("--pim", default="0,1,2,4",
                   help="PIM unit-rate multipliers to try (0 = no PIM), default 0,1,2,4")
    q.add_argument("--pim-exempt", action="store_true",
                   help="do not count the PIM units' TOPS in the TPP (they sit on DRAM dies)")
    q.add_argument("--cores", default="fixed,scaled",
                   help="cut compute by lowering the rate per core (fixed), fusing off cores "
                        "(scaled) or both (default)")
    q.add_argument("--batch", type=int, default=64)
    q.add_argument("--context", type=int, default=2048)
    q.add_argument("--tp", type=int, default=1)
    q.add_argument("--prompt", type=int, default=2048, help="prompt tokens of the TTFT check")
    q.add_argument("--ttft-max", type=float, help="also require time to first token <= this (s)")
    q.add_argument("--weights", default="bf16")
    q.add_argument("--top", type=int, default=10)
    q.add_argument("--format", default="text", choices=["text", "json", "csv"])
    add_wide(q)
    q.set_defaults(func=cmd_policy)

