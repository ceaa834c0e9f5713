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
from ..units import eng
from .labels import PREFIXED, axis_label, eng_axis, unit_of
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


def _fmt_value(p: str, v) -> str:
    if isinstance(v, str):
        return v
    unit = unit_of(p)
    return eng(float(v), unit) if unit in PREFIXED else f"{float(v):g}{' ' + unit if unit else ''}"


def _fmt_fixed(fixed: dict, table=None, where: dict | None = None) -> str:
    """The swept parameters not on an axis and the value each is shown at; one left at its
    first value says so (--where PARAM=VALUE picks another)."""
    parts = []
    for k, v in fixed.items():
        if where is not None and k not in (where or {}) and table is not None:
            n = len(np.unique(table.columns[k]))
            parts.append(f"{k} = {_fmt_value(k, v)} (first of {n} values; --where {k}=...)")
        else:
            parts.append(f"{k} = {_fmt_value(k, v)}")
    return ", ".join(parts)


def sweep_scenario(table) -> str:
    """The fixed scenario of a sweep in words: model(s) on arch(es), phase, lengths, tp, dtypes
    (the fields that are swept are left out: they are on an axis or named as fixed)."""
    sw = table.meta.get("sweep", {}) or {}
    sc = dict(sw.get("scenario", {}))
    swept = set(table.params)
    models = [m for m in sw.get("model", [])]
    archs = [a for a in sw.get("arch", [])]
    head = ""
    if models and "model" not in swept:
        head = ", ".join(models)
    if archs and "arch" not in swept:
        head += (" on " if head else "") + ", ".join(archs)
    parts = [head] if head else []
    phase = sc.get("phase")
    if phase and "phase" not in swept:
        parts.append(str(phase))
    lens = {"decode": ["context"], "prefill": ["prompt"], "generate": ["prompt", "generate"]}
    for f in lens.get(phase, ["context"]):
        if f in sc and f not in swept:
            parts.append(f"{f} {sc[f]}")
    for f in ("batch", "tp"):
        if f in sc and f not in swept:
            parts.append(f"{f} {sc[f]}")
    dts = [sc.get(k) for k in ("weights", "activations", "kv") if k not in swept]
    if dts and len(set(dts)) == 1 and dts[0]:
        parts.append(f"{dts[0]}")
    return ", ".join(parts)


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted centres v (geometric midpoints on a log axis)."""
    if len(v) == 1:
        return np.array([v[0] / 1.5, v[0] * 1.5]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    if log:
        m = np.sqrt(v[1:] * v[:-1])
        return np.concatenate([[v[0] ** 2 / m[0]], m, [v[-1] ** 2 / m[-1]]])
    m = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - m[0]], m, [2 * v[-1] - m[-1]]])


BOUND_COLORS = ("tab:red", "tab:blue", "tab:orange", "tab:green")


def heatmap(table, x: str, y: str, metric: str, path, where: dict | None = None,
            title: str | None = None) -> list[Path]:
    """metric over (x, y), units on both axes and on the colour bar; hatching marks the
    dominant bound of each cell; a cell whose point does not fit in memory has no colour and
    no value (hatched grey). A categorical metric (bound, fits) is drawn with one colour per
    category and a legend. Every other swept parameter is named in the title with the value
    shown: a --where value, or its first value (the title says so)."""
    from matplotlib.colors import ListedColormap, LogNorm
    _need(table, x, y, metric)
    _need_params(table, x, y)
    sub, fixed = select(table, (x, y), where)
    xv, xl = _axis_values(sub, x)
    yv, yl = _axis_values(sub, y)
    xs, ys = np.unique(xv), np.unique(yv)
    ix = np.searchsorted(xs, xv)
    iy = np.searchsorted(ys, yv)
    Z = np.full((len(ys), len(xs)), np.nan)
    B = np.full((len(ys), len(xs)), np.nan)
    F = np.ones((len(ys), len(xs)))
    Z[iy, ix] = np.asarray(sub.columns[metric], dtype=float)
    B[iy, ix] = sub.columns["bound"]
    if "fits" in sub:
        F[iy, ix] = sub.columns["fits"]
    unfit = F < 0.5
    categorical = metric in ("bound", "fits")
    Zshow = np.where(unfit & (metric != "fits"), np.nan, Z)
    logx = xl is None and _logish(xs)
    logy = yl is None and _logish(ys)
    xe = _edges(xs.astype(float), logx) if xl is None else np.arange(len(xs) + 1) - 0.5
    ye = _edges(ys.astype(float), logy) if yl is None else np.arange(len(ys) + 1) - 0.5
    fig, ax = plt.subplots(figsize=(8, 5.6))
    handles = []
    if categorical:
        names = list(BOUND_NAMES) if metric == "bound" else ["does not fit", "fits"]
        colors = BOUND_COLORS if metric == "bound" else ("0.8", "tab:green")
        ax.pcolormesh(xe, ye, np.ma.masked_invalid(Zshow), cmap=ListedColormap(colors),
                      vmin=-0.5, vmax=len(names) - 0.5)
        present = sorted({int(v) for v in Zshow[~np.isnan(Zshow)]})
        handles += [Patch(facecolor=colors[k], label=names[k] + (" bound" if metric == "bound"
                                                                   else "")) for k in present]
    else:
        fin = Zshow[np.isfinite(Zshow)]
        logz = fin.size and fin.min() > 0 and fin.max() / fin.min() > 50
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(Zshow), cmap="viridis",
                             norm=LogNorm() if logz else None)
        cb = fig.colorbar(mesh, ax=ax, label=axis_label(metric))
        if unit_of(metric) in PREFIXED or unit_of(metric) in ("tokens/s", ""):
            eng_axis(cb.ax.yaxis, unit_of(metric), log=bool(logz))
        # the dominant bound of each cell, hatched (cells that fit only)
        present = sorted({int(b) for b in B[~unfit & ~np.isnan(B)]})
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Rectangle
        for b in present:
            if not HATCHES[b]:
                continue
            rects = [Rectangle((xe[j], ye[i]), xe[j + 1] - xe[j], ye[i + 1] - ye[i])
                     for i, j in zip(*np.nonzero((B == b) & ~unfit))]
            ax.add_collection(PatchCollection(rects, facecolor="none", hatch=HATCHES[b],
                                              edgecolor=(1, 1, 1, 0.55), lw=0))
        handles += [Patch(facecolor="none", edgecolor="k", hatch=HATCHES[b],
                          label=f"{BOUND_NAMES[b]} bound") for b in present]
    if unfit.any() and metric != "fits":
        ax.pcolor(xe, ye, np.ma.masked_where(~unfit, np.ones_like(F)), cmap="Greys", vmin=0,
                  vmax=4, hatch="xx", edgecolor="0.55", lw=0)
        handles.append(Patch(facecolor="0.85", hatch="xx", edgecolor="0.55",
                             label="does not fit in memory (no value)"))
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.85)
    for name, labels, setter, scale, log, axis in (
            (x, xl, ax.set_xticks, ax.set_xscale, logx, ax.xaxis),
            (y, yl, ax.set_yticks, ax.set_yscale, logy, ax.yaxis)):
        if labels is not None:
            setter(range(len(labels)), labels)
        else:
            if log:
                scale("log")
            eng_axis(axis, unit_of(name), log=log)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    scen = sweep_scenario(table)
    fx = _fmt_fixed(fixed, table, where or {})
    ax.set_title(title or "\n".join(t for t in (f"{axis_label(metric)}: {scen}" if scen else
                                                 axis_label(metric), fx) if t), fontsize=9)
    return _save(fig, path, "heatmap.png")


def line(table, x: str, metric: str, path, by: str | None = None, where: dict | None = None,
         title: str | None = None) -> list[Path]:
    """metric over x, one line per value of `by` (default: arch, else model, else none); units
    on both axes; points that do not fit in memory are left out (a hollow marker on the x
    axis shows where); the title names the scenario and every other swept parameter's value."""
    _need(table, x, metric)
    _need_params(table, x, by)
    if by is None:
        by = next((c for c in ("arch", "model") if c in table.params and c != x), None)
    _need(table, by)
    sub, fixed = select(table, (x, by) if by else (x,), where)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    groups = list(dict.fromkeys(sub[by])) if by else [None]
    xv_all, xl = _axis_values(sub, x)
    fits = (np.asarray(sub.columns["fits"]) > 0.5) if "fits" in sub and metric != "fits" \
        else np.ones(len(sub), dtype=bool)
    yall = np.asarray(sub.columns[metric], dtype=float)
    shown = yall[fits & np.isfinite(yall)]
    logy = _logish(shown)
    any_unfit = False
    for g in groups:
        m = (sub[by] == g) if by else np.ones(len(sub), dtype=bool)
        order = np.argsort(xv_all[m])
        xv, yv, ok = xv_all[m][order], yall[m][order], fits[m][order]
        lab = None if g is None else (f"{by} = {_fmt_value(by, g)}" if not isinstance(g, str)
                                      else str(g))
        line_, = ax.plot(xv, np.where(ok, yv, np.nan), marker="o", ms=3, label=lab)
        if (~ok).any():
            any_unfit = True
            ax.plot(xv[~ok], np.full((~ok).sum(), np.nan), "o")      # keep the colour cycle
            for xx in xv[~ok]:
                ax.plot([xx], [0.0], marker="x", color=line_.get_color(), ms=6, clip_on=False,
                        transform=ax.get_xaxis_transform())
    if xl is not None:
        ax.set_xticks(range(len(xl)), xl)
    elif _logish(xv_all):
        ax.set_xscale("log")
        eng_axis(ax.xaxis, unit_of(x))
    else:
        eng_axis(ax.xaxis, unit_of(x), log=False)
    if logy:
        ax.set_yscale("log")
    eng_axis(ax.yaxis, unit_of(metric), log=logy)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(metric))
    ax.grid(alpha=0.3, which="both")
    handles, labels = ax.get_legend_handles_labels()
    if any_unfit:
        from matplotlib.lines import Line2D
        handles.append(Line2D([], [], marker="x", color="0.35", ls="none"))
        labels.append("does not fit in memory (no value)")
    if handles:
        ax.legend(handles, labels, fontsize=8)
    scen = sweep_scenario(table)
    fx = _fmt_fixed(fixed, table, where or {})
    ax.set_title(title or "\n".join(t for t in (scen, fx) if t) or axis_label(metric),
                 fontsize=9)
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
