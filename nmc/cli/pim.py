"""`nmc pim`: derived figures of a near-memory preset and the host-vs-PIM crossover batch."""
from __future__ import annotations

from ..analysis.pim import crossover, pim_figures
from ..report.tables import render
from .common import add_model_args, add_wide, emit, model_spec


def cmd_pim(args) -> int:
    f = pim_figures(args.arch)
    if args.format == "text":
        print(f"{f['arch']}: {f['units']:.0f} PIM units over {f['banks']:.0f} banks")
        print(f"  external {f['external_bw'] / 1e12:.3g} TB/s   internal peak {f['internal_peak_bw'] / 1e12:.3g} TB/s"
              f"   effective (whole rows) {f['internal_eff_bw'] / 1e12:.3g} TB/s "
              f"({f['internal_over_external']:.1f}x external, {f['internal_over_host']:.1f}x host mem_bw)")
        def tb(x):
            return "-" if x == float("inf") else f"{x / 1e12:.3g} TB/s"
        print(f"  limits (whole rows): DRAM timing {tb(f['internal_timing_bw'])}   activation window "
              f"{tb(f['activation_limit_bw'])}   power budget {tb(f['power_limit_bw'])}   "
              f"-> limited by {f['limited_by']}")
        print(f"  PIM compute {f['pim_flops'] / 1e12:.3g} TFLOPS (16-bit)   ridge {f['pim_ridge_flop_per_byte']:.2f} FLOP/B"
              f"   batch reuse of a weight burst {f['batch_reuse']:.0f}")
        print(f"  capacity taken by the units {f['capacity_lost'] / 1e9:.3g} GB (usable "
              f"{f['usable_capacity'] / 1e9:.3g} GB)   PIM static power {f['pim_static_power']:.3g} W")
    if args.model:
        c = crossover(model_spec(args, args.model), args.arch, context=args.context)
        if args.format == "text":
            print()
            print(render(c["rows"], wide=args.wide))
            if c["crossover_batch"] is None:
                print("\nPIM weight GEMVs stay faster than the host over these batches")
            else:
                print(f"\ncrossover: from batch {c['crossover_batch']} the host runs the weight GEMMs "
                      f"faster; the PIM GEMVs there are {c['reason']}-bound")
        else:
            emit(c["rows"], args.format, wide=args.wide)
    elif args.format != "text":
        emit([f], args.format, wide=args.wide)
    return 0


def register(sub) -> None:
    q = sub.add_parser("pim", help="PIM preset: derived bandwidth/compute figures and the "
                                   "host-vs-PIM crossover batch (docs/nmc.md)")
    q.add_argument("--arch", required=True, help="PIM preset name or TOML path")
    add_model_args(q, required=False, help="also scan decode batches for the GEMV crossover")
    q.add_argument("--context", type=int, default=4096)
    q.add_argument("--format", default="text", choices=["text", "json", "csv"])
    add_wide(q)
    q.set_defaults(func=cmd_pim)
