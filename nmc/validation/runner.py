"""Predict every published measurement and report the error per group (docs/validation.md).

Each group has a predictor (one module per group in this package, registered in registry.py):
row -> predicted value in the row's metric and unit. A row the model cannot express raises
Skip(reason) and is listed, never dropped silently."""
from __future__ import annotations

import math
import statistics

from ..errors import NmcError
from . import aimc, gpu, kernel, pim, training  # noqa: F401  (register their predictors)
from . import measurements
from .measurements import SPLITS
from .registry import PREDICTORS, Skip


# metric -> the class it is reported in (TTFT, TPOT, throughput: issue 14's three medians)
METRIC_CLASS = {"ttft_ms": "TTFT", "ttft_s": "TTFT", "ms_per_token": "TPOT", "tpot_ms": "TPOT",
                "throughput_tokens_per_s": "throughput",
                "throughput_tokens_per_s_per_gpu": "throughput",
                "total_throughput_tokens_per_s": "throughput", "requests_per_s": "throughput"}
BREAKDOWN_GROUPS = ("gpu-serving",)


# ---- running the validation -------------------------------------------------------------------
def run(rows=None, split: str = "all", groups=None) -> dict:
    """Predict rows; returns {"rows": [...], "groups": {...}, "skipped": [...]}."""
    rows = measurements.load() if rows is None else rows
    done, skipped = [], []
    for row in rows:
        if split != "all" and row["split"] != split:
            continue
        if groups and row["group"] not in groups:
            continue
        fn = PREDICTORS.get(row["group"])
        if fn is None:
            skipped.append({"id": row["id"], "group": row["group"], "split": row["split"],
                            "reason": f"no predictor for group {row['group']!r} yet"})
            continue
        try:
            pred = float(fn(row))
        except Skip as e:
            skipped.append({"id": row["id"], "group": row["group"], "split": row["split"],
                            "reason": str(e)})
            continue
        except NmcError as e:       # a row naming an unknown model or preset, an impossible
            skipped.append({"id": row["id"], "group": row["group"],      # scenario, ...
                            "reason": f"cannot predict: {e}"})
            continue
        if not math.isfinite(pred) or pred <= 0:
            skipped.append({"id": row["id"], "group": row["group"], "split": row["split"],
                            "reason": f"prediction is {pred}"})
            continue
        meas = row["value"]
        done.append({"id": row["id"], "group": row["group"], "arch": row.get("arch"),
                     "model": row.get("model"), "metric": row["metric"],
                     "metric_class": METRIC_CLASS.get(row["metric"], row["metric"]),
                     "load": gpu.is_load_benchmark(row) if row["group"].startswith("gpu-")
                     else False, "split": row["split"],
                     "kind": row["kind"], "batch": row.get("batch"), "measured": meas,
                     "predicted": pred, "ratio": pred / meas,
                     "ape": abs(pred - meas) / meas, "source": row["source"]})
    return {"rows": done, "groups": summarize(done), "skipped": skipped}


def by_split(res: dict, splits=SPLITS) -> dict:
    """{split: {"groups", "skipped", "rows"}} of one run() result: the evaluation rows (the
    headline: no parameter was set on them) and the calibration rows, never mixed."""
    out = {}
    for s in splits:
        rows = [r for r in res["rows"] if r["split"] == s]
        out[s] = {"groups": summarize(rows), "rows": rows, "serving": breakdown(rows),
                  "skipped": [k for k in res["skipped"] if k.get("split") == s]}
    return out


def breakdown(done: list[dict], groups=BREAKDOWN_GROUPS) -> dict:
    """The serving rows by metric class (TTFT, TPOT, throughput), all predicted rows of the
    class and the load benchmarks among them (predicted by nmc.serve): {"<group> <class>":
    summary, "<group> <class>, load benchmarks": summary} for every class with rows."""
    out = {}
    for g in groups:
        for cls in ("TTFT", "TPOT", "throughput"):
            rs = [r for r in done if r["group"] == g and r.get("metric_class") == cls]
            if rs:
                out[f"{g} {cls}"] = summarize([dict(r, group="x") for r in rs])["x"]
            ld = [r for r in rs if r.get("load")]
            if ld and len(ld) != len(rs):
                out[f"{g} {cls}, load benchmarks"] = summarize(
                    [dict(r, group="x") for r in ld])["x"]
    return out


def summarize(done: list[dict]) -> dict:
    out = {}
    for g in sorted({r["group"] for r in done}):
        rs = [r for r in done if r["group"] == g]
        apes = [r["ape"] for r in rs]
        worst = max(rs, key=lambda r: r["ape"])
        out[g] = {"n": len(rs), "median_ape": statistics.median(apes),
                  "mean_ape": statistics.fmean(apes),
                  "median_ratio": statistics.median(r["ratio"] for r in rs),
                  "within_25pct": sum(a <= 0.25 for a in apes) / len(apes),
                  "worst": {"id": worst["id"], "ape": worst["ape"],
                            "measured": worst["measured"], "predicted": worst["predicted"]}}
    return out
