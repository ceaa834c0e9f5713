"""Bandwidth and latency walls: where decode time goes as memory bandwidth, per-operator
overhead, DRAM row activation and the PIM internal-bandwidth multiplier move.

The study itself (grids, figures, headline numbers) is nmc.report.studies.walls, which
`nmc report` runs too; this script is its command line.

    python experiments/walls.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import walls as study


def main(argv=None) -> int:
    return C.main(study.NAME, study.__doc__, study.run, argv)


if __name__ == "__main__":
    sys.exit(main())
