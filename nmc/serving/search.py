"""Capacity search (`nmc serve --search`): for every candidate layout, the highest request rate
one unit (a replica, or a prefill + decode group) sustains under an SLO (p90 TTFT, p99 TPOT),
by bisection; from it the fewest devices that meet the SLO at a target rate, the highest rate
per device, and the cost-latency points of a Pareto chart across architectures.

Method (docs/serving.md, "Capacity search"): the units of a fleet behind a random load balancer
each see a Poisson stream of rate / units, so one unit is simulated at a time. Its requests are
drawn once; a rate only rescales the unit-rate arrival gaps (common random numbers: the SLO
test is then monotone in the rate but for a rare batching coincidence). The bracket is
[r_sat / 64, r_sat] with r_sat the unit's saturation throughput (every request at time 0), its top
doubled (at most GROW times) while the SLO still holds there (an all-at-once run's rate
underestimates a unit whose drain tail is long); `steps` bisection steps (arithmetic: light
loads take the most iterations to simulate, so the bracket is halved from the top); the light-
load end is checked on a fifth of the requests. Layouts run in parallel on threads (the event
loop releases the GIL) or, given a dask.distributed Client, as Dask tasks."""
from __future__ import annotations

import itertools
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from ..arch.loader import load_arch
from ..errors import NmcError, ScenarioError
from ..workload.model import load_model
from ..workload.serving import Requests, lengths
from .api import serve

DEFAULT_TPS = (1, 2, 4, 8)
DEFAULT_PPS = (1, 2, 4)
DEFAULT_EPS = (1, 2, 4, 8)                            # MoE models only (dense: 1)
DEFAULT_SCHEDULERS = ("continuous", "chunked")
DEFAULT_MAX_BATCH = (32, 64, 128, 256)
DEFAULT_MAX_TOKENS = (2048, 8192)
DEFAULT_RATIOS = ((1, 1), (1, 2), (1, 3), (2, 1))     # prefill : decode replicas
GROW = 3                # doublings of the bracket's top when the SLO holds at saturation


@dataclass(frozen=True)
class Layout:
    """One unit of a fleet: `replicas` x (tp x ep x pp devices of arch) with a scheduler, or
    for scheduler = disaggregated `replicas` prefill replicas on arch and `decode_replicas`
    decode replicas of decode_tp x decode_ep x decode_pp devices on decode_arch."""
    arch: str
    tp: int = 1
    pp: int = 1
    scheduler: str = "continuous"
    max_batch: int = 256
    max_tokens: int = 8192
    replicas: int = 1
    decode_arch: str = ""
    decode_tp: int = 0
    decode_pp: int = 1
    decode_replicas: int = 0
    ep: int = 1
    decode_ep: int = 1

    @property
    def devices(self) -> int:
        d = self.tp * self.ep * self.pp * self.replicas
        if self.scheduler == "disaggregated":
            d += self.decode_tp * self.decode_ep * self.decode_pp * self.decode_replicas
        return d

    def label(self) -> str:
        s = (f"{self.arch} tp{self.tp}" + (f" ep{self.ep}" if self.ep > 1 else "")
             + (f" pp{self.pp}" if self.pp > 1 else ""))
        if self.scheduler == "disaggregated":
            s = (f"{self.replicas}x[{s}] + {self.decode_replicas}x[{self.decode_arch} "
                 f"tp{self.decode_tp}" + (f" ep{self.decode_ep}" if self.decode_ep > 1 else "")
                 + (f" pp{self.decode_pp}" if self.decode_pp > 1 else "") + "]")
            return s + f" disagg b{self.max_batch}"
        return s + f" {self.scheduler} b{self.max_batch} t{self.max_tokens}"

    def serve_kw(self) -> dict:
        kw = dict(tp=self.tp, pp=self.pp, ep=self.ep, scheduler=self.scheduler,
                  max_batch=self.max_batch, max_tokens=self.max_tokens, replicas=self.replicas)
        if self.scheduler == "disaggregated":
            kw.update(decode_arch=self.decode_arch or self.arch, decode_tp=self.decode_tp,
                      decode_pp=self.decode_pp, decode_ep=self.decode_ep,
                      decode_replicas=self.decode_replicas)
        return kw


def _eps(spec, a, tp, eps) -> list[int]:
    """The expert-parallel degrees of `eps` that apply to tp devices of arch a: 1 for a dense
    model; for a MoE model those dividing its experts, with a link or network between devices,
    and within a node unless the arch has a scale-out network."""
    if spec.n_experts <= 1:
        return [1]
    out = []
    for e in eps:
        if e == 1:
            out.append(1)
        elif (spec.n_experts % e == 0 and (a["link_bw"] > 0 or a["net_bw"] > 0)
              and (tp * e <= a["devices_per_node"] or a["net_bw"] > 0)):
            out.append(e)
    return out


