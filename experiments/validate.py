"""Validation report: predict every bundled published measurement, print the error per group,
write validation.csv, skipped.csv, summary.json and the predicted-vs-measured scatter.

    python experiments/validate.py [--out results/validation] [--split evaluation] [--quick]

Without --split: the evaluation rows as the headline, the calibration rows in a table of their own.
"""
import argparse
import sys

from nmc.cli import main

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/validation")
    ap.add_argument("--split", choices=["all", "calibration", "evaluation"])
    ap.add_argument("--quick", action="store_true", help="GPU groups only (seconds)")
    a = ap.parse_args()
    argv = ["validate", "-o", a.out, "-v"] + (["--split", a.split] if a.split else [])
    if a.quick:
        argv += ["--group", "gpu-decode,gpu-prefill"]
    sys.exit(main(argv))
