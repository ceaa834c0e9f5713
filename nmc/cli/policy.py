"""`nmc policy`: the US export-control rules on AI accelerators evaluated for presets (Oct 2022,
Oct 2023, Dec 2024, Apr 2025, Jan 2026: status, paragraph, margin to each threshold, the rule a
part was designed around) and the best design under a TPP / density cap (nmc.arch.export,
nmc.arch.export_rules, nmc.analysis.policy, docs/policy.md).

    nmc policy                                  the default parts (export_rules.POLICY_PARTS)
    nmc policy --arch h100-sxm,h20,ascend-910b [--format json|csv] [--host-io 128]
    nmc policy --cap 4800 --model llama-3-8b [--pd-cap 5.92] [--base h100+hbm3-pim] [--batch 64]
"""
from __future__ import annotations

import json

from ..analysis.policy import best_design_under_cap
from ..arch import export
from ..arch.export_rules import POLICY_PARTS, RULES
from ..errors import NmcError
from ..report.tables import render, to_csv, wrap
from .common import add_model_args, add_wide, emit, floats, model_spec, names

CLASS_COLS = ["arch", "tpp", "tpp_precision", "die_area_mm2", "performance_density", "class"]
SUMMARY_COLS = ["arch", "tpp", "tpp_precision", "die_area_mm2", "pd", "io_bw_gbs", "mem_bw_gbs"] + \
    [r.key for r in RULES] + ["designed_around"]
MARGIN_COLS = ["arch", "rule", "name", "outcome", "paragraph", "threshold", "line", "value", "limit",
               "margin_pct", "meets", "reference"]
DESIGN_COLS = ["compute_fraction", "n_cores", "peak_bf16_tflops", "mem_bw_tb_s", "pim_multiplier",
               "pim_tflops", "tpp", "performance_density", "class", "tokens_per_s", "ttft_s", "bound"]


def _summary_row(e: dict) -> dict:
    m, da = e["metrics"], e["designed_around"]
    row = {"arch": e["arch"], "tpp": m["tpp"], "tpp_precision": m["tpp_precision"],
           "die_area_mm2": m["die_area_mm2"], "pd": m["pd"], "io_bw_gbs": m["io_bw"],
           "mem_bw_gbs": m["mem_bw"]}
    for r in e["rules"]:
        row[r["rule"]] = r["paragraph"] if r["controlled"] and r["paragraph"] not in (None, "named") \
            and r["paragraph"].startswith("3A090") else r["outcome"]
    row["designed_around"] = (f"{da['rule']} {da['threshold']} {abs(da['margin_pct']):.1f}% under"
                              if da["rule"] else "-")
    return row


def _print_rules(report: dict) -> None:
    print(render([_summary_row(e) for e in report["parts"]], SUMMARY_COLS))
    print("\nrule keys: " + "; ".join(f"{r.key} = {r.name}" for r in RULES))
    for e in report["parts"]:
        m = e["metrics"]
        pd = f"PD {m['pd']:.3g} ({m['die_area_mm2']:g} mm2)" if m["pd"] else "PD unknown (die area unknown)"
        print(f"\n{e['arch']} ({e['vendor']}, {e['year']}): TPP {m['tpp']:.0f} ({m['tpp_precision']}), "
              f"{pd}, I/O {m['io_bw']:.0f} GB/s, memory {m['mem_bw']:.0f} GB/s ({m['mem_type']})")
        for r in e["rules"]:
            print(f"  {r['name']}: {r['status']}")
            for t in r["margins"]:
                if t["value"] is None:
                    txt = "unknown"
                else:
                    side = "at the line" if t["side"] == "at" else f"{abs(t['margin_pct']):.2f} % {t['side']}"
                    txt = f"{t['value']:>9.5g}  {side}"
                ref = "  (reference line)" if t["reference"] else ""
                print(f"      {t['line']:28s} {txt}{ref}")
        da = e["designed_around"]
        print("  designed around: " + (f"{da['name']}: {da['reason']}"
                                       if da["rule"] else f"- ({da['reason']})"))


def _margin_rows(report: dict) -> list[dict]:
    return [{"arch": e["arch"], "rule": r["rule"], "name": r["name"], "outcome": r["outcome"],
             "paragraph": r["paragraph"], "threshold": t["threshold"], "line": t["line"],
             "value": t["value"], "limit": t["limit"], "margin_pct": t["margin_pct"],
             "meets": t["meets"], "reference": t["reference"]}
            for e in report["parts"] for r in e["rules"] for t in r["margins"]]


def cmd_policy(args) -> int:
    if args.die_area is not None and not args.die_area > 0:
        raise NmcError(f"--die-area must be > 0 (mm2), got {args.die_area:g}")
    parts = names(args.arch, "arch") if args.arch else []
    if not parts and args.cap is None:
        parts = list(POLICY_PARTS)
    report = export.policy_report(parts, host_io_gbs=args.host_io) if parts else None
    if report is not None and args.cap is None:
        if args.format == "json":
            print(json.dumps(report, indent=1, default=str))
        elif args.format == "csv":
            print(to_csv(_margin_rows(report), MARGIN_COLS), end="")
        else:
            _print_rules(report)
        return 0
    if report is not None and args.format == "text":
        _print_rules(report)
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
        if args.format == "json" and report is not None:
            print(json.dumps(dict(report, designs=r["rows"]), indent=1, default=str))
            return 0
        if args.format != "text":
            emit(r["rows"], args.format, DESIGN_COLS, wide=args.wide)
            return 0
        if report is not None:
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
    q = sub.add_parser("policy", help="US export-control rules (2022-2026) per part: status, "
                                      "margins, the rule it was designed around; the best design "
                                      "under a TPP cap (docs/policy.md)")
    q.add_argument("--arch", help="comma-separated presets: every rule with status and margins "
                                  "(default without --cap: " + ",".join(POLICY_PARTS) + ")")
    q.add_argument("--host-io", type=float, default=0.0,
                   help="GB/s (bidirectional) of the PCIe host link to add to the I/O of the Oct "
                        "2022 rule and the Apr 2025 letter (default 0: scale-up link only)")
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