def layouts(model, archs, *, tps=DEFAULT_TPS, pps=DEFAULT_PPS, schedulers=DEFAULT_SCHEDULERS,
            max_batches=DEFAULT_MAX_BATCH, max_tokens=DEFAULT_MAX_TOKENS, eps=None,
            disaggregated: bool = False, decode_archs=None, ratios=DEFAULT_RATIOS) -> list[Layout]:
    """Candidate layouts: every arch x tp x ep x pp x scheduler x max_batch x max_tokens with
    tp dividing the heads and within a node, ep (MoE models only) dividing the experts (across
    nodes only on an arch with a network), pp at most the layers; with disaggregated, also
    prefill tp x decode (arch, tp, ep) x replica ratio (max_batch 256, max_tokens 8192).
    eps: default DEFAULT_EPS for a MoE model."""
    spec = load_model(model)
    if eps is None:
        eps = DEFAULT_EPS
    elif spec.n_experts <= 1 and max(eps) > 1:
        raise ScenarioError(f"ep > 1 needs a mixture-of-experts model; {spec.name} is dense")
    for e in eps:
        if isinstance(e, bool) or not isinstance(e, int) or e < 1:
            raise ScenarioError(f"ep must be integers >= 1, got {e!r}")
    if "disaggregated" in schedulers:
        disaggregated = True
        schedulers = [x for x in schedulers if x != "disaggregated"]
    for x in schedulers:
        if x not in ("static", "continuous", "chunked"):
            raise ScenarioError(f"scheduler must be one of static, continuous, chunked, "
                                f"disaggregated, got {x!r}")
    out = []
    for arch in archs:
        a = load_arch(arch)
        ok_tp = [t for t in tps if spec.tp_error(t) is None and t <= a["devices_per_node"]
                 and (t == 1 or a["link_bw"] > 0)]
        for tp, pp, sch, mb, mt in itertools.product(ok_tp, pps, schedulers, max_batches,
                                                     max_tokens):
            if pp <= spec.n_layers:
                for e in _eps(spec, a, tp, eps):
                    out.append(Layout(a.name, tp, pp, sch, mb, mt, ep=e))
        if disaggregated:
            for darch in (decode_archs or [a.name]):
                da = load_arch(darch)
                d_tp = [t for t in tps if spec.tp_error(t) is None and t <= da["devices_per_node"]
                        and (t == 1 or da["link_bw"] > 0)]
                for tp, dtp, (npre, ndec) in itertools.product(ok_tp, d_tp, ratios):
                    for e, de in itertools.product(_eps(spec, a, tp, eps),
                                                   _eps(spec, da, dtp, eps)):
                        out.append(Layout(a.name, tp, 1, "disaggregated", 256, 8192, npre,
                                          da.name, dtp, 1, ndec, ep=e, decode_ep=de))
    return out


@dataclass
class Workload:
    """The search's request sample: lengths, and unit-rate Poisson arrival times."""
    prompt: np.ndarray
    output: np.ndarray
    unit_arrival: np.ndarray
    describe: dict

    def at(self, rate: float) -> Requests:
        arr = np.zeros_like(self.unit_arrival) if math.isinf(rate) else self.unit_arrival / rate
        return Requests(arr, self.prompt, self.output, 0, 0.0, dict(self.describe))


