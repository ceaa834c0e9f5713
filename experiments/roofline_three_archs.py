"""Three architectures on one roofline: Llama-2-7B and Llama-2-70B prefill and decode operators
on a GPU (h100-sxm), a near-memory system (h100+hbm3-pim, mapping auto) and an analog chip
(aimc-edge-projected with as many chips as the weights need, aimc_chips = 0).

The study itself (grids, figures, headline numbers) is nmc.report.studies.roofline_three_archs, which
`nmc report` runs too; this script is its command line.

    python experiments/roofline_three_archs.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

import sys

import _common as C

from nmc.report.studies import roofline_three_archs as study


def main(argv=None) -> int:
    args = C.parse_args(study.NAME, study.__doc__, argv)
    h = study.run(args.quick, args.out)
    if args.docs:      # llama-2-7b -> docs/figures/roofline_three_archs.png, 70b -> ..._70b.png
        for fig in h["figures"]:
            if fig.suffix == ".png":
                tag = fig.stem.replace("roofline_llama-2-", "")
                C.say("docs: " + str(C.to_docs(fig, study.NAME if tag == "7b" else f"{study.NAME}_{tag}")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
