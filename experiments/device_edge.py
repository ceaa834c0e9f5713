"""Device and edge: which model sizes (0.5B..72B, dense and MoE, fp16 / int8 / int4 weights)
reach interactive decode speed (10 and 30 tokens/s) and fit memory on a phone SoC
(phone-lpddr5x), a laptop/desktop SoC (apple-m2-ultra), an edge box (jetson-agx-orin-64g) and an
analog in-memory-compute package (aimc-edge-projected, as built: 3 dies), with energy per token;
and a WHAT-IF: the phone with near-memory compute in its LPDDR5X (phone-lpddr5x-pim, written
to the output folder as a TOML; not a product, every PIM number an estimate, see its [sources]).

The study itself (grids, figures, headline numbers) is nmc.report.studies.device_edge, which
`nmc report` runs too; this script is its command line.

    python experiments/device_edge.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import device_edge as study


def main(argv=None) -> int:
    return C.main(study.NAME, study.__doc__, study.run, argv)


if __name__ == "__main__":
    sys.exit(main())
