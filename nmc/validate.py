"""Predict every published measurement and report the error per group (docs/validation.md).

Each group has a predictor: row -> predicted value in the row's metric and unit. A row the model
cannot express raises Skip(reason) and is listed, never dropped silently. Families register their
predictors with @predictor("group")."""
from __future__ import annotations

import importlib
import math
import statistics
from pathlib import Path

from . import measurements
from .api import analyze
from .errors import NmcError

PREDICTORS: dict = {}
# modules that register predictors for the other groups when they are importable
OPTIONAL_PREDICTORS = ("nmc.train_validation", "nmc.pim_validation", "nmc.aimc_validation",
                       "nmc.kernel_validation")


class Skip(Exception):
    """The model cannot express this row; the message says why."""


def predictor(*groups):
    def deco(fn):
        for g in groups:
            PREDICTORS[g] = fn
        return fn
    return deco


def _load_optional():
    for mod in OPTIONAL_PREDICTORS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


# ---- GPU inference ----------------------------------------------------------------------------
def scenario_of(row: dict) -> dict:
    """The nmc.analyze keywords a GPU inference row describes."""
    w = (row.get("weights") or "bf16").lower()
    a = (row.get("activations") or ("bf16" if w in ("int8", "int4") else w)).lower()
    if a in ("int4",):
        a = "bf16"
    kv = (row.get("kv") or a).lower()
    tp = row.get("tp") or row.get("devices") or 1
    for c in ("batch", "prompt", "context", "output", "tp"):
        if isinstance(row.get(c), str):
            raise Skip(f"{c} = {row[c]!r} is not a number")
    return dict(batch=row.get("batch") or 1, tp=tp, weights=w, activations=a, kv=kv)


@predictor("gpu-decode", "gpu-prefill", "gpu-serving")
def predict_gpu(row: dict, arch=None) -> float:
    arch = arch or row.get("arch")
    if not arch:
        raise Skip(f"no preset for system {row.get('system')!r}")
    model = row.get("model")
    kw = scenario_of(row)
    phase, metric = row.get("phase"), row.get("metric")
    prompt, out, ctx = row.get("prompt"), row.get("output"), row.get("context")
    b = kw["batch"]
    if row["group"] == "gpu-serving" and not row.get("batch"):
        raise Skip("batch not stated (chosen by the serving runtime under load); "
                   "nmc evaluates a given batch")
    per_device = "per gpu" in (row.get("unit") or "").lower()
    try:
        if metric == "ttft_ms":
            if not prompt:
                raise Skip("ttft without a prompt length")
            return analyze(model, arch, phase="prefill", prompt=prompt, **kw).latency_s * 1e3
        if phase == "prefill" and metric in ("tokens_per_s", "throughput_tokens_per_s"):
            if not prompt:
                raise Skip("prefill without a prompt length")
            return analyze(model, arch, phase="prefill", prompt=prompt, **kw).tokens_per_s
        if phase == "prefill" and metric == "latency_ms":
            return analyze(model, arch, phase="prefill", prompt=prompt, **kw).latency_s * 1e3
        if metric in ("tokens_per_s", "ms_per_token", "throughput_tokens_per_s", "latency_ms"):
            if prompt and out:
                r = analyze(model, arch, phase="generate", prompt=prompt, generate=out, **kw)
                if metric == "ms_per_token":
                    tpot = r.results["tpot_s"]
                    return (tpot if tpot is not None else r.latency_s) * 1e3
                if metric == "latency_ms":
                    return r.latency_s * 1e3
                per_seq = r.tokens_per_s / b
            else:
                r = analyze(model, arch, phase="decode", context=ctx or prompt or 0, **kw)
                if metric == "ms_per_token":
                    return r.latency_s * 1e3
                if metric == "latency_ms":
                    return r.latency_s * 1e3
                per_seq = r.tokens_per_s / b
            if metric == "throughput_tokens_per_s":
                return per_seq * b / (kw["tp"] if per_device else 1)
            return per_seq
    except NmcError as e:
        raise Skip(str(e)) from None
    raise Skip(f"metric {metric!r} in phase {phase!r} is not predicted")


# ---- running the validation -------------------------------------------------------------------
def run(rows=None, split: str = "all", groups=None) -> dict:
    """Predict rows; returns {"rows": [...], "groups": {...}, "skipped": [...]}."""
    _load_optional()
    rows = measurements.load() if rows is None else rows
    done, skipped = [], []
    for row in rows:
        if split != "all" and row["split"] != split:
            continue
        if groups and row["group"] not in groups:
            continue
        fn = PREDICTORS.get(row["group"])
        if fn is None:
            skipped.append({"id": row["id"], "group": row["group"],
                            "reason": f"no predictor for group {row['group']!r} yet"})
            continue
        try:
            pred = float(fn(row))
        except Skip as e:
            skipped.append({"id": row["id"], "group": row["group"], "reason": str(e)})
            continue
        if not math.isfinite(pred) or pred <= 0:
            skipped.append({"id": row["id"], "group": row["group"],
                            "reason": f"prediction is {pred}"})
            continue
        meas = row["value"]
        done.append({"id": row["id"], "group": row["group"], "arch": row.get("arch"),
                     "model": row.get("model"), "metric": row["metric"], "split": row["split"],
                     "kind": row["kind"], "batch": row.get("batch"), "measured": meas,
                     "predicted": pred, "ratio": pred / meas,
                     "ape": abs(pred - meas) / meas, "source": row["source"]})
    return {"rows": done, "groups": summarize(done), "skipped": skipped}


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


def scatter(done: list[dict], path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    groups = sorted({r["group"] for r in done})
    metrics = sorted({r["metric"] for r in done})
    cols = min(3, len(metrics))
    rows_n = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.6 * cols, 4.2 * rows_n), squeeze=False)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    colors = dict(zip(groups, plt.cm.tab10.colors))
    for ax, metric in zip(axes.flat, metrics):
        rs = [r for r in done if r["metric"] == metric]
        lo = min(min(r["measured"], r["predicted"]) for r in rs) / 1.5
        hi = max(max(r["measured"], r["predicted"]) for r in rs) * 1.5
        x = np.array([lo, hi])
        ax.plot(x, x, "k-", lw=1)
        for f in (0.10, 0.25):
            ax.fill_between(x, x * (1 - f), x * (1 + f), color="0.5", alpha=0.12 if f < 0.2 else 0.07,
                            label=f"±{f:.0%}")
        for g in groups:
            pts = [r for r in rs if r["group"] == g]
            if pts:
                ax.scatter([r["measured"] for r in pts], [r["predicted"] for r in pts], s=18,
                           color=colors[g], label=g, edgecolors="k", linewidths=0.3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"measured {metric}")
        ax.set_ylabel(f"predicted {metric}")
        ax.set_title(metric, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("nmc predictions vs published measurements")
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    outs = [p.with_suffix(".png"), p.with_suffix(".svg")]
    for o in outs:
        fig.savefig(o, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return outs
