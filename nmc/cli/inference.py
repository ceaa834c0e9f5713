"""`nmc list | analyze | compare | roofline`: one model on one or more architectures."""
from __future__ import annotations

import sys

from ..analysis import aimc
from ..analysis.inference import analyze
from .. import units
from ..arch.loader import list_archs, load_arch
from ..arch.schema import PARAMS
from ..errors import NmcError
from ..report.summary import OP_COLS, compare_columns, summary_row
from ..report.tables import render, to_csv, to_json
from ..workload.model import list_models, load_model
from .common import add_scenario_args, add_wide, check_outputs, emit, ints, model_spec, names, scenario_kw


# the SI unit of each parameter kind (nmc.units), as `nmc list params` prints it
KIND_UNITS = {"flops": "FLOP/s", "bw": "B/s", "bytes": "B", "time": "s", "power": "W",
              "energy_flop": "J/FLOP", "energy_byte": "J/B", "area": "mm2", "count": "",
              "fraction": "", "freq": "Hz", "energy": "J", "price": "USD/h"}


def _g(x: float) -> str:
    """1e+06 -> 1e6: a bound as a person writes it."""
    return f"{x:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def param_rows() -> list[dict]:
    """Every architecture parameter (nmc.arch.schema): name, section, unit, default, range, doc;
    the values in SI numbers (raw for --format csv/json; the text table adds prefixes)."""
    from ..arch.loader import is_integer_param
    rows = []
    for p in PARAMS:
        rng = (f"> {_g(p.lo)}" if p.lo_open else f">= {_g(p.lo)}") + (
            "" if p.hi == float("inf") else f", <= {_g(p.hi)}")
        if is_integer_param(p):
            rng += ", whole"
        rows.append({"name": p.name, "section": p.section, "unit": KIND_UNITS.get(p.kind, p.kind),
                     "default": p.default, "range": rng, "doc": p.doc})
    return rows


def add_band_arg(p) -> None:
    p.add_argument("--band", action="store_true",
                   help="also evaluate the preset's uncertainty bands through the sweep kernel: "
                        "low (pessimistic) and high (optimistic) end of every result; JSON gets "
                        "band: {low, high} and band_info (docs/bands.md)")


def cmd_list(args) -> int:
    if args.what == "params":
        rows = param_rows()
        if args.format == "text":
            shown = [dict(r, default="required" if r["default"] is None else
                          (units.fmt(r["default"], r["unit"]).strip() if r["unit"] and r["default"]
                           else _g(r["default"]))) for r in rows]
            emit(shown, args.format, wide=args.wide)
        else:
            emit(rows, args.format, wide=args.wide)
        return 0
    if args.what == "models":
        rows = []
        for n in list_models():
            s = load_model(n)
            rows.append({"name": n, "family": s.family, "layers": s.n_layers, "d_model": s.d_model,
                         "heads": s.n_heads, "kv_heads": s.n_kv_heads,
                         "params_B": s.params() / 1e9, "active_B": s.params(active=True) / 1e9})
    else:
        rows = []
        for n in list_archs():
            a = load_arch(n)
            rows.append({"name": n, "family": a.family,
                         "bf16_TFLOPS": a["peak_bf16"] / 1e12,
                         "mem": a.text.get("mem_type", ""), "mem_GB": a["mem_capacity"] / 1e9,
                         "mem_TB_s": a["mem_bw"] / 1e12, "link_GB_s": a["link_bw"] / 1e9,
                         "summary": a.meta.get("summary", "")})
    emit(rows, args.format, wide=args.wide)
    return 0


def cmd_analyze(args) -> int:
    batch = ints(args.batch, "batch")
    if len(batch) != 1:
        raise NmcError("analyze takes one --batch; use `nmc compare` for several")
    r = analyze(model_spec(args, args.model, announce=False), args.arch, band=args.band,
                **scenario_kw(args, batch[0]))
    if args.format == "json":
        print(to_json(r.to_dict()))
        return 0
    if args.format == "csv":
        sys.stdout.write(to_csv(r.ops, OP_COLS))
        return 0
    s = summary_row(r)
    sc = r.scenario
    lengths = {"decode": f"context {sc.context}", "prefill": f"prompt {sc.prompt}",
               "generate": f"prompt {sc.prompt}, generate {sc.generate}"}[sc.phase]
    print(f"{r.model.name} on {r.arch.name}: {sc.phase}, batch {sc.batch}, {lengths}, tp {sc.tp}")
    print(f"  weights {sc.weights}, activations {sc.activations}, kv {sc.kv}, runtime "
          f"{sc.runtime}, mapping {sc.mapping}")
    print(f"  params {r.model.params() / 1e9:.2f} B (active {r.model.params(active=True) / 1e9:.2f} B)")
    print(f"  latency {s['latency_ms']:.4g} ms   tokens/s {s['tokens_per_s']:.4g}   "
          f"energy/token {s['energy_per_token_mj']:.4g} mJ")
    if s["ttft_ms"] is not None and sc.phase == "generate":
        print(f"  TTFT {s['ttft_ms']:.4g} ms   TPOT {s['tpot_ms'] or float('nan'):.4g} ms")
    print(f"  memory {s['memory_gb']:.3g} GB per device "
          f"(weights {r.results['weight_bytes'] / 1e9:.3g}, KV {r.results['kv_bytes'] / 1e9:.3g}, "
          f"activations {r.results['activation_bytes'] / 1e9:.3g}); fits: {'yes' if s['fits'] else 'NO'}; "
          f"max batch at this length: {s['max_batch']}")
    print("  bound: " + r.bound + "  (" + ", ".join(f"{k} {v:.1%}" for k, v in r.bound_shares.items()) + ")")
    for line in aimc.describe(r):
        print(line)
    for line in band_lines(r):
        print(line)
    for w in r.warnings:
        print(f"  warning: {w}")
    print()
    rows = [{**o, "time_us": o["time_s"] * 1e6, "GFLOP": o["flops"] / 1e9,
             "MB": o["dram_bytes"] / 1e6} for o in r.ops]
    print(render(rows, ["name", "kind", "phase", "count", "M", "N", "K", "GFLOP", "MB",
                        "intensity", "time_us", "share", "bound", "engine"], wide=args.wide))
    return 0


