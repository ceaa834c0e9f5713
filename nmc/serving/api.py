"""nmc.serve(model, arch, rate=..., ...) -> ServeReport: a request stream served by a fleet,
iteration by iteration (docs/serving.md).

One pool of replicas (static, continuous or chunked-prefill batching), or two pools for
prefill-decode disaggregation: the prefill pool runs each prompt and emits its first token,
the KV cache crosses the link between the pools, the decode pool (possibly another arch, e.g.
GPU+PIM) generates the rest."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..paths import output_file, write_error
from .. import units
from ..arch.loader import Architecture, load_arch
from ..engine import layout as L
from ..errors import ScenarioError
from ..workload.model import ModelSpec, load_model
from ..workload.serving import Requests, requests
from .pool import Pool, parse_bw

SCHEDULER_CHOICES = ("static", "continuous", "chunked", "disaggregated")
PERCENTILES = (50, 90, 99)


def price_of(arch: Architecture, given) -> float:
    """Price per device-hour in USD: the given one, else the preset's (0 = unknown)."""
    if given is None:
        return float(arch["price_per_hour"])
    v = units.parse(given, "price", "price_per_hour")
    if v < 0:
        raise ScenarioError(f"price_per_hour must be >= 0, got {given!r}")
    return v


@dataclass
class ServeReport:
    model: ModelSpec
    pools: dict                      # role -> Pool ("serve", or "prefill" and "decode")
    workload: dict
    arrival: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    t_first: np.ndarray
    t_sched: np.ndarray
    t_done: np.ndarray
    preemptions: np.ndarray
    stats: dict                      # role -> counters (layout.SERVE_STATS)
    series: dict                     # role -> array [k, layout.N_TS]
    slo_ttft_s: float
    slo_tpot_s: float
    kv_transfer_s: np.ndarray | None = None
    kv_link: dict | None = None
    warnings: list = field(default_factory=list)

    # ---- per-request latencies -----------------------------------------------------------
    @property
    def ttft(self) -> np.ndarray:
        return self.t_first - self.arrival

    @property
    def tpot(self) -> np.ndarray:
        """Time per output token after the first: (last - first token) / (output - 1), for
        requests with at least two output tokens."""
        many = self.output > 1
        return (self.t_done[many] - self.t_first[many]) / (self.output[many] - 1)

    @property
    def e2e(self) -> np.ndarray:
        return self.t_done - self.arrival

    @property
    def duration_s(self) -> float:
        return float(np.max(self.t_done) - np.min(self.arrival))

    @property
    def devices(self) -> int:
        return sum(p.devices for p in self.pools.values())

    def meets_slo(self) -> np.ndarray:
        """Per request: TTFT <= slo_ttft and TPOT <= slo_tpot (TPOT of a 1-token output: met)."""
        tp = np.zeros(self.output.shape[0])
        many = self.output > 1
        tp[many] = self.tpot
        return (self.ttft <= self.slo_ttft_s) & (tp <= self.slo_tpot_s)

    # ---- the headline dictionary ---------------------------------------------------------
    def to_dict(self) -> dict:
        dur = self.duration_s
        out_tok = float(self.output.sum())
        d = {"model": self.model.name,
             "arch": "+".join(dict.fromkeys(p.arch.name for p in self.pools.values())),
             "scheduler": ("disaggregated" if "prefill" in self.pools
                           else self.pools["serve"].scheduler),
             "devices": self.devices, "n_requests": int(self.output.shape[0]),
             "workload": dict(self.workload)}
        for name, x in (("ttft", self.ttft), ("tpot", self.tpot), ("e2e", self.e2e)):
            x = x[np.isfinite(x)]
            for p in PERCENTILES:
                d[f"{name}_p{p}_s"] = float(np.percentile(x, p)) if x.size else None
            d[f"{name}_mean_s"] = float(x.mean()) if x.size else None
        d["throughput_tokens_per_s"] = out_tok / dur
        d["input_tokens_per_s"] = float(self.prompt.sum()) / dur
        d["requests_per_s"] = self.output.shape[0] / dur
        ok = self.meets_slo()
        d["slo_ttft_s"] = self.slo_ttft_s
        d["slo_tpot_s"] = self.slo_tpot_s
        d["slo_attainment"] = float(ok.mean())
        d["goodput_requests_per_s"] = float(ok.sum()) / dur
        d["goodput_tokens_per_s"] = float(self.output[ok].sum()) / dur
        main = "decode" if "decode" in self.pools else "serve"
        st = self.stats[main]
        pool = self.pools[main]
        d["mean_batch"] = st["seqs"] / st["iterations"] if st["iterations"] else 0.0
        d["mean_running"] = st["running_s"] / dur
        blocks = pool.kv_blocks * pool.engines
        d["kv_use_mean"] = st["kv_block_s"] / (dur * blocks)
        d["kv_use_peak"] = st["kv_peak_blocks"] / pool.kv_blocks
        d["kv_tokens_per_engine"] = pool.kv_tokens
        d["preemptions"] = int(sum(s["preemptions"] for s in self.stats.values()))
        d["preempted_requests"] = int((self.preemptions > 0).sum())
        # energy: dynamic (every pass) + static power of every device for the whole duration
        e_dyn = sum(s["energy_j"] for s in self.stats.values())
        e_static = sum(p.static_power_w * dur for p in self.pools.values())
        e_link = 0.0
        if self.kv_link is not None:
            e_link = self.kv_link["bytes"] * self.kv_link["j_per_byte"]
        d["energy_j"] = e_dyn + e_static + e_link
        d["energy_per_token_j"] = d["energy_j"] / out_tok
        prices = [p.price_per_hour for p in self.pools.values()]
        if all(pr > 0 for pr in prices):
            usd = sum(p.devices * p.price_per_hour for p in self.pools.values()) * dur / 3600.0
            d["price_per_device_hour"] = {r: p.price_per_hour for r, p in self.pools.items()}
            d["cost_usd"] = usd
            d["cost_per_million_tokens"] = usd / out_tok * 1e6
        else:
            d["price_per_device_hour"] = None
            d["price_unknown_for"] = sorted({p.arch.name for p in self.pools.values()
                                             if not p.price_per_hour > 0})
            d["cost_usd"] = None
            d["cost_per_million_tokens"] = None
        d["duration_s"] = dur
        d["iterations"] = int(sum(s["iterations"] for s in self.stats.values()))
        d["busy_fraction"] = st["busy_s"] / (dur * pool.engines)
        d["layout"] = {r: p.layout() for r, p in self.pools.items()}
        if "prefill" in self.pools:
            sp = self.stats["prefill"]
            d["prefill_mean_batch"] = sp["seqs"] / sp["iterations"] if sp["iterations"] else 0.0
            d["kv_transfer_mean_s"] = float(np.mean(self.kv_transfer_s))
            d["kv_link"] = {k: v for k, v in self.kv_link.items() if k != "j_per_byte"}
        d["warnings"] = list(self.warnings)
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    # ---- the time series -----------------------------------------------------------------
    def series_rows(self) -> list[dict]:
        """Rows time_s, pool, batch (running sequences), queue (waiting requests), kv_use
        (fraction of the pool's KV blocks in use), tokens (of the sampled iteration)."""
        rows = []
        for role, ser in self.series.items():
            for k in range(ser.shape[0]):
                r = {"pool": role}
                r.update({f: float(ser[k, i]) for i, f in enumerate(L.SERIES_FIELDS)})
                rows.append(r)
        rows.sort(key=lambda r: (r["pool"], r["time_s"]))
        return rows

    def write_series(self, path) -> str:
        rows = self.series_rows()
        cols = ["time_s", "pool", *L.SERIES_FIELDS[1:]]
        path = output_file(path, "series.csv")
        try:
            with open(path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=cols)
                w.writeheader()
                for r in rows:
                    w.writerow({c: r[c] for c in cols})
        except OSError as e:
            raise write_error(path, e) from None
        return str(path)

    def request_rows(self) -> list[dict]:
        """One row per request: lengths, arrival, TTFT, TPOT, end-to-end, preemptions."""
        tpot = np.full(self.output.shape[0], np.nan)
        many = self.output > 1
        tpot[many] = self.tpot
        return [{"request": i, "arrival_s": float(self.arrival[i]),
                 "prompt_tokens": int(self.prompt[i]), "output_tokens": int(self.output[i]),
                 "ttft_s": float(self.ttft[i]), "tpot_s": float(tpot[i]),
                 "e2e_s": float(self.e2e[i]), "preemptions": int(self.preemptions[i])}
                for i in range(self.output.shape[0])]


