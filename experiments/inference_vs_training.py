"""Inference vs training demand: how many daily users make serving a chat model cost more
compute than training it, on a GPU, a GPU with HBM-PIM and an AIMC system?

The study itself is nmc.report.studies.inference_vs_training (docs/experiments.md quotes it
through `nmc report --check`); this script is its command line.

    python experiments/inference_vs_training.py [--quick] [--out DIR] [--docs] [--requests 10]
           [--prompt 1000] [--response 300] [--batch 64]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _common as C

from nmc.report.studies import inference_vs_training as study


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="8B only, smaller training cluster")
    p.add_argument("--out", default=None, help="output folder (default results/inference_vs_training)")
    p.add_argument("--docs", action="store_true", help="also copy the figure to docs/figures/")
    p.add_argument("--requests", type=float, default=10.0, help="requests per user per day")
    p.add_argument("--prompt", type=int, default=1000, help="prompt tokens per request")
    p.add_argument("--response", type=int, default=300, help="response tokens per request")
    p.add_argument("--batch", type=int, default=64, help="serving batch on GPU and GPU+PIM")
    a = p.parse_args(argv)
    out = Path(a.out) if a.out else C.ROOT / "results" / study.NAME
    h = study.run(a.quick, out, a.requests, a.prompt, a.response, a.batch)
    if a.docs:
        C.say("docs: " + str(C.to_docs(h["figures"][0], study.NAME)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
