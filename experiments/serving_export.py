"""Command line of nmc.report.studies.serving_export (docs/serving.md, "Experiments"); the study's
docstring says what it computes.

    python experiments/serving_export.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import serving_export as study


def main(argv=None) -> int:
    return C.main(study.NAME, study.__doc__, study.run, argv)


if __name__ == "__main__":
    sys.exit(main())
