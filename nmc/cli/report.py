"""`nmc report [-o DIR] [--quick]`: the headline studies and a one-page Markdown summary."""
from __future__ import annotations

import time


def cmd_report(args) -> int:
    from ..paths import output_dir
    from ..report.headline import write_report
    output_dir(args.output)          # a bad -o is one line before minutes of work
    t0 = time.perf_counter()
    p = write_report(args.output, args.quick)
    print(f"wrote {p} ({time.perf_counter() - t0:.0f} s)")
    return 0


def register(sub) -> None:
    q = sub.add_parser("report", help="run a headline subset of the experiments and write a "
                                      "one-page Markdown summary with figures")
    q.add_argument("-o", "--output", default="results/report", help="output folder (report.md + figures)")
    q.add_argument("--quick", action="store_true", help="reduced grids, PNG only (a few seconds)")
    q.set_defaults(func=cmd_report)