def workload(n: int = 1000, prompt=512, output=128, trace=None, seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    if trace is not None:
        from ..workload.serving import load_trace
        tr = load_trace(trace)
        pick = rng.integers(0, tr["prompt_tokens"].shape[0], size=n)
        p, o = tr["prompt_tokens"][pick], tr["output_tokens"][pick]
        desc = {"trace": os.path.basename(tr["path"])[:-4]}
    else:
        pl, ol = lengths(prompt, "prompt"), lengths(output, "output", "output_tokens")
        p, o = pl.sample(n, rng), ol.sample(n, rng)
        desc = {"prompt": pl.describe(), "output": ol.describe()}
    gaps = rng.exponential(1.0, size=n)
    return Workload(p, o, np.cumsum(gaps), desc)


def _measure(model, layout: Layout, wl: Workload, rate: float, slo, extra: dict, archs=None,
             n: int | None = None):
    """to_dict of one unit of `layout` serving the workload at `rate` (its first n requests)."""
    archs = archs or {}
    kw = layout.serve_kw()
    if "decode_arch" in kw:
        kw["decode_arch"] = archs.get(kw["decode_arch"], kw["decode_arch"])
    req = wl.at(rate)
    if n is not None and n < req.n:
        req = Requests(req.arrival[:n], req.prompt[:n], req.output[:n], 0, 0.0, req.describe)
    r = serve(model, archs.get(layout.arch, layout.arch), requests_=req, slo_ttft=slo[0],
              slo_tpot=slo[1], series_points=2, **kw, **extra)
    return r.to_dict()


def _meets(d, slo) -> bool:
    tp = d["tpot_p99_s"] if d["tpot_p99_s"] is not None else 0.0
    return d["ttft_p90_s"] <= slo[0] and tp <= slo[1]


def evaluate_layout(model, layout: Layout, wl: Workload, slo, steps: int = 8,
                    extra: dict | None = None, grow: int = GROW) -> dict:
    """The highest rate one unit of `layout` sustains under slo = (p90 TTFT, p99 TPOT): a row
    with the layout, rate_per_unit (0 if even a light load misses the SLO), its latencies and
    cost at that rate, and the number of simulations run. `grow`: doublings of the bracket's top
    while the SLO holds at the all-at-once rate (module doc)."""
    extra = extra or {}
    row = {**asdict(layout), "label": layout.label(), "devices_per_unit": layout.devices}
    archs = {}
    try:
        for name in (layout.arch, layout.decode_arch):
            if name and name not in archs:
                archs[name] = load_arch(name)
        sat = _measure(model, layout, wl, math.inf, slo, extra, archs)
    except NmcError as e:                           # does not fit, bad tp, ...
        row.update(feasible=False, fits=False, reason=str(e), rate_per_unit=0.0, sims=0)
        return row
    r_sat = sat["requests_per_s"]
    sims = 1
    # a light load (1/64 of saturation) on a fifth of the requests: the best it can do
    lo = r_sat / 64.0
    d_lo = _measure(model, layout, wl, lo, slo, extra, archs, n=max(wl.prompt.shape[0] // 5, 50))
    sims += 1
    if not _meets(d_lo, slo):
        row.update(feasible=False, fits=True, rate_per_unit=0.0, sims=sims,
                   reason="misses the SLO even at 1/64 of its saturation rate",
                   **_figures(d_lo))
        return row
    # bisection on [lo, r_sat] (arithmetic: light loads are the slow ones to simulate)
    a, b = lo, r_sat
    best = d_lo
    d_hi = _measure(model, layout, wl, r_sat, slo, extra, archs)
    sims += 1
    if _meets(d_hi, slo):
        # the all-at-once run's rate underestimates the unit when its drain tail is long
        # (heavy-tailed outputs): raise the top of the bracket until the SLO is missed
        a, best = r_sat, d_hi
        for _ in range(grow):
            d = _measure(model, layout, wl, 2.0 * a, slo, extra, archs)
            sims += 1
            if not _meets(d, slo):
                b = 2.0 * a
                break
            a, best = 2.0 * a, d
        else:
            b = a
    if b > a:
        for _ in range(steps):
            mid = 0.5 * (a + b)
            d = _measure(model, layout, wl, mid, slo, extra, archs)
            sims += 1
            if _meets(d, slo):
                a, best = mid, d
            else:
                b = mid
    row.update(feasible=True, fits=True, rate_per_unit=a, sims=sims,
               saturation_rate=r_sat, **_figures(best))
    return row


def _figures(d: dict) -> dict:
    return {"ttft_p90_s": d["ttft_p90_s"], "tpot_p99_s": d["tpot_p99_s"],
            "throughput_tokens_per_s": d["throughput_tokens_per_s"],
            "mean_batch": d["mean_batch"], "energy_per_token_j": d["energy_per_token_j"],
            "cost_per_million_tokens": d["cost_per_million_tokens"]}


@dataclass
class SearchResult:
    rows: list            # one per layout (evaluate_layout), with units/devices for the target
    best: dict | None     # fewest devices at the target rate
    best_per_device: dict | None   # highest rate per device
    target_rate: float
    slo: tuple
    seconds: float
    simulations: int
    verify: dict | None = None

    def to_dict(self) -> dict:
        return {"target_rate": self.target_rate, "slo_ttft_s": self.slo[0],
                "slo_tpot_s": self.slo[1], "layouts": len(self.rows),
                "feasible_layouts": sum(1 for r in self.rows if r["feasible"]),
                "simulations": self.simulations, "seconds": self.seconds, "best": self.best,
                "best_rate_per_device": self.best_per_device, "verify": self.verify,
                "rows": self.rows}


def capacity_search(model, archs, *, rate: float, slo_ttft: float = 1.0,
                    slo_tpot: float = 0.05, n_requests: int = 1000, prompt=512, output=128,
                    trace=None, seed: int = 0, steps: int = 8, candidates=None, client=None,
                    threads: int | None = None, verify: bool = True, progress=None,
                    extra: dict | None = None, **layout_kw) -> SearchResult:
    """Fewest devices meeting p90 TTFT <= slo_ttft and p99 TPOT <= slo_tpot at `rate`
    requests/s, over `candidates` (default: layouts(model, archs, **layout_kw)). Raises
    NmcError when no layout meets the SLO, naming the best latencies that can be reached."""
    from ..workload.serving import check_rate
    rate = check_rate(rate)
    if math.isinf(rate):
        raise ScenarioError("the target rate of a capacity search must be finite")
    slo = (float(slo_ttft), float(slo_tpot))
    if not (slo[0] > 0 and slo[1] > 0):
        raise ScenarioError(f"SLO times must be > 0 s, got TTFT {slo_ttft}, TPOT {slo_tpot}")
    archs = [archs] if isinstance(archs, str) else list(archs)
    spec = load_model(model)
    cands = list(candidates) if candidates is not None else layouts(spec, archs, **layout_kw)
    if not cands:
        raise ScenarioError("no candidate layout (check tp against the heads and "
                            "devices_per_node)")
    wl = workload(n_requests, prompt, output, trace, seed)
    t0 = time.perf_counter()
    if client is not None:
        futs = client.map(evaluate_layout, [spec] * len(cands), cands, [wl] * len(cands),
                          [slo] * len(cands), [steps] * len(cands), [extra] * len(cands),
                          pure=False)
        rows = client.gather(futs)
    else:
        n_th = threads or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=n_th) as ex:
            futs = [ex.submit(evaluate_layout, spec, c, wl, slo, steps, extra) for c in cands]
            rows = []
            for f in futs:
                rows.append(f.result())
                if progress:
                    progress(len(rows), len(cands))
    for r in rows:
        if r["feasible"]:
            r["units"] = max(1, math.ceil(rate / r["rate_per_unit"] * (1 - 1e-12)))
            r["devices"] = r["units"] * r["devices_per_unit"]
            r["rate_per_device"] = r["rate_per_unit"] / r["devices_per_unit"]
        else:
            r["units"] = r["devices"] = None
            r["rate_per_device"] = 0.0
    ok = [r for r in rows if r["feasible"]]
    sims = sum(r["sims"] for r in rows)
    if not ok:
        reach = [r for r in rows if r.get("fits") and r.get("ttft_p90_s") is not None]
        if not reach:
            raise NmcError(f"no layout of {spec.name} on {', '.join(archs)} fits in memory; "
                           f"allow larger tp/pp")
        bt = min(reach, key=lambda r: r["ttft_p90_s"])
        bp = min(reach, key=lambda r: r["tpot_p99_s"] or 0.0)
        raise NmcError(
            f"no fleet meets p90 TTFT <= {slo[0]:g} s and p99 TPOT <= {slo[1]:g} s for "
            f"{spec.name} on {', '.join(archs)} ({len(rows)} layouts): the best reachable, "
            f"at a light load, is p90 TTFT {bt['ttft_p90_s']:.3g} s ({bt['label']}) and p99 "
            f"TPOT {bp['tpot_p99_s']:.3g} s ({bp['label']})")
    best = min(ok, key=lambda r: (r["devices"], r["cost_per_million_tokens"] or 0.0,
                                  r["ttft_p90_s"]))
    per_dev = max(ok, key=lambda r: r["rate_per_device"])
    res = SearchResult(rows, best, per_dev, rate, slo, 0.0, sims)
    if verify:
        lay = Layout(**{k: best[k] for k in Layout.__dataclass_fields__})
        kw = lay.serve_kw()
        kw["replicas"] = lay.replicas * best["units"]
        if lay.scheduler == "disaggregated":
            kw["decode_replicas"] = lay.decode_replicas * best["units"]
        n_v = max(n_requests, 200 * best["units"])
        d = serve(spec, lay.arch, rate=rate, n_requests=n_v, prompt=prompt, output=output,
                  trace=trace, seed=seed + 1, slo_ttft=slo[0], slo_tpot=slo[1],
                  series_points=2, **kw, **(extra or {})).to_dict()
        res.verify = {"replicas": kw["replicas"], "n_requests": n_v, **_figures(d),
                      "meets_slo": _meets(d, slo), "load_balancer": "least-loaded"}
        res.simulations += 1
    res.seconds = time.perf_counter() - t0
    return res