BAND_COLS = ("tokens_per_s", "latency_ms", "energy_per_token_mj")


def band_lines(r) -> list[str]:
    """`nmc analyze --band` text lines: low .. central .. high of the headline figures, the
    method and the parameters that drive the band (docs/bands.md)."""
    if r.band is None:
        return []
    info = r.band_info
    lo, hi, c = summary_row(r.band_end("low")), summary_row(r.band_end("high")), summary_row(r)
    out = [f"  band ({len(info['params'])} banded parameters, {info['method']}, "
           f"{info['points']} kernel points; low = pessimistic, high = optimistic end):"]
    for k, name in (("tokens_per_s", "tokens/s"), ("latency_ms", "latency ms"),
                    ("energy_per_token_mj", "energy/token mJ")):
        out.append(f"    {name:<16} low {lo[k]:.4g}   central {c[k]:.4g}   high {hi[k]:.4g}")
    drv = info["drivers"].get("tokens_per_s", [])[:4]
    if drv:
        out.append("    tokens/s driven by: " + ", ".join(
            f"{d['param']} ({d['pessimistic_end']} end pessimistic, swing {d['swing'] * 100:.3g} %)"
            for d in drv))
    return out


def _reports(args, band: bool = False):
    out = []
    for model in [model_spec(args, m) for m in names(args.model, "model")]:
        for arch in names(args.arch, "arch"):
            for b in ints(args.batch, "batch"):
                out.append(analyze(model, arch, band=band, **scenario_kw(args, b)))
    return out


def cmd_compare(args) -> int:
    check_outputs(args, output="compare.png")
    reps = _reports(args, band=args.band)
    rows = [summary_row(r) for r in reps]
    cols = compare_columns(rows)
    if args.band:
        for row, r in zip(rows, reps):
            ends = {e: summary_row(r.band_end(e)) for e in ("low", "high")}
            if args.format == "json":
                row["band"] = ends
            else:
                for c in BAND_COLS:
                    row[f"{c}_low"], row[f"{c}_high"] = ends["low"][c], ends["high"][c]
        if args.format != "json":
            i = cols.index("energy_per_token_mj") + 1
            cols = cols[:i] + [f"{c}_{e}" for c in BAND_COLS for e in ("low", "high")] + cols[i:]
    if args.format == "text":
        print(render(mark_unfit(rows), cols, wide=args.wide))
        if not all(r["fits"] for r in rows):
            print(UNFIT_NOTE)
    else:
        emit(rows, args.format, cols)
    if args.output:
        from ..plot import compare_chart
        from ..plot.labels import scenario_title
        models = ", ".join(dict.fromkeys(r.model.name for r in reps))
        batches = ", ".join(str(b) for b in dict.fromkeys(r.scenario.batch for r in reps))
        paths = compare_chart(rows, args.output,
                              scenario=scenario_title(reps[0].scenario, models, batches))
        print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)
    return 0


UNFIT_NOTE = ("* does not fit in memory (weights + KV cache + activations > usable capacity); "
              "figures as if it did")
SPEED_COLS = ("latency_ms", "tokens_per_s", "ttft_ms", "tpot_ms", "energy_per_token_mj")


def mark_unfit(rows: list[dict]) -> list[dict]:
    """Rows for the text table: the speed and energy of a row that does not fit in memory
    carry a '*' (UNFIT_NOTE), never a bare value."""
    from ..report.tables import cell
    out = []
    for r in rows:
        if r.get("fits", True):
            out.append(r)
            continue
        out.append({k: (f"{cell(v, k)} *" if k in SPEED_COLS and v is not None else v)
                    for k, v in r.items()})
    return out


def cmd_roofline(args) -> int:
    from ..plot import roofline_chart
    check_outputs(args, output="roofline.png")
    reps = _reports(args)
    paths = roofline_chart(reps, args.output)
    print("wrote " + ", ".join(map(str, paths)))
    return 0


def register(sub) -> None:
    q = sub.add_parser("list", help="bundled models or architecture presets")
    q.add_argument("what", choices=["models", "archs", "params"],
                   help="models, archs (presets) or params (every architecture parameter: "
                        "section, unit, default, range)")
    q.add_argument("--format", default="text", choices=["text", "json", "csv"])
    add_wide(q)
    q.set_defaults(func=cmd_list)

    q = sub.add_parser("analyze", help="one model on one architecture: time, bound, per-operator table")
    add_scenario_args(q)
    add_band_arg(q)
    q.set_defaults(func=cmd_analyze)

    q = sub.add_parser("compare", help="table (and chart) over models x architectures x batches")
    add_scenario_args(q, multi=True)
    add_band_arg(q)
    q.add_argument("-o", "--output", help="also write a bar chart (PNG + SVG)")
    q.set_defaults(func=cmd_compare)

    q = sub.add_parser("roofline", help="roofline chart of the operators, one facet per architecture")
    add_scenario_args(q, multi=True)
    q.add_argument("-o", "--output", default="roofline.png", help="PNG path (an SVG is written beside it)")
    q.set_defaults(func=cmd_roofline)
