"""Where does analog in-memory compute stop working for LLMs, and how does the limit move?

Tiles per die (hybrid residency vs re-programming), program-and-verify time, model size with
bands (nmc.band_sweep), the dies a model needs, and training on analog tiles. The study itself
is nmc.report.studies.aimc_limits (docs/experiments.md quotes it through
`nmc report --check`); this script is its command line.

    python experiments/aimc_limits.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import aimc_limits as study


def main(argv=None) -> int:
    args = C.parse_args(study.NAME, study.__doc__, argv)
    h = study.run(args.quick, args.out)
    if args.docs:
        for f in h["figures"]:
            if str(f).endswith(".png"):
                C.say("docs: " + str(C.to_docs(f, f.stem)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
