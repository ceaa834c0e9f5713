"""`nmc validate` and `nmc calibrate`."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import NmcError
from ..paths import output_dir, output_file, write_error
from ..report.tables import render, to_csv, to_json
from ..validation import measurements
from .common import add_wide


SHOWN = 5          # rows not predicted listed without -v


HEADLINE = "evaluation"
SPLIT_TITLES = {
    "evaluation": "evaluation rows (the headline: held out, no parameter was set on them)",
    "calibration": "calibration rows (reported separately: the rows preset values may be fitted to)",
    "all": "all rows (calibration and evaluation together; not the headline)",
}


def _summary_table(groups: dict) -> list[dict]:
    return [{"group": g, "n": s["n"], "median_ape": f"{s['median_ape']:.1%}",
             "mean_ape": f"{s['mean_ape']:.1%}", "median_pred/meas": s["median_ratio"],
             "within_25%": f"{s['within_25pct']:.0%}",
             "worst": f"{s['worst']['id']} ({s['worst']['ape']:.0%})"}
            for g, s in groups.items()]


def _breakdown_table(serving: dict) -> list[dict]:
    return [{"rows": k, "n": v["n"], "median_ape": f"{v['median_ape']:.1%}",
             "median_pred/meas": v["median_ratio"], "within_25%": f"{v['within_25pct']:.0%}",
             "worst": f"{v['worst']['id']} ({v['worst']['ape']:.0%})"}
            for k, v in serving.items()]


def cmd_validate(args) -> int:
    from ..plot.validation import validation_scatter
    from ..validation.runner import breakdown, by_split, run
    if args.out:
        output_dir(args.out)
    invalid: list[dict] = []
    rows = measurements.load(args.data, invalid=invalid) if args.data else None
    invalid = [{k: v for k, v in r.items() if k != "where"} for r in invalid]
    groups = [g.strip() for g in args.group.split(",") if g.strip()] if args.group else None
    for g in groups or []:
        if g not in measurements.GROUPS:
            raise NmcError(f"--group: unknown group {g!r} (groups: "
                           f"{', '.join(measurements.GROUPS)})")
    # default: the evaluation rows as the headline, the calibration rows in a table of their own
    splits = ("evaluation", "calibration") if args.split is None else (args.split,)
    res = run(rows, split="all" if args.split is None else args.split, groups=groups)
    parts = by_split(res, [s for s in splits if s != "all"])
    if "all" in splits:
        parts["all"] = {"groups": res["groups"], "rows": res["rows"], "skipped": res["skipped"],
                        "serving": breakdown(res["rows"])}
    summary = {"headline_split": HEADLINE if HEADLINE in parts else None,
               "splits": {s: {"title": SPLIT_TITLES[s], "groups": parts[s]["groups"],
                              "serving_by_metric": parts[s]["serving"],
                              "skipped": parts[s]["skipped"]} for s in splits},
               "invalid": invalid}
    if args.format == "json":
        print(to_json(summary))
    elif args.format == "markdown":
        for i, s in enumerate(splits):
            print(("\n" if i else "") + f"{SPLIT_TITLES[s][0].upper()}{SPLIT_TITLES[s][1:]}:\n")
            print(_markdown(_summary_table(parts[s]["groups"])))
            if parts[s]["serving"]:
                print("\nServing rows by metric (median error of TTFT, TPOT and throughput "
                      "separately):\n")
                print(_markdown(_breakdown_table(parts[s]["serving"])))
            print(f"\n{len(parts[s]['rows'])} rows predicted, {len(parts[s]['skipped'])} skipped.")
            if args.rows:
                print()
                print(_rows_table(parts[s], markdown=True))
    else:
        for i, s in enumerate(splits):
            print(("\n" if i else "") + f"nmc validation: {SPLIT_TITLES[s]}\n")
            print(render(_summary_table(parts[s]["groups"]), wide=args.wide))
            if parts[s]["serving"]:
                print("\nserving rows by metric:\n")
                print(render(_breakdown_table(parts[s]["serving"]), wide=args.wide))
            print(f"\n{len(parts[s]['rows'])} rows predicted, {len(parts[s]['skipped'])} not "
                  "predicted")
            if args.rows:
                print()
                print(_rows_table(parts[s], markdown=False, wide=args.wide))
            skipped = parts[s]["skipped"]
            shown = skipped if args.verbose else skipped[:SHOWN] if not args.rows else []
            for k in shown:
                line = (f"  not predicted: {k['id']}" + (f" [{k['group']}]" if k["group"] else "")
                        + f": {k['reason']}")
                print(line if args.verbose or args.wide or len(line) <= 120 else line[:119] + "…")
            if shown and len(shown) < len(skipped):
                print(f"  ... and {len(skipped) - len(shown)} more (-v lists every row)")
        if invalid:
            print(f"\n{len(invalid)} invalid rows in --data (not predicted):")
            for k in invalid:
                print(f"  not predicted: {k.get('id') or '?'}: {k['reason']}")
    if args.out:
        out = output_dir(args.out)
        for name, text in (("validation.csv", to_csv(res["rows"])),
                           ("skipped.csv", to_csv(invalid + res["skipped"],
                                                  ["id", "group", "split", "reason"])),
                           ("summary.json", to_json(summary))):
            try:
                (out / name).write_text(text, encoding="utf-8")
            except OSError as e:
                raise write_error(out / name, e) from None
        paths = validation_scatter(res["rows"], out / "validation_scatter.png") if res["rows"] else []
        print("wrote " + ", ".join(str(p) for p in [out / "validation.csv", *paths]), file=sys.stderr)
    return 0


def _markdown(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c])
                                     for c in cols) + " |")
    return "\n".join(out)


def _rows_table(res: dict, markdown: bool, wide: bool = False) -> str:
    """Every row: measured, predicted and the error, then the rows not predicted with why."""
    rows = [{"id": r["id"], "group": r["group"], "metric": r["metric"], "split": r["split"],
             "measured": r["measured"], "predicted": r["predicted"],
             "error": f"{r['ratio'] - 1:+.1%}"} for r in res["rows"]]
    rows += [{"id": s["id"], "group": s["group"], "metric": "", "split": "", "measured": None,
              "predicted": None, "error": f"not predicted: {s['reason']}"} for s in res["skipped"]]
    if not markdown:
        return render(rows, wide=wide)
    cols = ["id", "group", "metric", "split", "measured", "predicted", "error"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [("" if r[c] is None else (f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])))
                 for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def cmd_calibrate(args) -> int:
    from ..validation.calibrate import calibrate, write_preset
    if args.output:
        args.output = str(output_file(args.output, "calibrated.toml"))
    rows = measurements.load([args.data])
    if args.split != "all":
        rows = [r for r in rows if r["split"] == args.split]
    if args.group:
        rows = [r for r in rows if r["group"] in args.group.split(",")]
    params = [p.strip() for p in args.params.split(",")]
    res = calibrate(args.arch, rows, params)
    print(f"calibrated {res['arch'].name} on {res['n']} rows of {args.data}")
    print(render([{"param": p, "before": x0, "fitted": x, "std_error": se,
                   "at_bound": "yes" if b else ""}
                  for p, x0, x, se, b in zip(res["params"], res["x0"], res["x"], res["stderr"],
                                             res["at_bound"])]))
    print(f"median abs. error: before {res['median_ape_before']:.1%}, after {res['median_ape_after']:.1%}")
    if res["skipped"]:
        print(f"{len(res['skipped'])} rows skipped (e.g. {res['skipped'][0][0]}: {res['skipped'][0][1]})")
    if args.eval_split:
        from ..validation.calibrate import _residuals, _usable
        import math
        import statistics
        name = res["arch"].name
        ev = [dict(r, arch=name) for r in measurements.load([args.data])
              if r["split"] == args.eval_split and r.get("arch") in (None, "", name)
              and (not args.group or r["group"] in args.group.split(","))]
        use, _ = _usable(res["arch"], ev)
        if use:
            before = _residuals(res["arch"], use, res["params"], res["x0"])
            after = _residuals(res["arch"], use, res["params"], res["x"])
            med = lambda v: statistics.median(abs(math.exp(t) - 1) for t in v)  # noqa: E731
            print(f"held-out {args.eval_split} rows ({len(use)}): median abs. error "
                  f"{med(before):.1%} -> {med(after):.1%}")
    if args.output:
        p = write_preset(res, args.output, Path(args.data).name)
        print(f"wrote {p} (use it with --arch {p})")
    return 0


def register(sub) -> None:
    q = sub.add_parser("validate", help="predict published measurements, error per group")
    q.add_argument("--data", nargs="*", help="measurement CSVs (default: the bundled ones)")
    q.add_argument("--split", choices=["all", "calibration", "evaluation"],
                   help="only these rows (default: the evaluation rows as the headline, then the "
                        "calibration rows in a table of their own; 'all' mixes them)")
    q.add_argument("--group", help="comma-separated groups to include")
    q.add_argument("--format", default="text", choices=["text", "json", "markdown"],
                   help="markdown: the tables as Markdown (docs/validation.md); with --rows the "
                        "per-row tables too")
    add_wide(q)
    q.add_argument("--rows", action="store_true",
                   help="also list every row: measured, predicted, error (and why a row is skipped)")
    q.add_argument("-o", "--out", help="write validation.csv, skipped.csv, summary.json and the scatter plot here")
    q.add_argument("-v", "--verbose", action="store_true", help="list skipped rows with reasons")
    q.set_defaults(func=cmd_validate)

    q = sub.add_parser("calibrate", help="fit efficiency/overhead parameters of a preset to measurements")
    q.add_argument("--arch", required=True)
    q.add_argument("--data", required=True, help="CSV in the models/measurements format")
    q.add_argument("--params", default="eff_compute,eff_mem,kernel_overhead")
    q.add_argument("--split", default="all", choices=["all", "calibration", "evaluation"],
                   help="rows to fit on")
    q.add_argument("--eval-split", choices=["calibration", "evaluation"],
                   help="also report the error on these held-out rows")
    q.add_argument("--group", help="only rows of these groups")
    q.add_argument("-o", "--output", help="write the calibrated preset TOML here")
    q.set_defaults(func=cmd_calibrate)

