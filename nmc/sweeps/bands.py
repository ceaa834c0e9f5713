"""Uncertainty bands through the sweep kernel (docs/bands.md).

A preset value written `key = { central = .., low = .., high = .. }` is uncertain over
[low, high] (Architecture.bands). The band of a RESULT is not the result at every low value
(fewer tiles but faster tiles is no consistent corner): it is the worst and the best value
each result takes over the corners of the box of banded parameters, evaluated by the grid
kernel as one zipped sweep dimension of (parameter, ...) tuples.

Method, for k banded parameters:
  1. screen: the central point and, one at a time, each parameter at its low and its high end
     (2k + 1 points); it gives each parameter's effect on each result (the drivers);
  2. corners: k <= FULL_MAX: all 2^k corners of the box; otherwise, for every grid point and
     every result with a direction, its pessimistic corner (each parameter at the end the
     screen found worse for that result, parameters without effect left central) and its
     optimistic corner (on a large grid with more than MAX_CORNERS distinct corners, those of
     tokens/s, latency and energy per token only). Corners that make an inconsistent
     architecture (e.g. more DAC bits than input bits) are skipped and counted;
  3. envelope: per grid point and result, "low" = the pessimistic value over all points
     evaluated, "high" = the optimistic one. Low and high are named by the RESULT's direction:
     band low of tokens_per_s is the smallest throughput, band low of latency_s the LARGEST
     latency (LOWER_IS_BETTER). Fields without a direction (time breakdown, bytes, bound, tile
     counts) are taken at the point that gives the headline's (tokens_per_s) low or high end,
     so each band end reads as one consistent breakdown of its headline.

Ends are evaluated, not the inside of a range: a result that is not monotone inside a band
would be missed. A grid that sweeps a banded parameter sets it
explicitly, so that parameter's band is dropped (as Architecture.with_ does); so is the band of a
parameter the preset does not use (nmc.arch.uncertainty: PIM energies inherited by a preset
without PIM units, link latency without a link)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ..arch.loader import Architecture, load_arch
from ..arch.uncertainty import exemption
from ..engine import layout as L
from ..errors import ConfigError
from .plan import make_plan
from .run import _assemble, run
from .spec import SHARE_COLS, as_list, load_spec, parse_grid
from .table import Table

FULL_MAX = 8          # all 2^k corners up to k = 8 (256 points); a directed screen above
HEADLINE = "tokens_per_s"
HIGHER_IS_BETTER = frozenset({
    "tokens_per_s", "fits", "max_batch", "aimc_lifetime_tokens", "aimc_effective_bits",
    "aimc_peak_ops", "aimc_resident_fraction"})
LOWER_IS_BETTER = frozenset({
    "latency_s", "energy_j", "energy_per_token_j", "ttft_s", "tpot_s", "memory_bytes",
    "aimc_reprogram", "aimc_reprogram_s_per_token"})
DIRECTED = HIGHER_IS_BETTER | LOWER_IS_BETTER


def direction(name: str) -> int:
    """+1 where a larger value is better, -1 where a smaller one is, 0 without a direction."""
    return 1 if name in HIGHER_IS_BETTER else -1 if name in LOWER_IS_BETTER else 0


@dataclass
class Band:
    """Central, low (pessimistic) and high (optimistic) result columns over the grid points of
    one architecture, with what made them."""
    keys: list[str]                                  # banded parameters, sorted
    ends: dict[str, tuple[float, float, float]]      # key -> (low, central, high) values
    central: dict[str, np.ndarray]                   # result -> [n_grid]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    grid_columns: dict[str, np.ndarray]              # swept grid parameters -> [n_grid]
    labels: dict[str, list[str]]
    method: str                                      # "none" | "corners" | "screen+corners"
    n_points: int                                    # band points per grid point
    skipped: int                                     # inconsistent corners left out
    dropped: list[str] = field(default_factory=list)  # bands the grid sets, or of unused parts
    drivers: dict[str, list[dict]] = field(default_factory=dict)
    points: np.ndarray | None = None                 # [n_points, k] the values evaluated

    def corner(self, i: int) -> dict[str, float]:
        """Point i as {key: value}: arch.with_(**band.corner(i)) reproduces it."""
        return {k: float(v) for k, v in zip(self.keys, self.points[i])}

    def info(self) -> dict:
        """JSON-able description of the method and the drivers (Report.to_dict()['band_info'])."""
        return {"method": self.method, "params": {k: dict(zip(("low", "central", "high"), v))
                                                  for k, v in self.ends.items()},
                "points": self.n_points, "skipped_inconsistent": self.skipped,
                "dropped": list(self.dropped), "drivers": self.drivers,
                "low_is": "pessimistic end of each result (smaller tokens_per_s, larger "
                          "latency_s / energy); high_is: optimistic end",
                "higher_is_better": sorted(HIGHER_IS_BETTER),
                "lower_is_better": sorted(LOWER_IS_BETTER)}


def _arch_with_values(a: Architecture, keys, vals) -> bool:
    try:
        a.with_(**dict(zip(keys, vals)))
        return True
    except ConfigError:
        return False


def _values(S: np.ndarray, lows: np.ndarray, cent: np.ndarray, highs: np.ndarray) -> np.ndarray:
    return np.where(S < 0, lows, np.where(S > 0, highs, cent))


def _evaluate(model, a: Architecture, grid: dict, scenario: dict, keys: list[str],
              values: np.ndarray, arch_set):
    """Kernel results of grid x points: {column: [n_grid, n_points]}, grid columns, labels."""
    g = dict(grid)
    if keys:
        g[",".join(keys)] = ([float(row[0]) for row in values] if len(keys) == 1 else
                             [tuple(float(x) for x in row) for row in values])
    plan = make_plan(model, a, g, scenario, arch_set=arch_set)
    t = _assemble(run(plan, None, progress=False))
    npts = len(values) if keys else 1
    ngrid = len(t) // npts
    res = {k: np.asarray(t.columns[k], dtype=float).reshape(ngrid, npts)
           for k in t.columns if k in L.RESULT_FIELDS or k in SHARE_COLS}
    params = [p for p in plan.param_names if p not in keys]
    gcols = {p: np.asarray(t.columns[p]).reshape(ngrid, npts)[:, 0] for p in params}
    labels = {k: v for k, v in plan.labels.items() if k in gcols}
    return res, gcols, labels


def _screen(k: int) -> np.ndarray:
    S = np.zeros((2 * k + 1, k), dtype=np.int8)
    for i in range(k):
        S[1 + 2 * i, i] = -1
        S[2 + 2 * i, i] = 1
    return S


def _effects(res: dict, k: int) -> dict[str, np.ndarray]:
    """Screen effect of each parameter (high end minus low end), per grid point: [n_grid, k]."""
    with np.errstate(invalid="ignore"):
        return {f: np.nan_to_num(res[f][:, 2:2 * k + 1:2] - res[f][:, 1:2 * k:2])
                for f in DIRECTED if f in res}


MAX_CORNERS = 256      # above this many distinct corners, only the headline results' corners
HEADLINES = ("tokens_per_s", "latency_s", "energy_per_token_j")


def _directed_corners(res: dict, k: int, fields=None) -> np.ndarray:
    """Pessimistic and optimistic corners of every directed result at every grid point
    (from the screen), deduplicated: [n, k] in {-1, 0, +1}. On a large grid whose points
    disagree about the directions, more than MAX_CORNERS corners fall back to those of the
    headline results (tokens/s, latency, energy per token)."""
    corners = set()
    for f, eff in _effects(res, k).items():
        if fields is not None and f not in fields:
            continue
        scale = np.nanmax(np.abs(res[f][:, :1]), axis=1, initial=0.0)[:, None]
        s = np.sign(eff) * (np.abs(eff) > 1e-12 * np.maximum(scale, 1e-300)) * direction(f)
        for row in s.astype(np.int8):
            if row.any():
                corners.add(tuple(row))
                corners.add(tuple(-row))
    if fields is None and len(corners) > MAX_CORNERS:
        return _directed_corners(res, k, HEADLINES)
    return np.array(sorted(corners), dtype=np.int8).reshape(-1, k)


def _drivers(res: dict, keys: list[str], k: int) -> dict[str, list[dict]]:
    """Per directed headline result: each parameter's largest screen swing over the grid,
    relative to the central value, and the end that is pessimistic for it; largest first."""
    out = {}
    for f in ("tokens_per_s", "latency_s", "energy_per_token_j", "memory_bytes",
              "aimc_effective_bits"):
        if f not in res or np.all(np.isnan(res[f][:, 0])):
            continue
        c = np.abs(res[f][:, :1])
        lo, hi = res[f][:, 1:2 * k:2], res[f][:, 2:2 * k + 1:2]
        with np.errstate(invalid="ignore", divide="ignore"):
            sw = np.nan_to_num(np.abs(hi - lo) / np.where(c > 0, c, np.nan))
        rows = []
        for i, key in enumerate(keys):
            j = int(np.argmax(sw[:, i]))
            if sw[j, i] <= 1e-9:
                continue
            worse_high = direction(f) * (hi[j, i] - lo[j, i]) < 0
            rows.append({"param": key, "swing": float(sw[j, i]),
                         "pessimistic_end": "high" if worse_high else "low"})
        if rows:
            out[f] = sorted(rows, key=lambda r: -r["swing"])
    return out


def evaluate_band(model, arch, grid: dict | None = None, scenario: dict | None = None, *,
                  arch_set: dict | None = None) -> Band:
    """The band of every result over one architecture's banded parameters, at every point of
    grid (a sweep grid, may be empty), through the grid kernel (see the module docstring)."""
    a = load_arch(arch)
    if arch_set:
        a = a.with_(**arch_set)                     # an override drops its band
    grid = dict(grid or {})
    swept = {n for d in parse_grid(grid) for n in d["names"]}
    unused = {k for k in a.bands if (exemption(a, k) or "").startswith("unused")}
    keys = sorted(k for k in a.bands if k not in swept and k not in unused)
    dropped = sorted(k for k in a.bands if k in swept or k in unused)
    scenario = dict(scenario or {})
    k = len(keys)
    lows = np.array([a.bands[x][0] for x in keys])
    highs = np.array([a.bands[x][1] for x in keys])
    cent = np.array([a[x] for x in keys])
    ends = {x: (float(lo), float(c), float(hi)) for x, lo, c, hi in zip(keys, lows, cent, highs)}
    if k == 0:
        res, gcols, labels = _evaluate(model, a, grid, scenario, [], np.zeros((1, 0)), None)
        c = {f: v[:, 0] for f, v in res.items()}
        return Band([], {}, c, dict(c), dict(c), gcols, labels, "none", 1, 0, dropped)

    S = _screen(k)
    method = "screen+corners"
    if k <= FULL_MAX:
        S = np.vstack([S, np.array(list(itertools.product((-1, 1), repeat=k)), dtype=np.int8)])
        method = "corners"
    ok = [_arch_with_values(a, keys, _values(s, lows, cent, highs)) for s in S]
    skipped = int(len(ok) - sum(ok))
    S = S[np.array(ok)]                             # the screen is valid: each end is checked
    res, gcols, labels = _evaluate(model, a, grid, scenario, keys, _values(S, lows, cent, highs),
                                   None)
    if method == "screen+corners":
        C = _directed_corners(res, k)
        if len(C):
            okc = np.array([_arch_with_values(a, keys, _values(s, lows, cent, highs)) for s in C])
            skipped += int((~okc).sum())
            C = C[okc]
        if len(C):
            r2, _, _ = _evaluate(model, a, grid, scenario, keys, _values(C, lows, cent, highs),
                                 None)
            res = {f: np.concatenate([res[f], r2[f]], axis=1) for f in res}
            S = np.vstack([S, C])

    central = {f: v[:, 0] for f, v in res.items()}
    low, high = {}, {}
    n = res[HEADLINE].shape[0]
    rows = np.arange(n)
    h = np.nan_to_num(res[HEADLINE], nan=-np.inf)
    h_lo, h_hi = np.argmin(h, axis=1), np.argmax(h, axis=1)
    for f, v in res.items():
        d = direction(f)
        if d == 0 or np.all(np.isnan(v)):
            low[f], high[f] = v[rows, h_lo], v[rows, h_hi]
            continue
        score = np.where(np.isnan(v), np.inf, d * v)     # NaN never wins
        low[f] = v[rows, np.argmin(score, axis=1)]
        score = np.where(np.isnan(v), -np.inf, d * v)
        high[f] = v[rows, np.argmax(score, axis=1)]
    return Band(keys, ends, central, low, high, gcols, labels, method, len(S), skipped, dropped,
                _drivers(res, keys, k), _values(S, lows, cent, highs))


def band_sweep(model=None, arch=None, grid: dict | None = None, *, spec=None, columns=None,
               arch_set: dict | None = None, **scenario) -> Table:
    """A sweep with uncertainty bands: for (model, arch, grid, scenario) or a sweep spec (a
    TOML path or load_spec's dict), a Table with the grid's parameter columns and, for each
    result column f, f (central), f_low (pessimistic end) and f_high (optimistic end), so a
    figure can fill_between(x, t[f + "_low"], t[f + "_high"]). Each architecture is one kernel
    plan with its own bands (a list of archs adds an `arch` label column); models may be a list.
    table.meta["band"] holds each arch's method, banded parameters and drivers."""
    if spec is not None:
        s = load_spec(spec) if not isinstance(spec, dict) else spec
        model, arch, grid = s["model"], s["arch"], s["grid"]
        scenario = {**s.get("scenario", {}), **scenario}
        arch_set = s.get("arch_set") or arch_set
        columns = columns or s.get("columns")
    if model is None or arch is None:
        raise ConfigError("band_sweep needs model and arch (or a spec)")
    archs = as_list(arch)
    keep = None if columns is None else list(columns)
    cols: dict[str, list] = {}
    labels: dict[str, list[str]] = {}
    meta = {}
    for ai, name in enumerate(archs):
        b = evaluate_band(model, name, grid, scenario, arch_set=arch_set)
        aname = load_arch(name).name
        meta[aname] = b.info()
        block = dict(b.grid_columns)
        if len(archs) > 1:
            block["arch"] = np.full(len(next(iter(b.central.values()))), float(ai))
            labels["arch"] = [load_arch(x).name for x in archs]
        for f in b.central:
            if keep is not None and f not in keep:
                continue
            if keep is None and f.startswith("aimc_") and np.all(np.isnan(b.central[f])):
                continue
            block[f], block[f + "_low"], block[f + "_high"] = b.central[f], b.low[f], b.high[f]
        for c, v in block.items():
            cols.setdefault(c, []).append(np.asarray(v))
        labels.update(b.labels)
    data = {c: np.concatenate(v) for c, v in cols.items() if len(v) == len(archs)}
    params = (["arch"] if len(archs) > 1 else []) + list(b.grid_columns)
    return Table(data, labels, {"band": meta, "params": params})
