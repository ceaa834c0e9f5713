"""Figures from a sweep Table (nmc.sweep / nmc.sweeps.load): heatmap of a metric over two
parameters with the dominant bound hatched and outlined, line chart over one parameter (one line
per architecture, model or other parameter), Pareto front of two metrics."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ..engine.layout import BOUND_NAMES
from ..errors import ConfigError
from .output import save_figure

HATCHES = ("", "//", "..", "xx")
LOWER_IS_BETTER = {"latency_s", "ttft_s", "tpot_s", "energy_j", "energy_per_token_j",
                   "memory_bytes", "t_compute_s", "t_memory_s", "t_latency_s", "t_comm_s"}


def _save(fig, path, default_name: str = "plot.png") -> list[Path]:
    return save_figure(fig, path, default_name)


def _need(table, *cols):
    for c in cols:
        if c and c not in table:
            raise ConfigError(f"no column {c!r} in the sweep; columns: {', '.join(table.keys())}")


def _need_params(table, *names):
    """Axes of a heatmap or line chart: swept parameters, each once."""
    for n in names:
        if n and n not in table.params:
            raise ConfigError(f"{n!r} is not a swept parameter of this sweep (swept: "
                              f"{', '.join(table.params)}); results go in --metric")
    given = [n for n in names if n]
    if len(set(given)) < len(given):
        raise ConfigError(f"the same parameter on two axes ({', '.join(given)})")


def select(table, keep: tuple[str, ...], where: dict | None = None):
    """Rows with every swept parameter not in keep at one value: the `where` value if given,
    else its first value. Returns (sub-table, {param: fixed value})."""
    where = dict(where or {})
    mask = np.ones(len(table), dtype=bool)
    fixed = {}
    for p in table.params:
        if p in keep:
            continue
        col = table[p]
        if p in where:
            w = where.pop(p)
            if col.dtype == object:
                sel = col == str(w)
                if not sel.any():
                    raise ConfigError(f"--where {p}={w}: no such value in the sweep (values: "
                                      f"{', '.join(dict.fromkeys(col))})")
            else:
                vals = np.unique(table.columns[p])
                try:
                    v = float(w)
                except (TypeError, ValueError):
                    raise ConfigError(f"--where {p}={w}: not a number (values: "
                                      f"{', '.join(f'{x:g}' for x in vals[:12])})") from None
                sel = np.isclose(table.columns[p], vals[np.argmin(np.abs(vals - v))])
            if not sel.any():
                raise ConfigError(f"--where {p}={w}: no such value in the sweep")
            val = col[sel][0]
        else:
            val = col[0]
            sel = col == val
        mask &= sel
        if len(np.unique(col)) > 1:
            fixed[p] = val
    if where:
        raise ConfigError(f"--where: {', '.join(where)} is not a swept parameter "
                          f"(swept: {', '.join(table.params)})")
    return table.where(mask), fixed


def _axis_values(table, name):
    col = table[name]
    if col.dtype == object:
        labels = list(dict.fromkeys(col))
        return np.array([labels.index(v) for v in col], dtype=float), labels
    return np.asarray(col, dtype=float), None


def _logish(v) -> bool:
    u = np.unique(v)
    return len(u) > 2 and u.min() > 0 and u.max() / u.min() > 20


def _fmt_fixed(fixed: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in fixed.items())


def heatmap(table, x: str, y: str, metric: str, path, where: dict | None = None,
            title: str | None = None) -> list[Path]:
    """metric over (x, y); hatching and outlines mark the dominant bound of each cell."""
    _need(table, x, y, metric)
    _need_params(table, x, y)
    sub, fixed = select(table, (x, y), where)
    xv, xl = _axis_values(sub, x)
    yv, yl = _axis_values(sub, y)
    xs, ys = np.unique(xv), np.unique(yv)
    Z = np.full((len(ys), len(xs)), np.nan)
    B = np.full((len(ys), len(xs)), np.nan)
    ix = np.searchsorted(xs, xv)
    iy = np.searchsorted(ys, yv)
    Z[iy, ix] = np.asarray(sub.columns[metric], dtype=float)
    B[iy, ix] = sub.columns["bound"]
    F = np.full((len(ys), len(xs)), np.nan)
    if "fits" in sub:
        F[iy, ix] = sub.columns["fits"]
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    logz = np.nanmin(Z) > 0 and np.nanmax(Z) / max(np.nanmin(Z), 1e-300) > 50
    from matplotlib.colors import LogNorm
    mesh = ax.pcolormesh(xs, ys, Z, shading="nearest", cmap="viridis",
                         norm=LogNorm() if logz else None)
    fig.colorbar(mesh, ax=ax, label=metric)
    present = sorted({int(b) for b in B[~np.isnan(B)]})
    if len(xs) > 1 and len(ys) > 1:
        levels = np.arange(-0.5, len(BOUND_NAMES) + 0.5)
        ax.contourf(xs, ys, B, levels=levels, hatches=list(HATCHES), colors="none")
        if len(present) > 1:
            ax.contour(xs, ys, B, levels=levels[1:-1], colors="white", linewidths=1.2)
    handles = [Patch(facecolor="none", edgecolor="k", hatch=HATCHES[b],
                     label=f"{BOUND_NAMES[b]} bound") for b in present]
    if np.any(F == 0):
        ax.pcolormesh(xs, ys, np.ma.masked_where(F != 0, np.ones_like(F)), shading="nearest",
                      cmap="Greys", vmin=0, vmax=1.5, alpha=0.6)
        handles.append(Patch(facecolor="0.5", alpha=0.6, label="does not fit in memory"))
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.8)
    for axis, vals, labels, setter, scale in ((x, xv, xl, ax.set_xticks, ax.set_xscale),
                                              (y, yv, yl, ax.set_yticks, ax.set_yscale)):
        if labels is not None:
            setter(range(len(labels)), labels)
        elif _logish(vals):
            scale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{metric}" + (f"  ({_fmt_fixed(fixed)})" if fixed else ""), fontsize=9)
    return _save(fig, path, "heatmap.png")


def line(table, x: str, metric: str, path, by: str | None = None, where: dict | None = None,
         title: str | None = None) -> list[Path]:
    """metric over x, one line per value of `by` (default: arch, else model, else none)."""
    _need(table, x, metric)
    _need_params(table, x, by)
    if by is None:
        by = next((c for c in ("arch", "model") if c in table.params and c != x), None)
    _need(table, by)
    sub, fixed = select(table, (x, by) if by else (x,), where)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = list(dict.fromkeys(sub[by])) if by else [None]
    xv_all, xl = _axis_values(sub, x)
    for g in groups:
        m = (sub[by] == g) if by else np.ones(len(sub), dtype=bool)
        xv = xv_all[m]
        order = np.argsort(xv)
        yv = np.asarray(sub.columns[metric], dtype=float)[m][order]
        lab = None if g is None else (f"{by}={g:.4g}" if isinstance(g, float) else str(g))
        ax.plot(xv[order], yv, marker="o", ms=3, label=lab)
    if xl is not None:
        ax.set_xticks(range(len(xl)), xl)
    elif _logish(xv_all):
        ax.set_xscale("log")
    yall = np.asarray(sub.columns[metric], dtype=float)
    if _logish(yall[np.isfinite(yall)]):
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3, which="both")
    if by:
        ax.legend(fontsize=8)
    ax.set_title(title or (_fmt_fixed(fixed) or metric), fontsize=9)
    return _save(fig, path, "line.png")


def pareto_mask(xv: np.ndarray, yv: np.ndarray, x_max: bool = True, y_max: bool = False) -> np.ndarray:
    """Points not dominated by any other (better or equal in both, better in one)."""
    a = np.where(x_max, xv, -xv)
    b = np.where(y_max, yv, -yv)
    ok = np.isfinite(a) & np.isfinite(b)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((-b[idx], -a[idx]))]        # by a desc, then b desc
    mask = np.zeros(len(xv), dtype=bool)
    best_b = -np.inf
    for i in order:
        if b[i] > best_b:
            mask[i] = True
            best_b = b[i]
    return mask


def pareto(table, x: str, y: str, path, where: dict | None = None, annotate: int = 8,
           title: str | None = None) -> list[Path]:
    """All points of the sweep in (x, y), the Pareto-optimal ones among those that fit in memory
    joined and labelled with their parameter values. Throughput-like metrics are maximised,
    latency/energy minimised."""
    _need(table, x, y)
    sub = table
    xv = np.asarray(sub.columns[x], dtype=float)
    yv = np.asarray(sub.columns[y], dtype=float)
    fits = sub.columns.get("fits")
    fit = np.ones(len(sub), dtype=bool) if fits is None else fits > 0.5
    # the front of the feasible designs: points that do not fit in memory are drawn, not ranked
    m = np.zeros(len(sub), dtype=bool)
    m[fit] = pareto_mask(xv[fit], yv[fit], x not in LOWER_IS_BETTER, y not in LOWER_IS_BETTER)
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(xv[fit], yv[fit], s=6, c="0.7", label="design points")
    if (~fit).any():
        ax.scatter(xv[~fit], yv[~fit], s=6, c="0.9", marker="x", label="does not fit")
    order = np.flatnonzero(m)[np.argsort(xv[m])]
    ax.plot(xv[order], yv[order], "-o", c="C3", ms=4, label="Pareto front")
    step = max(1, len(order) // max(annotate, 1))
    for i in order[::step]:
        txt = ", ".join(f"{p}={sub[p][i]:.3g}" if not isinstance(sub[p][i], str)
                        else f"{p}={sub[p][i]}" for p in sub.params)
        ax.annotate(txt, (xv[i], yv[i]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    for v, scale in ((xv, ax.set_xscale), (yv, ax.set_yscale)):
        if _logish(v[np.isfinite(v)]):
            scale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title or f"Pareto front: {x} vs {y} ({int(m.sum())} of {int(fit.sum())} "
                          f"points that fit; {len(sub)} in all)", fontsize=9)
    return _save(fig, path, "pareto.png")