def _pool(spec, arch, role, overrides, price, **kw) -> Pool:
    a = load_arch(arch)
    if overrides:
        a = a.with_(**overrides)
    return Pool(spec, a, role=role, price_per_hour=price_of(a, price), **kw)


def serve(model, arch, *, rate=None, n_requests: int | None = None, prompt=512, output=128,
          concurrency: int | None = None, trace=None, think_time: float = 0.0,
          scheduler: str = "continuous", max_batch: int = 256, max_tokens: int | None = None,
          block_size: int = 16, preemption: str = "recompute", admission: str = "greedy",
          tp: int = 1, pp: int = 1,
          ep: int = 1, replicas: int = 1, load_balancer: str = "least-loaded",
          weights: str = "bf16", activations: str = "bf16", kv: str = "bf16",
          mapping: str = "auto", runtime: str = "graphs", dequant="fused",
          decode_arch=None, decode_tp: int | None = None, decode_pp: int | None = None,
          decode_ep: int | None = None, decode_replicas: int | None = None,
          decode_max_batch: int | None = None,
          decode_mapping: str | None = None, kv_link_bw=None, slo_ttft: float = 1.0,
          slo_tpot: float = 0.05, price_per_hour=None, decode_price_per_hour=None,
          swap_bw="25 GB/s", seed: int = 0, series_points: int = 2000,
          requests_: Requests | None = None, **arch_overrides) -> ServeReport:
    """Serve a request stream on a fleet and report latencies, throughput, goodput, batch,
    KV use, preemptions, energy and cost (docs/serving.md).

    Workload: `rate` (requests/s, Poisson; inf = all at once) or `concurrency` (closed loop)
    or a `trace` (bundled name or CSV path); `prompt`/`output`: a length or a distribution
    ("uniform:128:1024", "lognormal:mean=800,median=500", "trace:chat"); `n_requests`.
    Fleet: `replicas` of `tp` x `ep` x `pp` devices of `arch` (ep > 1: expert parallelism of
    a MoE model, ep data-parallel attention groups of tp devices; max_batch and max_tokens are
    then per group); `scheduler` static | continuous | chunked | disaggregated (prefill on
    `arch`, decode on `decode_arch` with decode_tp, decode_ep, decode_pp, decode_replicas; KV
    over `kv_link_bw`, default the prefill arch's network). `runtime` (eager | graphs | fused)
    and `dequant` (fused | torch | ops per weight) as in nmc.analyze (docs/model.md).
    `admission`: greedy (KV blocks for the prompt, preempt when the cache is full: vLLM) or
    reserve (blocks for prompt + output at admission: TensorRT-LLM's no-evict policy).
    SLO for goodput: `slo_ttft` and `slo_tpot` (s). Cost: `price_per_hour` USD per device-hour
    (default: the preset's price_per_hour, 0 = unknown). Extra keywords override parameters of
    arch (and of decode_arch)."""
    spec = load_model(model)
    if scheduler not in SCHEDULER_CHOICES:
        raise ScenarioError(f"scheduler must be one of {', '.join(SCHEDULER_CHOICES)}, got "
                            f"{scheduler!r}")
    for name, v in (("slo_ttft", slo_ttft), ("slo_tpot", slo_tpot)):
        if not (isinstance(v, (int, float)) and v > 0):
            raise ScenarioError(f"{name} must be > 0 s, got {v!r}")
    swap = parse_bw(swap_bw, "swap_bw")
    req = requests_ or requests(n_requests, rate=rate, concurrency=concurrency, prompt=prompt,
                                output=output, trace=trace, think_s=think_time, seed=seed)
    common = dict(weights=weights, activations=activations, kv=kv, block_size=block_size,
                  preemption=preemption, admission=admission, load_balancer=load_balancer,
                  swap_bw=swap,
                  runtime=runtime, dequant=dequant)
    workload = dict(req.describe or {})
    if rate is not None:
        workload["rate"] = float(rate)          # for programs; "arrivals" says it in words
    if req.concurrency:
        workload["concurrency"] = req.concurrency
    warnings = []
    long = int((req.prompt + req.output).max())
    if long > spec.max_positions:
        warnings.append(f"a request of {long} tokens exceeds {spec.name}'s "
                        f"max_position_embeddings ({spec.max_positions})")
    if scheduler != "disaggregated":
        pool = _pool(spec, arch, "serve", arch_overrides, price_per_hour, tp=tp, pp=pp, ep=ep,
                     replicas=replicas, scheduler=scheduler, max_batch=max_batch,
                     max_tokens=max_tokens, mapping=mapping, **common)
        pool.check_fits(req.prompt, req.output)
        warnings += pool.warnings
        r = pool.run(req.arrival, req.prompt, req.output, concurrency=req.concurrency,
                     think_s=req.think_s, seed=seed, series_points=series_points)
        return ServeReport(spec, {"serve": pool}, workload, r["arrival"], req.prompt,
                           req.output, r["t_first"], r["t_sched"], r["t_done"],
                           r["preemptions"], {"serve": r["stats"]}, {"serve": r["series"]},
                           float(slo_ttft), float(slo_tpot), warnings=warnings)

    # ---- prefill-decode disaggregation ---------------------------------------------------
    if req.concurrency:
        raise ScenarioError("disaggregated serving takes an open-loop workload (rate or "
                            "trace), not a closed loop")
    pre = _pool(spec, arch, "prefill", arch_overrides, price_per_hour, tp=tp, pp=pp, ep=ep,
                replicas=replicas, scheduler="continuous", max_batch=max_batch,
                max_tokens=max_tokens, mapping=mapping, **common)
    dec = _pool(spec, decode_arch or arch, "decode", arch_overrides, decode_price_per_hour
                if decode_arch is not None else (decode_price_per_hour or price_per_hour),
                tp=decode_tp or tp, pp=decode_pp or pp,
                ep=decode_ep or ep,
                replicas=decode_replicas or replicas, scheduler="continuous",
                max_batch=decode_max_batch or max_batch, max_tokens=max_tokens,
                mapping=decode_mapping or mapping, **common)
    warnings += [f"{p.role} pool: {w}" for p in (pre, dec) for w in p.warnings]
    ones = np.ones_like(req.output)
    pre.check_fits(req.prompt, ones)
    dec.check_fits(req.prompt, req.output)
    rp = pre.run(req.arrival, req.prompt, ones, seed=seed, series_points=series_points)
    # the KV cache of each prompt crosses to the decode pool: all tp x pp devices of the
    # prefill replica send their shards in parallel over their own NICs
    link = _kv_link(pre, dec, kv_link_bw)
    kv_bytes = req.prompt * pre.kv_token_bytes_model
    t_kv = link["latency_s"] + kv_bytes / link["bw"]
    ready = rp["t_done"] + t_kv
    order = np.argsort(ready, kind="stable")
    rd = dec.run(ready[order], req.prompt[order], req.output[order], kv0=req.prompt[order],
                 t_first=rp["t_done"][order], seed=seed, series_points=series_points)
    back = np.empty_like(order)
    back[order] = np.arange(order.shape[0])
    link["bytes"] = float(kv_bytes.sum())
    return ServeReport(spec, {"prefill": pre, "decode": dec}, workload, req.arrival, req.prompt,
                       req.output, rp["t_done"], rp["t_sched"], rd["t_done"][back],
                       rp["preemptions"] + rd["preemptions"][back],
                       {"prefill": rp["stats"], "decode": rd["stats"]},
                       {"prefill": rp["series"], "decode": rd["series"]}, float(slo_ttft),
                       float(slo_tpot), kv_transfer_s=t_kv, kv_link=link, warnings=warnings)


