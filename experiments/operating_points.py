"""Fair operating points: energy and speed of GPU, GPU+PIM, AIMC and a phone SoC at each
system's best batch (most tokens/J with a decode step <= 50 ms), batch 1 beside it, with bands.

The study itself is nmc.report.studies.operating_points (docs/experiments.md quotes it through
`nmc report --check`); this script is its command line.

    python experiments/operating_points.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import operating_points as study


def main(argv=None) -> int:
    return C.main(study.NAME, study.__doc__, study.run, argv)


if __name__ == "__main__":
    sys.exit(main())
