"""`nmc report [-o DIR] [--quick]`: the headline studies and a one-page Markdown summary.
`nmc report --check [--quick] [--write]`: every number quoted in docs/ against the code."""
from __future__ import annotations

import sys
import time


def cmd_report(args) -> int:
    if args.check or args.write:
        return cmd_check(args)
    from ..paths import output_dir
    from ..report.headline import write_report
    output_dir(args.output)          # a bad -o is one line before minutes of work
    t0 = time.perf_counter()
    p = write_report(args.output, args.quick)
    print(f"wrote {p} ({time.perf_counter() - t0:.0f} s)")
    return 0


def cmd_check(args) -> int:
    from ..report.checks import check
    log = (lambda s: print(s, file=sys.stderr)) if args.verbose else None
    res = check(root=args.root, quick=args.quick, only=args.only, write=args.write, log=log)
    what = "quick subset" if args.quick else "full check"
    if args.write:
        print(f"nmc report --write ({what}): {res.quotes} phrases and {res.blocks} tables, "
              f"{res.numbers} numbers from code; rewrote {', '.join(res.written) or 'nothing'} "
              f"({res.seconds:.0f} s)")
        for d in res.differences:
            print(d)
        return 1 if res.differences else 0
    for d in res.differences:
        print(d)
    print(f"nmc report --check ({what}): {res.numbers} numbers in {res.quotes} phrases and "
          f"{res.blocks} tables, {len(res.differences)} difference"
          f"{'' if len(res.differences) == 1 else 's'} ({res.seconds:.0f} s)")
    return 0 if res.ok else 1


def register(sub) -> None:
    q = sub.add_parser("report", help="run a headline subset of the experiments and write a "
                                      "one-page Markdown summary with figures; --check: the "
                                      "numbers quoted in docs/ against the code")
    q.add_argument("-o", "--output", default="results/report", help="output folder (report.md + figures)")
    q.add_argument("--quick", action="store_true",
                   help="reduced grids, PNG only (a few seconds); with --check: the quick subset")
    q.add_argument("--check", action="store_true",
                   help="compare every number registered in nmc/report/checks/ with the doc that "
                        "quotes it; exit 0 when all agree, 1 with the list of differences")
    q.add_argument("--write", action="store_true",
                   help="rewrite the registered numbers and tables of the docs with the code's values")
    q.add_argument("--only", default=None, help="with --check/--write: sources whose name contains this")
    q.add_argument("--root", default=None, help="with --check/--write: the checkout holding docs/ "
                                                "(default: the one nmc is imported from)")
    q.add_argument("-v", "--verbose", action="store_true", help="with --check: time of each source")
    q.set_defaults(func=cmd_report)
