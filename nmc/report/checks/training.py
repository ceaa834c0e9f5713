"""Numbers of docs/training.md section 7 (time to train across accelerators): the table and its
prose, from nmc.report.studies.train_compare (the same `best` layout search that experiment 4's
training rows use, so docs/experiments.md and docs/training.md quote one set of numbers)."""
from __future__ import annotations

from ..studies import train_compare
from . import block, quotes, source

DOC = "docs/training.md"


@source("train", quick=True)
def _train() -> dict:
    rows = train_compare.compute(False)
    v = {"rows": rows}
    by = {(r["model"], r["arch"], r["case"]): r for r in rows}
    for (m, a, case), r in by.items():
        k = f"{'70b' if '70b' in m else '7b'}_{a.split('-')[0]}_{'dev' if case == 'equal devices' else 'pw'}"
        v[k] = r
    v["h800_70b_pct"] = 100 * (by[("llama-2-70b", "h800-sxm", "equal devices")]["vs_h100"] - 1)
    v["min_compute_70b"] = min(by[("llama-2-70b", a, "equal devices")]["share_compute"]
                               for a in ("h20", "a800-80g-sxm", "ascend-910b"))
    return v


block(DOC, "train_compare", "train", lambda v: train_compare.table(v["rows"]),
      start="<!-- experiment-table -->", end="<!-- /experiment-table -->")

quotes(DOC,
       "NVLink costs the 70B model {train.h800_70b_pct:.0f} % (the TP all-reduces double their share, "
       "{train.70b_h100_dev.share_communication:.0P} → {train.70b_h800_dev.share_communication:.0P} %), nothing",
       "not network problems — {train.70b_a800_dev.vs_h100:.2S}×, {train.70b_ascend_dev.vs_h100:.2S}× and "
       "{train.70b_h20_dev.vs_h100:.2S}× the H100's time for 70B with ≥ {train.min_compute_70b:.0P} % of the step",
       "the gap narrows to {train.70b_a800_pw.vs_h100:.2S}× (A800), {train.70b_ascend_pw.vs_h100:.2S}× (910B) and "
       "{train.70b_h20_pw.vs_h100:.2S}× (H20): the",
       )
