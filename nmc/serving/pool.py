"""A pool of identical replicas (one arch, one layout, one scheduler) as the flat vectors the
event loop reads, and one run of the loop over a request stream.

Layout inside a replica: tp tensor-parallel devices, ep expert-parallel groups of them per
stage, pp pipeline stages (tp x ep x pp devices). A pipeline-parallel replica runs pp batches
in flight (vLLM's virtual engines): it is simulated as pp engines, each holding 1/pp of the
replica's KV blocks, whose iteration takes a full pass over all layers (the sum of the stage
times) plus the activation hand-offs between stages. Expert parallelism (MoE models, ep > 1) is
data-parallel attention over ep groups of tp devices with the routed experts split over the
groups (docs/model.md): an engine's batch is spread evenly over its ep groups, each iteration
is priced as one group's pass over 1/ep of the batch (engine.serve.price_batch, with the
dispatch/combine all-to-alls), `max_batch` and `max_tokens` are per group, and the KV blocks of
the ep groups are pooled (docs/serving.md, "Layouts")."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import engine  # noqa: F401  (kernels decorated under nmc's cache directory)
from .. import units
from ..analysis.inference import check_scenario
from ..arch.loader import Architecture
from ..engine import layout as L
from ..engine.aimc import model_tiles, system_chips
from ..engine.ops import build_ops, footprint
from ..engine.serve_loop import simulate
from ..engine.warm import warm
from ..engine.pim import static_power
from ..engine.vectors import model_vector, scenario_vector
from ..errors import ScenarioError
from ..workload.model import ModelSpec
from ..workload.scenario import DTYPES, Scenario

SCHEDULERS = tuple(L.SCHED_NAMES)                      # static, continuous, chunked
LOAD_BALANCERS = tuple(L.LB_NAMES)                     # round-robin, least-loaded, random
PREEMPTIONS = tuple(L.PREEMPT_NAMES)                   # recompute, swap
ADMISSIONS = tuple(L.ADMIT_NAMES)                      # greedy, reserve
DEFAULT_MAX_TOKENS = {"static": 16384, "continuous": 8192, "chunked": 2048}


def _choice(value, allowed, what):
    if value not in allowed:
        raise ScenarioError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
    return allowed.index(value)


def _int(value, what, lo=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) \
            or value != int(value) or value < lo:
        raise ScenarioError(f"{what} must be an integer >= {lo}, got {value!r}")
    return int(value)


@dataclass
class Pool:
    spec: ModelSpec
    arch: Architecture
    tp: int = 1
    pp: int = 1
    replicas: int = 1
    ep: int = 1
    scheduler: str = "continuous"
    max_batch: int = 256
    max_tokens: int | None = None
    block_size: int = 16
    preemption: str = "recompute"
    admission: str = "greedy"
    load_balancer: str = "least-loaded"
    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"
    mapping: str = "auto"
    runtime: str = "graphs"
    dequant: str | float = "fused"
    swap_bw: float = 25e9
    role: str = "serve"             # serve | prefill | decode
    price_per_hour: float = 0.0     # per device; 0 = unknown
    warnings: list = field(default_factory=list)

    def __post_init__(self):
        self.tp = _int(self.tp, "tp")
        self.pp = _int(self.pp, "pp")
        self.replicas = _int(self.replicas, "replicas")
        self.ep = _int(self.ep, "ep")
        self.max_batch = _int(self.max_batch, "max_batch")
        self.block_size = _int(self.block_size, "block_size")
        _choice(self.scheduler, SCHEDULERS, "scheduler")
        _choice(self.preemption, PREEMPTIONS, "preemption")
        _choice(self.admission, ADMISSIONS, "admission")
        _choice(self.load_balancer, LOAD_BALANCERS, "load_balancer")
        if self.max_tokens is None:
            self.max_tokens = DEFAULT_MAX_TOKENS[self.scheduler]
        self.max_tokens = _int(self.max_tokens, "max_tokens")
        if self.pp > self.spec.n_layers:
            raise ScenarioError(f"pp={self.pp} exceeds the {self.spec.n_layers} layers of "
                                f"{self.spec.name}")
        # batch = ep: one sequence per data-parallel group (check_scenario warns otherwise)
        self.scenario = Scenario(phase="decode", batch=self.ep, tp=self.tp, ep=self.ep,
                                 weights=self.weights, activations=self.activations, kv=self.kv,
                                 mapping=self.mapping, runtime=self.runtime,
                                 dequant=self.dequant)
        # keep what says where the collectives run (multi-node tp x ep); the rest (sequence
        # length of the placeholder scenario) does not apply to a pool
        self.warnings += [w for w in check_scenario(self.spec, self.arch, self.scenario)
                          if "nodes" in w]
        if self.ep > 1 and self.arch["aimc_tiles"] > 0:
            raise ScenarioError(f"ep={self.ep}: expert parallelism is not modelled on AIMC "
                                f"systems ({self.arch.name})")
        per_replica = self.tp * self.ep * self.pp
        if per_replica > self.arch["devices_per_node"] and self.arch["net_bw"] <= 0:
            raise ScenarioError(f"tp x ep x pp = {per_replica} devices exceed devices_per_node="
                                f"{int(self.arch['devices_per_node'])} of {self.arch.name} and "
                                f"it has no scale-out network (net_bw = 0)")
        if self.swap_bw <= 0:
            raise ScenarioError(f"swap_bw must be > 0, got {self.swap_bw}")
        self.m = model_vector(self.spec)
        self.s = scenario_vector(self.scenario)
        self.a = self.arch.vector()
        self._kv_layout()

    # ---- memory ------------------------------------------------------------------------------
    def _kv_layout(self):
        a, sv = self.arch, self.s
        wdt, adt, kvdt = sv[L.S_WDT], sv[L.S_ADT], sv[L.S_KVDT]
        cap = a["mem_capacity"] * a["mem_usable"]
        ep = float(self.ep)
        # weights per device: non-expert parameters / tp, routed experts / (tp x ep)
        w, kv1, _ = footprint(self.m, ep, 1.0, 1.0, float(self.tp), wdt, adt, kvdt, ep)
        w /= self.pp
        kv1 /= self.pp                                  # one token's KV on one device
        # activations of one group's pass: max_batch sequences, max_tokens tokens
        _, _, act = footprint(self.m, float(self.max_batch) * ep, 0.0,
                              self.max_tokens / self.max_batch,
                              float(self.tp), wdt, adt, kvdt, ep)
        # p_static, plus the PIM units' static power on a PIM system (engine.pim.static_power)
        self.static_power_w = self.devices * float(static_power(self.a))
        if a["aimc_tiles"] > 0:
            # AIMC: static weights sit in the crossbar tiles when they fit; the digital unit's
            # memory then holds the embedding table, KV cache and activations (as
            # aimc.aimc_summary); every chip draws its static power for the whole time
            ops = np.zeros((L.N_SLOTS, L.N_OF))
            build_ops(self.m, 1.0, 1.0, 0.0, float(self.tp), wdt, adt, kvdt, self.s[L.S_RUNTIME],
                      ops)
            need, _ = model_tiles(ops, self.a)
            chips, _ = system_chips(self.a, need)
            if need <= chips * a["aimc_tiles"]:
                w = self.spec.vocab * self.spec.d_model * DTYPES[self.weights][1]
            self.static_power_w += self.replicas * self.pp * chips * a["aimc_p_chip"]
        self.weight_bytes = w
        self.activation_bytes = act
        self.kv_token_bytes = kv1                       # per device
        self.kv_token_bytes_model = kv1 * self.tp * self.pp   # whole replica (all layers, heads)
        avail = cap - w - act
        if avail <= 0:
            raise ScenarioError(
                ("" if self.role == "serve" else f"{self.role} pool: ")
                + f"{self.spec.name} does not fit on {a.name} with tp={self.tp}, pp={self.pp}"
                + (f", ep={self.ep}" if self.ep > 1 else "") + ": "
                f"weights {w / 1e9:.1f} GB + activations {act / 1e9:.2f} GB per device exceed "
                f"the usable {cap / 1e9:.1f} GB (raise tp or pp, or lower max_tokens)")
        tokens = avail / kv1                            # per data-parallel group of tp devices
        self.kv_blocks_group = int(tokens // self.block_size) // self.pp
        self.kv_blocks_replica = int(tokens // self.block_size) * self.ep
        self.kv_blocks = self.kv_blocks_group * self.ep  # one engine: its ep groups pooled
        if self.kv_blocks_group < 1:
            raise ScenarioError(f"no KV-cache block fits on {a.name} next to the weights of "
                                f"{self.spec.name} (tp={self.tp}, pp={self.pp})")

    @property
    def kv_tokens(self) -> int:
        """Tokens of KV cache one engine holds."""
        return self.kv_blocks * self.block_size

    @property
    def devices_per_replica(self) -> int:
        return self.tp * self.ep * self.pp

    @property
    def devices(self) -> int:
        return self.devices_per_replica * self.replicas

    @property
    def engines(self) -> int:
        return self.replicas * self.pp

    def layout(self) -> dict:
        d = {"arch": self.arch.name, "tp": self.tp, "ep": self.ep, "pp": self.pp,
             "replicas": self.replicas, "devices": self.devices, "scheduler": self.scheduler,
             "runtime": self.runtime, "dequant": self.dequant, "max_batch": self.max_batch,
             "max_tokens": self.max_tokens, "block_size": self.block_size,
             "kv_blocks_per_engine": self.kv_blocks, "kv_tokens_per_engine": self.kv_tokens,
             "preemption": self.preemption, "admission": self.admission,
             "load_balancer": self.load_balancer}
        if self.role != "serve":
            d["role"] = self.role
        return d

    # ---- the loop ----------------------------------------------------------------------------
    def config(self, concurrency: int = 0, think_s: float = 0.0, seed: int = 0,
               series_points: int = 2000) -> np.ndarray:
        a = self.arch
        cfg = np.zeros(L.N_SV)
        cfg[L.SV_SCHED] = SCHEDULERS.index(self.scheduler)
        cfg[L.SV_MAX_BATCH] = self.max_batch * self.ep     # per group x groups
        cfg[L.SV_MAX_TOKENS] = self.max_tokens * self.ep
        cfg[L.SV_BLOCK] = self.block_size
        cfg[L.SV_BLOCKS] = self.kv_blocks
        cfg[L.SV_ENGINES] = self.engines
        cfg[L.SV_LB] = LOAD_BALANCERS.index(self.load_balancer)
        cfg[L.SV_PREEMPT] = PREEMPTIONS.index(self.preemption)
        cfg[L.SV_ADMIT] = ADMISSIONS.index(self.admission)
        cfg[L.SV_SWAP_S] = self.kv_token_bytes / self.swap_bw
        cfg[L.SV_CONCURRENCY] = concurrency
        cfg[L.SV_THINK] = think_s
        cfg[L.SV_PP] = self.pp
        if self.pp > 1:
            # activations of one token (d x activation bytes, on each of the tp devices)
            # cross each stage boundary: scale-up link inside a node, else the network; the ep
            # groups hand off their 1/ep of the tokens in parallel
            ab = DTYPES[self.activations][1]
            per_tok = self.spec.d_model * ab
            inside = self.devices_per_replica <= a["devices_per_node"]
            bw = a["link_bw"] if inside else a["net_bw"]
            lat = a["link_latency"] if inside else a["net_latency"]
            if bw <= 0:
                bw, lat = max(a["link_bw"], a["net_bw"]), a["link_latency"]
            if bw <= 0:
                raise ScenarioError(f"pp={self.pp} needs a link between devices but {a.name} "
                                    f"has link_bw = net_bw = 0")
            cfg[L.SV_P2P_S] = per_tok / (bw * a["eff_link"]) / self.ep
            cfg[L.SV_P2P_LAT] = lat
            cfg[L.SV_P2P_E] = per_tok * self.tp * a["e_link"]
        cfg[L.SV_SEED] = seed
        cfg[L.SV_SERIES] = series_points
        return cfg

    def check_fits(self, prompt: np.ndarray, output: np.ndarray) -> None:
        """Every request's KV (prompt + output tokens) must fit one engine's blocks (with ep:
        one data-parallel group's share of them)."""
        total = prompt.astype(np.int64) + output
        worst = int(np.argmax(total))
        if self.scheduler == "static":
            need = math.ceil(total[worst] / self.block_size)
        else:
            need = math.ceil(max(total[worst] - 1, 1) / self.block_size)
        if need > self.kv_blocks_group:
            where = "one engine" if self.ep == 1 else "one data-parallel group"
            raise ScenarioError(
                f"a request of {int(prompt[worst])} prompt + {int(output[worst])} output tokens "
                f"needs {need} KV blocks of {self.block_size} tokens but {where} of "
                f"{self.arch.name} (tp={self.tp}, pp={self.pp}"
                + (f", ep={self.ep}" if self.ep > 1 else "") + f") holds "
                f"{self.kv_blocks_group} ({self.kv_blocks_group * self.block_size} tokens); "
                f"raise tp/pp or shorten the requests")

    def run(self, arrival, prompt, output, kv0=None, t_first=None, concurrency=0, think_s=0.0,
            seed=0, series_points=2000) -> dict:
        """One run of the event loop; returns per-request arrays, stats and the series."""
        n = prompt.shape[0]
        arr = np.array(arrival, dtype=np.float64)       # the loop writes closed-loop arrivals
        kv0 = np.zeros(n, dtype=np.int64) if kv0 is None else kv0.astype(np.int64)
        tf = np.full(n, np.nan) if t_first is None else np.array(t_first, dtype=np.float64)
        ts = np.empty(n)
        td = np.empty(n)
        npre = np.zeros(n, dtype=np.int32)
        stats = np.zeros(L.N_SS)
        series = np.zeros((max(int(series_points), 2), L.N_TS))
        cfg = self.config(concurrency, think_s, seed, series_points)
        warm("serve")       # a cold cache: the event loop compiled in two processes
        rc = simulate(self.m, self.s, self.a, cfg, arr, prompt.astype(np.int64),
                      output.astype(np.int64), kv0, tf, ts, td, npre, stats, series)
        if rc != 0:
            raise ScenarioError(f"the {self.role} pool on {self.arch.name} cannot schedule the "
                                f"remaining requests (KV blocks too few for one request)")
        k = int(stats[L.SS_SERIES_N])
        return {"arrival": arr, "t_first": tf, "t_sched": ts, "t_done": td, "preemptions": npre,
                "stats": dict(zip(L.SERVE_STATS, stats.tolist())),
                "series": series[:k].copy(), "cfg": cfg}


def parse_bw(value, what: str) -> float:
    v = units.parse(value, "bw", what)
    if not v > 0:
        raise ScenarioError(f"{what} must be > 0, got {value!r}")
    return v