def _kv_link(pre: Pool, dec: Pool, given) -> dict:
    """The link the KV cache crosses from a prefill replica to a decode replica: `given`
    (per device), else the prefill arch's scale-out network (the pools sit on different
    nodes), else its scale-up link; the tp x pp devices of the replica send in parallel."""
    a = pre.arch
    if given is not None:
        bw, lat, what = parse_bw(given, "kv_link_bw"), a["net_latency"], "given"
    elif a["net_bw"] > 0:
        bw, lat, what = a["net_bw"], a["net_latency"], f"{a.name} net_bw"
    elif a["link_bw"] > 0:
        bw, lat, what = a["link_bw"], a["link_latency"], f"{a.name} link_bw"
    else:
        raise ScenarioError(f"disaggregation moves the KV cache between pools but {a.name} has "
                            f"net_bw = link_bw = 0; give kv_link_bw")
    lanes = min(pre.tp * pre.pp, dec.tp * dec.pp)
    eff = bw * a["eff_link"] * lanes
    return {"bw": eff, "latency_s": lat, "per_device_bw": bw, "lanes": lanes, "source": what,
            "j_per_byte": a["e_link"]}


def percentile_summary(x: np.ndarray) -> dict:
    x = x[np.isfinite(x)]
    return {f"p{p}": float(np.percentile(x, p)) for p in PERCENTILES} if x.size else {}


def fmt_time(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return units.fmt(x, "s")
