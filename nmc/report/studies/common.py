"""Shared plumbing of the studies: CSV writing, figure saving (PNG + SVG), the log of what was
said (nmc report quotes it). No cost equations here: every number comes from analyze / sweep.
The command line of the scripts (--quick, --out, --docs) lives with them in experiments/."""
from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401  (C.plt: the studies draw through it)

def _cell(v):
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return f"{v:.10g}"
    return v


def write_csv(rows: list[dict], path) -> Path:
    """Rows (dicts) to CSV; the header is the union of keys in first-seen order."""
    path = Path(path)
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    from ...paths import output_file, write_error
    path = output_file(path)
    try:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: _cell(r.get(k, "")) for k in cols})
    except OSError as e:
        raise write_error(path, e) from None
    return path


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def lean_log_ticks(fig) -> None:
    """At most ~8 labelled decades per log axis and no minor-tick labels: matplotlib otherwise
    spends seconds measuring thousands of tick labels on wide log ranges."""
    from matplotlib.ticker import LogLocator, NullFormatter
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                axis.set_major_locator(LogLocator(base=10, numticks=9))
                axis.set_minor_locator(LogLocator(base=10, subs=(2, 5), numticks=9))
                axis.set_minor_formatter(NullFormatter())


def save(fig, path, svg: bool = True) -> list[Path]:
    """PNG (dpi 120) and, unless svg=False (the --quick runs), an SVG beside it."""
    from ...plot.output import save_figure
    return save_figure(fig, Path(path).with_suffix(".png"), "figure.png", dpi=120, svg=svg)


LOG: list[str] = []   # every line said since the last clear (nmc report quotes them)


def say(*lines: str) -> None:
    for line in lines:
        print(line)
        LOG.append(line)
    sys.stdout.flush()


def fmt(x: float, digits: int = 3) -> str:
    """Compact number for headlines and tables."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}g}"
