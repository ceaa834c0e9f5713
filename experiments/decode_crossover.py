"""Decode crossover: tokens/s and per-token latency of llama-3-8b decode vs batch (1..512) and
context (512..128k tokens in the KV cache) on a GPU (h100-sxm), a GPU with near-memory compute
(h100+hbm3-pim, mapping auto) and an analog system (aimc-edge-projected with as many chips as
the weights need, aimc_chips = 0); which system wins where, and the KV cache as the wall at
long context.

The study itself (grids, figures, headline numbers) is nmc.report.studies.decode_crossover, which
`nmc report` runs too; this script is its command line.

    python experiments/decode_crossover.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import decode_crossover as study


def main(argv=None) -> int:
    return C.main(study.NAME, study.__doc__, study.run, argv)


if __name__ == "__main__":
    sys.exit(main())
