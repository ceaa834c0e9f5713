"""Bisection search: the smallest (or largest) value of one architecture parameter at which a
metric meets a target; the model is monotone in each resource."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import units
from ..arch.loader import _check, load_arch
from ..arch.schema import BY_NAME, INDEX
from ..engine import point_entry
from ..engine import layout as L
from ..engine.pim import usable_capacity
from ..errors import ConfigError
from ..workload.model import load_model
from .plan import make_plan
from .spec import resolve_name


LOWER_IS_BETTER = {"latency_s", "ttft_s", "tpot_s", "energy_j", "energy_per_token_j",
                   "memory_bytes"}


@dataclass
class SearchResult:
    param: str
    value: float | None            # boundary value meeting the target (None: not reachable)
    direction: str                 # "min" (more is better) or "max" (less is better)
    metric: str
    target: float
    achieved: float | None
    lo: float
    hi: float
    evaluations: int
    message: str
    fits: bool | None = None       # memory fit at the value found

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def search(model, arch, param: str, target: float, *, metric: str = "tokens_per_s",
           lo=None, hi=None, rtol: float = 1e-6, arch_set: dict | None = None,
           **scenario) -> SearchResult:
    """Smallest (or, for a parameter where less is better, largest) value of an architecture
    parameter at which metric meets target (>= for throughput, <= for latency/energy), by
    bisection on the model, which is monotone in each resource. lo/hi default to the schema
    range clipped to [base/1000, base*1000]; integer-valued parameters are searched on
    integers."""
    if param not in BY_NAME:
        resolve_name(param, f"search: --param {param}")
        raise ConfigError(f"search: --param must be an architecture parameter, got {param!r}")
    if metric not in L.RESULT_FIELDS:
        raise ConfigError(f"search: unknown metric {metric!r}; allowed: {', '.join(L.RESULT_FIELDS)}")
    p = BY_NAME[param]
    spec = load_model(model)
    a = load_arch(arch)
    if arch_set:
        a = a.with_(**arch_set)
    plan = make_plan(spec, a, {}, scenario)
    base = a[param]
    lo = _check(p, units.parse(lo, p.kind, "search: lo"), "search: lo") if lo is not None else \
        max(p.lo if not p.lo_open else 0.0, base / 1000.0 if base > 0 else 0.0)
    hi = _check(p, units.parse(hi, p.kind, "search: hi"), "search: hi") if hi is not None else \
        min(p.hi, base * 1000.0 if base > 0 else 1.0)
    if p.lo_open and lo <= p.lo:
        lo = max(hi * 1e-9, 1e-300)
    if not lo < hi:
        raise ConfigError(f"search: need lo < hi, got {lo:g}, {hi:g}")
    integer = p.kind == "count"
    ai = INDEX[param]
    ri = L.RESULT_FIELDS.index(metric)
    less = metric in LOWER_IS_BETTER
    n_eval = [0]

    ops = np.empty((L.N_SLOTS, L.N_OF))
    terms = np.empty((L.N_SLOTS, L.N_TERMS))
    res = np.empty(L.N_RESULTS)
    av = plan.a0.copy()

    def f(x):
        av[ai] = x
        point_entry(av)(plan.m0, plan.s0, av, ops, terms, res)   # this point's family only
        n_eval[0] += 1
        return float(res[ri])

    def ok(v):
        return v <= target if less else v >= target

    flo, fhi = f(lo), f(hi)
    name = f"{metric} {'<=' if less else '>='} {target:g}"
    if ok(flo) and ok(fhi):
        return SearchResult(param, lo, "min", metric, target, flo, lo, hi, n_eval[0],
                            f"{name} already at the low end {param} = {lo:g}")
    if not ok(flo) and not ok(fhi):
        return SearchResult(param, None, "min", metric, target, None, lo, hi, n_eval[0],
                            f"{name} not reachable for {param} in [{lo:g}, {hi:g}] "
                            f"(best {max(flo, fhi) if not less else min(flo, fhi):g}): another "
                            f"wall binds first")
    direction = "min" if ok(fhi) else "max"        # more is better -> smallest meeting value
    good, bad = (hi, lo) if direction == "min" else (lo, hi)
    if integer:
        good, bad = (math.ceil(good), math.floor(bad)) if direction == "min" else \
            (math.floor(good), math.ceil(bad))
        while abs(good - bad) > 1:
            mid = (good + bad) // 2
            if ok(f(mid)):
                good = mid
            else:
                bad = mid
    else:
        logspace = lo > 0
        while abs(good - bad) > rtol * abs(good):
            mid = math.sqrt(good * bad) if logspace else 0.5 * (good + bad)
            if ok(f(mid)):
                good = mid
            else:
                bad = mid
    achieved = f(good)
    word = "minimal" if direction == "min" else "maximal"
    unit = {"bw": "B/s", "flops": "FLOP/s", "bytes": "B", "time": "s", "power": "W",
            "energy_flop": "J/FLOP", "energy_byte": "J/B"}.get(p.kind)
    shown = units.fmt(good, unit, 4) if unit else f"{good:.6g}"
    msg = f"{word} {param} = {shown} gives {metric} = {achieved:.6g} ({name})"
    if res[L.R_FITS] < 0.5:
        cap = usable_capacity(av)
        msg += (f"; warning: does not fit, needs {res[L.R_MEM_FOOTPRINT] / 1e9:.1f} GB per "
                f"device, usable {cap / 1e9:.1f} GB (raise tp or lower the dtype)")
    return SearchResult(param, float(good), direction, metric, target, achieved, lo, hi, n_eval[0],
                        msg, bool(res[L.R_FITS] >= 0.5))
