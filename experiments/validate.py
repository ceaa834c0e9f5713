"""Validation report: predict every bundled published measurement, print the error per group,
write validation.csv, skipped.csv, summary.json and the predicted-vs-measured scatter.

    python experiments/validate.py [--out results/validation] [--split evaluation] [--quick]
"""
import argparse
import sys

from nmc.cli import main

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/validation")
    ap.add_argument("--split", default="all", choices=["all", "calibration", "evaluation"])
    ap.add_argument("--quick", action="store_true", help="GPU groups only (seconds)")
    a = ap.parse_args()
    argv = ["validate", "--split", a.split, "-o", a.out, "-v"]
    if a.quick:
        argv += ["--group", "gpu-decode,gpu-prefill"]
    sys.exit(main(argv))
