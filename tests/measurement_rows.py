"""Shared helpers of the validation tests: a measurement row with defaults, and rows written
as a models/measurements-style CSV."""
from __future__ import annotations

import csv

from nmc.validation import measurements

HEADER = list(measurements.COLUMNS)


def write_rows(path, rows):
    """rows (dicts; missing columns empty) as a CSV with every column of the schema."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in HEADER})
    return path


def row(**kw):
    """A gpu-decode evaluation row of llama-2-7b at batch 1, context 512 (100 tokens/s), with
    kw replacing or adding columns."""
    base = dict(id="r1", group="gpu-decode", system="toy", arch="", devices=1, model="llama-2-7b",
                weights="bf16", phase="decode", batch=1, context=512, metric="tokens_per_s",
                value=100, unit="tokens/s", kind="measured", split="evaluation", source="test")
    base.update(kw)
    return base
