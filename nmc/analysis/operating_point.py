"""The best operating point of a system: the batch (and runtime mode) that maximises tokens per
joule under a stated latency limit, with the batch-1 point beside it.

A batch-1 comparison charges a GPU its whole static power for one sequence; a fair comparison
runs every family where it is most efficient while still meeting the latency users see. This
module finds that point over a grid of batches (and runtime modes), evaluated in one pass of
the sweep kernel (nmc.sweep; with band=True nmc.band_sweep, docs/bands.md):

    best = argmax over (batch, runtime) of tokens/J = 1 / energy_per_token_j
           subject to fits (weights + KV + activations in memory) and the latency limit:
           decode: tpot_s <= tpot_max; prefill: ttft_s <= ttft_max; generate: both that are set.

Ties on tokens/J (within 1e-9) go to the higher tokens/s, then the smaller batch. `why` says
what stops the next larger batch of the grid at the best runtime: it does not fit memory
("capacity"), it breaks the latency limit ("latency"), it is less efficient ("energy") or the
grid ends ("grid"). With band=True every point carries the low (pessimistic) and high
(optimistic) ends of its results over the presets' uncertainty bands; the best point is chosen
on the central values and its band is reported (not re-optimised per band end).

    from nmc.analysis.operating_point import best_operating_point
    op = best_operating_point("llama-3-8b", "h100-sxm", tpot_max=0.05, context=2048)
    op.best.batch, op.best.tokens_per_j, op.batch1.tokens_per_j, op.why
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..arch.schema import BY_NAME
from ..errors import ScenarioError
from ..sweeps.bands import band_sweep
from ..sweeps.run import sweep

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
TPOT_MAX = 0.05            # s per output token: the interactive limit the experiments state
BAND_FIELDS = ("tokens_per_s", "energy_per_token_j", "tpot_s", "ttft_s")


@dataclass
class Point:
    """One (batch, runtime) point of the grid."""
    batch: int
    runtime: str
    tokens_per_s: float
    energy_per_token_j: float
    latency_s: float
    tpot_s: float
    ttft_s: float
    fits: bool
    meets: bool                    # meets the latency limit
    bound: str
    band: dict | None = None       # {"low": {field: v}, "high": {field: v}} (BAND_FIELDS + tokens_per_j)

    @property
    def tokens_per_j(self) -> float:
        e = self.energy_per_token_j
        return 1.0 / e if e > 0 else math.inf

    @property
    def feasible(self) -> bool:
        return self.fits and self.meets

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tokens_per_j"] = self.tokens_per_j
        return d


@dataclass
class OperatingPoints:
    model: str
    arch: str
    phase: str
    limits: dict                   # {"tpot_s": 0.05} etc.
    scenario: dict                 # the fixed scenario fields and architecture overrides
    best: Point | None             # None when no point is feasible
    batch1: Point                  # batch 1 at the first runtime of the grid
    why: str                       # what stops the next larger batch (module docstring)
    points: list[Point] = field(default_factory=list)

    @property
    def gain(self) -> float:
        """tokens/J at the best point over tokens/J at batch 1."""
        if self.best is None:
            return math.nan
        return self.best.tokens_per_j / self.batch1.tokens_per_j

    def to_dict(self) -> dict:
        return {"model": self.model, "arch": self.arch, "phase": self.phase,
                "limits": dict(self.limits), "scenario": dict(self.scenario),
                "best": self.best.to_dict() if self.best else None,
                "batch1": self.batch1.to_dict(), "why": self.why, "gain": self.gain,
                "points": [p.to_dict() for p in self.points]}


def _limits(phase: str, tpot_max, ttft_max) -> dict:
    lim = {}
    if phase in ("decode", "generate") and tpot_max is not None:
        lim["tpot_s"] = float(tpot_max)
    if phase in ("prefill", "generate") and ttft_max is not None:
        lim["ttft_s"] = float(ttft_max)
    return lim


def _meets(row: dict, limits: dict) -> bool:
    return all(row[k] <= v * (1 + 1e-12) for k, v in limits.items())


def best_operating_point(model, arch, *, phase: str = "decode", batches=BATCHES,
                         runtimes=("graphs",), tpot_max: float | None = TPOT_MAX,
                         ttft_max: float | None = None, band: bool = False,
                         arch_set: dict | None = None, **scenario) -> OperatingPoints:
    """The batch and runtime of `batches` x `runtimes` with the most tokens per joule among the
    points that fit memory and meet the latency limit (decode: tpot_max seconds per token;
    prefill: ttft_max; generate: both that are given; None: no limit), and the batch-1 point
    at runtimes[0]. Keyword arguments that name architecture parameters (aimc_chips=0, ...)
    override the preset like arch_set; the rest are scenario fields (context, prompt, tp, ep,
    weights, ...). One sweep-kernel pass (band=True: nmc.band_sweep)."""
    arch_set = dict(arch_set or {})
    for k in list(scenario):
        if k in BY_NAME:
            arch_set[k] = scenario.pop(k)
    batches = sorted({int(b) for b in batches})
    runtimes = list(runtimes)
    if not batches or not runtimes:
        raise ScenarioError("best_operating_point needs at least one batch and one runtime")
    if 1 not in batches:
        batches = [1] + batches
    limits = _limits(phase, tpot_max, ttft_max)
    grid = {"batch": batches, "runtime": runtimes}
    kw = dict(phase=phase, arch_set=arch_set or None, **scenario)
    t = band_sweep(model, arch, grid, **kw) if band else sweep(model, arch, grid, **kw)
    n = len(t)
    col = {k: t[k] for k in ("batch", "runtime", "tokens_per_s", "energy_per_token_j",
                             "latency_s", "tpot_s", "ttft_s", "fits", "bound")}
    points = []
    for i in range(n):
        row = {k: col[k][i] for k in col}
        p = Point(batch=int(row["batch"]), runtime=str(row["runtime"]),
                  tokens_per_s=float(row["tokens_per_s"]),
                  energy_per_token_j=float(row["energy_per_token_j"]),
                  latency_s=float(row["latency_s"]), tpot_s=float(row["tpot_s"]),
                  ttft_s=float(row["ttft_s"]), fits=bool(row["fits"]),
                  meets=_meets(row, limits), bound=str(row["bound"]))
        if band:
            p.band = {}
            for end in ("low", "high"):
                d = {f: float(t[f + "_" + end][i]) for f in BAND_FIELDS}
                e = d["energy_per_token_j"]
                d["tokens_per_j"] = 1.0 / e if e > 0 else math.inf
                d["fits"] = bool(t["fits_" + end][i])
                p.band[end] = d
        points.append(p)
    feasible = [p for p in points if p.feasible]
    best = None
    if feasible:
        top = max(p.tokens_per_j for p in feasible)
        near = [p for p in feasible if p.tokens_per_j >= top * (1 - 1e-9)]
        best = min(near, key=lambda p: (-p.tokens_per_s, p.batch, runtimes.index(p.runtime)))
    batch1 = next(p for p in points if p.batch == 1 and p.runtime == runtimes[0])
    why = _why(best, points, limits, batches)
    fixed = {**scenario, **arch_set}
    return OperatingPoints(model=str(model), arch=str(arch), phase=phase, limits=limits,
                           scenario=fixed, best=best, batch1=batch1, why=why, points=points)


def _why(best: Point | None, points: list[Point], limits: dict, batches: list[int]) -> str:
    """What stops the next larger batch of the grid at the best point's runtime."""
    if best is None:
        return "infeasible"
    larger = [b for b in batches if b > best.batch]
    if not larger:
        return "grid"
    nxt = next(p for p in points if p.batch == larger[0] and p.runtime == best.runtime)
    if not nxt.fits:
        return "capacity"
    if not nxt.meets:
        return "latency"
    return "energy"
