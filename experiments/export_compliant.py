"""Export-compliant and domestic accelerators: what does the cut cost, and on which workloads?

Decode at each part's best batch (FP8 where the part has it, INT8 W8A8 on A800 and Ascend
910B, and BF16), MoE with expert parallelism on one and several nodes, BF16 serving of one
batch, training, export-control metrics and the best design under a TPP cap. The study itself
is nmc.report.studies.export_compliant (docs/experiments.md quotes it through
`nmc report --check`); this script is its command line.

    python experiments/export_compliant.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import export_compliant as study


def main(argv=None) -> int:
    return C.main(study.NAME, study.__doc__, study.run, argv)


if __name__ == "__main__":
    sys.exit(main())
