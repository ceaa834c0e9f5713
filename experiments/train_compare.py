"""Time to train on export-compliant and domestic accelerators against H100: equal devices and
equal board power, the fastest layout per cluster, and where the step time goes.

The study itself is nmc.report.studies.train_compare (docs/training.md section 7 quotes its
table through `nmc report --check`); this script is its command line.

    python experiments/train_compare.py [--quick] [--out DIR] [--docs] [--archs A,B,...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _common as C

from nmc.report.studies import train_compare as study
from nmc.report.studies.train_compare import GBS, SEQ, best  # noqa: F401  (used by other scripts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller clusters and grid")
    ap.add_argument("--out", default=None, help="output folder (default results/train_compare)")
    ap.add_argument("--docs", action="store_true", help="also copy the figure to docs/figures/")
    ap.add_argument("--archs", default=",".join(study.ARCHS),
                    help="comma-separated presets or TOML paths; the first is the reference")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else C.ROOT / "results" / study.NAME
    h = study.run(args.quick, out, [a for a in args.archs.split(",") if a])
    if args.docs:
        C.say("docs: " + str(C.to_docs(h["figures"][0], study.NAME)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
