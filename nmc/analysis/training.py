"""Training: nmc.train(model, arch, devices=..., tp=..., pp=...) -> TrainReport, and
search(...) for the fastest parallel layout that fits (docs/training.md).

This layer checks the configuration, packs it into the flat vector of nmc/engine/train.py and
reads the results; the cost equations live only in the kernel."""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..arch.loader import Architecture, load_arch
from ..engine.collectives import ALGO_NAMES
from ..engine.layout import (
    C_ADT,
    C_ALGO,
    C_CP,
    C_DP,
    C_EP,
    C_FP8,
    C_GRAD_BYTES,
    C_MB,
    C_NMICRO,
    C_OVERLAP,
    C_OVERLAP_EP,
    C_PP,
    C_RECOMP,
    C_RESHARD,
    C_SEQ,
    C_SP,
    C_TP,
    C_UNFUSED,
    C_VPP,
    C_WDT,
    C_ZERO,
    C_ZGROUP,
    FP8_NAMES,
    N_CFG,
    N_TR,
    RECOMP_NAMES,
    TR_FIELDS,
)
from ..engine.train import train_grid
from ..engine.warm import warm
from ..engine.vectors import model_vector
from ..errors import ScenarioError
from ..workload.model import ModelSpec, load_model
from ..workload.scenario import DTYPES, dtype_code
from .inference import json_default

TIME_SHARE_KEYS = ("compute", "memory", "latency", "comm_tp", "comm_pp", "comm_ep", "comm_cp",
                   "comm_dp", "optimizer", "bubble")


def _int(name, v, lo=1):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < lo:
        raise ScenarioError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


@dataclass
class TrainConfig:
    devices: int
    tp: int
    pp: int
    dp: int
    ep: int
    micro_batch: int
    global_batch: int
    seq: int
    recompute: str
    zero: int
    dtype: str
    vpp: int = 1
    sequence_parallel: bool = True
    overlap_dp: bool = True
    algorithm: str = "best"
    grad_bytes: float = 2.0
    attention: str = "flash"
    overlap_ep: bool = False
    cp: int = 1
    fp8_recipe: str = "delayed"
    zero3_reshard: bool = True
    zero_group: int = 0

    @property
    def n_micro(self) -> int:
        return self.global_batch // (self.dp * self.micro_batch)

    def vector(self) -> np.ndarray:
        c = np.zeros(N_CFG)
        c[C_TP], c[C_PP], c[C_DP], c[C_EP] = self.tp, self.pp, self.dp, self.ep
        c[C_MB], c[C_NMICRO], c[C_SEQ] = self.micro_batch, self.n_micro, self.seq
        c[C_RECOMP] = RECOMP_NAMES.index(self.recompute)
        c[C_ZERO] = self.zero
        if self.dtype == "fp8":
            # FP8 linear GEMMs (Transformer Engine style); weights, activations, attention and
            # communication stay in BF16 (docs/training.md, "FP8")
            c[C_WDT] = c[C_ADT] = dtype_code("bf16")
            c[C_FP8] = FP8_NAMES.index(self.fp8_recipe)
        else:
            c[C_WDT] = c[C_ADT] = dtype_code(self.dtype)
        c[C_CP] = self.cp
        c[C_RESHARD] = 1.0 if self.zero3_reshard else 0.0
        c[C_ZGROUP] = self.zero_group
        c[C_VPP] = self.vpp
        c[C_SP] = 1.0 if self.sequence_parallel else 0.0
        c[C_OVERLAP] = 1.0 if self.overlap_dp else 0.0
        c[C_ALGO] = ALGO_NAMES.index(self.algorithm)
        c[C_GRAD_BYTES] = self.grad_bytes
        c[C_UNFUSED] = 1.0 if self.attention == "unfused" else 0.0
        c[C_OVERLAP_EP] = 1.0 if self.overlap_ep else 0.0
        return c


def make_config(spec: ModelSpec, arch: Architecture, *, devices, tp=1, pp=1, dp=None, ep=1,
                cp=1, micro_batch=1, global_batch, seq, recompute="selective", zero=1,
                dtype="bf16", vpp=1, sequence_parallel=True, overlap_dp=True, algorithm="best",
                grad_bytes=2.0, attention="flash", overlap_ep=False, fp8_recipe="delayed",
                zero3_reshard=True, zero_group=None) -> tuple[TrainConfig, list[str]]:
    """Check a parallel layout; raise ScenarioError for impossible ones, return warnings for
    questionable ones."""
    devices = _int("devices", devices)
    tp, pp, ep, vpp = _int("tp", tp), _int("pp", pp), _int("ep", ep), _int("vpp", vpp)
    cp = _int("cp", cp)
    micro_batch = _int("micro_batch", micro_batch)
    global_batch = _int("global_batch", global_batch)
    seq = _int("seq", seq)
    if devices % (tp * pp * cp):
        raise ScenarioError(f"devices={devices} is not divisible by tp*pp*cp={tp}*{pp}*{cp}="
                            f"{tp * pp * cp}")
    dp_auto = devices // (tp * pp * cp)
    if dp is None:
        dp = dp_auto
    dp = _int("dp", dp)
    if tp * pp * dp * cp != devices:
        raise ScenarioError(f"tp*pp*dp*cp = {tp}*{pp}*{dp}*{cp} = {tp * pp * dp * cp} must "
                            f"equal devices={devices}")
    if cp > 1 and seq % (2 * cp):
        raise ScenarioError(f"seq={seq} must be a multiple of 2*cp={2 * cp} (two load-balanced "
                            f"chunks per context-parallel rank)")
    if cp > 1 and attention == "unfused":
        raise ScenarioError("context parallelism needs fused (flash) attention")
    if fp8_recipe not in FP8_NAMES[1:]:
        raise ScenarioError(f"fp8_recipe must be one of {', '.join(FP8_NAMES[1:])}, got "
                            f"{fp8_recipe!r}")
    if zero_group is None:
        zero_group = 0
    zero_group = _int("zero_group", zero_group, lo=0)
    if zero_group and (dp * cp) % zero_group:
        raise ScenarioError(f"zero_group={zero_group} must divide dp*cp={dp * cp}")
    why = spec.tp_error(tp)
    if why:
        raise ScenarioError(why)
    if pp > spec.n_layers:
        raise ScenarioError(f"pp={pp} exceeds the {spec.n_layers} layers of {spec.name}")
    if global_batch % (dp * micro_batch):
        raise ScenarioError(f"global_batch={global_batch} must be a multiple of "
                            f"dp*micro_batch={dp}*{micro_batch}={dp * micro_batch}")
    if recompute not in RECOMP_NAMES:
        raise ScenarioError(f"recompute must be one of {', '.join(RECOMP_NAMES)}, got {recompute!r}")
    if isinstance(zero, bool) or zero not in (0, 1, 2, 3):
        raise ScenarioError(f"zero must be 0, 1, 2 or 3, got {zero!r}")
    if str(dtype).lower() not in DTYPES or str(dtype).lower() in ("int8", "int4", "fp32"):
        raise ScenarioError(f"dtype must be bf16, fp16 or fp8 (GEMM precision), got {dtype!r}")
    if algorithm not in ALGO_NAMES:
        raise ScenarioError(f"algorithm must be one of {', '.join(ALGO_NAMES)}, got {algorithm!r}")
    if attention not in ("flash", "unfused"):
        raise ScenarioError(f"attention must be 'flash' or 'unfused', got {attention!r}")
    if grad_bytes not in (2, 2.0, 4, 4.0):
        raise ScenarioError(f"grad_bytes must be 2 (bf16) or 4 (fp32), got {grad_bytes!r}")
    if ep > 1:
        if spec.n_experts <= 1:
            raise ScenarioError(f"ep={ep} needs a mixture-of-experts model; {spec.name} is dense")
        if spec.n_experts % ep:
            raise ScenarioError(f"ep={ep} must divide the {spec.n_experts} experts of {spec.name}")
        if dp % ep:
            raise ScenarioError(f"ep={ep} must divide dp={dp} (expert ranks are drawn from the "
                                f"data-parallel ranks)")
    if vpp > 1 and (pp == 1 or vpp > math.ceil(spec.n_layers / pp)):
        raise ScenarioError(f"vpp={vpp} needs pp > 1 and at most one layer per virtual stage "
                            f"(layers per stage: {math.ceil(spec.n_layers / pp)})")
    warns = []
    if vpp > 1 and spec.n_layers % (pp * vpp):
        warns.append(f"layers ({spec.n_layers}) not divisible by pp*vpp={pp * vpp}: virtual "
                     f"stages are uneven")
    if tp > 1 and arch["link_bw"] <= 0:
        raise ScenarioError(f"tp={tp} needs a device-to-device link but {arch.name} has link_bw = 0")
    dpn = int(arch["devices_per_node"])
    if tp > dpn:
        warns.append(f"tp={tp} spans nodes (devices_per_node={dpn}): its all-reduces cross "
                     f"the network")
    if devices > dpn and arch["net_bw"] <= 0:
        raise ScenarioError(f"{devices} devices span several nodes of {dpn} but {arch.name} "
                            f"has net_bw = 0 (set [interconnect] net_bw)")
    if spec.n_layers % pp:
        warns.append(f"pp={pp} does not divide {spec.n_layers} layers: the slowest stage has "
                     f"{math.ceil(spec.n_layers / pp)}")
    if seq > spec.max_positions:
        warns.append(f"seq={seq} exceeds {spec.name}'s max_position_embeddings "
                     f"({spec.max_positions})")
    n_micro = global_batch // (dp * micro_batch)
    if pp > 1 and n_micro < pp:
        warns.append(f"only {n_micro} micro-batches for {pp} pipeline stages: the bubble "
                     f"dominates")
    cfg = TrainConfig(devices, tp, pp, dp, ep, micro_batch, global_batch, seq, recompute, zero,
                      str(dtype).lower(), vpp, bool(sequence_parallel), bool(overlap_dp),
                      algorithm, float(grad_bytes), attention, bool(overlap_ep), cp, fp8_recipe,
                      bool(zero3_reshard), zero_group)
    return cfg, warns


@dataclass
class TrainReport:
    model: ModelSpec
    arch: Architecture
    config: TrainConfig
    results: dict
    tokens: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return bool(self.results["fits"])

    @property
    def reason(self) -> str:
        if self.fits:
            return ""
        r = self.results
        g = 1e9
        return (f"needs {r['mem_total_bytes'] / g:.1f} GB per device (weights "
                f"{r['mem_weights_bytes'] / g:.1f}, grads {r['mem_grads_bytes'] / g:.1f}, optimizer "
                f"{r['mem_optimizer_bytes'] / g:.1f}, activations "
                f"{r['mem_activations_bytes'] / g:.1f}) but {self.arch.name} has "
                f"{r['mem_capacity_bytes'] / g:.1f} GB usable; raise tp/pp/zero or use "
                f"recompute='full' or a smaller micro_batch")

    @property
    def step_time_s(self):
        return self.results["step_time_s"] if self.fits else None

    @property
    def mfu(self):
        return self.results["mfu"] if self.fits else None

    @property
    def time_shares(self) -> dict:
        r = self.results
        parts = {"compute": r["t_compute_s"], "memory": r["t_memory_s"],
                 "latency": r["t_latency_s"], "comm_tp": r["t_comm_tp_s"],
                 "comm_pp": r["t_comm_pp_s"], "comm_ep": r["t_comm_ep_s"],
                 "comm_cp": r["t_comm_cp_s"], "comm_dp": r["t_comm_dp_s"], "optimizer": r["t_optimizer_s"],
                 "bubble": r["t_bubble_s"]}
        # the optimizer time is already inside compute/memory/latency: report it separately
        tot = r["step_time_s"]
        out = {k: v / tot for k, v in parts.items()} if tot > 0 else dict.fromkeys(parts, 0.0)
        return out

    def bottleneck(self) -> str:
        """compute, memory, latency, communication or pipeline bubble: the largest share."""
        s = self.time_shares
        groups = {"compute": s["compute"], "memory": s["memory"], "latency": s["latency"],
                  "communication": (s["comm_tp"] + s["comm_pp"] + s["comm_ep"] + s["comm_cp"]
                                    + s["comm_dp"]),
                  "bubble": s["bubble"]}
        return max(groups, key=groups.get)

    def to_dict(self) -> dict:
        r = self.results
        c = self.config
        fits = self.fits
        mem = {"weights_bytes": r["mem_weights_bytes"], "grads_bytes": r["mem_grads_bytes"],
               "optimizer_bytes": r["mem_optimizer_bytes"],
               "activations_bytes": r["mem_activations_bytes"], "total_bytes": r["mem_total_bytes"],
               "capacity_bytes": r["mem_capacity_bytes"], "fits": fits}
        out = {
            "model": self.model.name, "arch": self.arch.name,
            "config": {**c.__dict__, "n_micro": c.n_micro},
            "params_total": self.model.params(), "params_active": self.model.params(active=True),
            "params_per_device": r["params_per_device"],
            "layers_per_stage": int(r["layers_per_stage"]),
            "tokens_per_step": r["tokens_per_step"],
            "fits": fits, "reason": self.reason, "memory_per_device": mem,
            "warnings": list(self.warnings),
        }
        timing = {}
        if fits:
            step = r["step_time_s"]
            timing = {
                "step_time_s": step, "tokens_per_s": r["tokens_per_s"],
                "tokens_per_s_per_device": r["tokens_per_s"] / c.devices,
                "mfu": r["mfu"], "hfu": r["hfu"],
                "model_tflops_per_device": r["model_tflops_per_device"],
                "hardware_tflops_per_device": r["hardware_tflops_per_device"],
                "model_flops_per_step": r["model_flops_per_step"],
                "hardware_flops_per_step": r["hardware_flops_per_step"],
                "bubble_fraction": r["bubble_fraction"],
                "time_shares": self.time_shares, "bottleneck": self.bottleneck(),
                "t_forward_mb_s": r["t_forward_mb_s"], "t_backward_mb_s": r["t_backward_mb_s"],
                "t_recompute_mb_s": r["t_recompute_mb_s"], "t_micro_batch_s": r["t_micro_batch_s"],
                "dp_bytes_per_step": r["dp_bytes_per_step"],
                "energy_per_step_j": r["energy_per_step_j"],
                "avg_power_per_device_w": r["energy_per_step_j"] / step / c.devices,
            }
            if self.tokens:
                steps = self.tokens / r["tokens_per_step"]
                t = steps * step
                timing.update({"tokens": self.tokens, "steps": steps, "time_to_train_s": t,
                               "time_to_train_days": t / 86400.0,
                               "device_hours": t * c.devices / 3600.0,
                               "energy_to_train_j": steps * r["energy_per_step_j"],
                               "energy_to_train_mwh": steps * r["energy_per_step_j"] / 3.6e9})
        else:
            timing = dict.fromkeys(("step_time_s", "tokens_per_s", "mfu", "hfu",
                                    "model_tflops_per_device", "hardware_tflops_per_device",
                                    "time_shares", "bottleneck", "energy_per_step_j"))
            if self.tokens:
                timing.update(tokens=self.tokens, time_to_train_s=None, time_to_train_days=None,
                              device_hours=None, energy_to_train_j=None, energy_to_train_mwh=None)
        out.update(timing)
        return out

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), default=json_default, **kw)


def _evaluate(mv, cfgs: np.ndarray, av) -> np.ndarray:
    out = np.empty((cfgs.shape[0], N_TR))
    warm("train")          # a cold cache: compiled in two processes (engine/warm.py)
    train_grid(mv, cfgs, av, out)
    return out


def train(model, arch, *, devices, tp=1, pp=1, dp=None, ep=1, cp=1, micro_batch=1,
          global_batch, seq, recompute="selective", zero=1, tokens=None, dtype="bf16", vpp=1,
          sequence_parallel=True, overlap_dp=True, algorithm="best", grad_bytes=2.0,
          attention="flash", overlap_ep=False, fp8_recipe="delayed", zero3_reshard=True,
          zero_group=None, **arch_overrides) -> TrainReport:
    """One training configuration. `model`: bundled name, config.json path or ModelSpec;
    `arch`: preset name, TOML path or Architecture; `global_batch` in sequences of `seq`
    tokens; `tokens`: training-set size for time-to-train; extra keywords override arch
    parameters (e.g. net_bw="25 GB/s"). attention: "flash" (fused, no s x s matrix in memory)
    or "unfused" (pre-FlashAttention kernels, as in 2021 Megatron-LM runs). overlap_ep: hide
    the expert all-to-all behind compute (DualPipe-style schedules). cp: context-parallel
    ranks per sequence (devices = tp pp dp cp). dtype="fp8": the linear layers' GEMMs in FP8
    with fp8_recipe "delayed" (scales from the amax history; also per-tile scaling computed in
    the cast) or "current" (per-tensor scale from the tensor itself: one more pass per cast).
    zero3_reshard: ZeRO-3 gathers each layer again for its backward (FSDP FULL_SHARD) or keeps
    it gathered from the forward. zero_group: ranks one ZeRO shard spans (default all dp x cp;
    8 for PyTorch HYBRID_SHARD on 8-GPU nodes)."""
    spec = load_model(model)
    a = load_arch(arch)
    if arch_overrides:
        a = a.with_(**arch_overrides)
    if tokens is not None and (not isinstance(tokens, (int, float)) or tokens <= 0):
        raise ScenarioError(f"tokens must be a positive number, got {tokens!r}")
    cfg, warns = make_config(spec, a, devices=devices, tp=tp, pp=pp, dp=dp, ep=ep, cp=cp,
                             micro_batch=micro_batch, global_batch=global_batch, seq=seq,
                             recompute=recompute, zero=zero, dtype=dtype, vpp=vpp,
                             sequence_parallel=sequence_parallel, overlap_dp=overlap_dp,
                             algorithm=algorithm, grad_bytes=grad_bytes, attention=attention,
                             overlap_ep=overlap_ep, fp8_recipe=fp8_recipe,
                             zero3_reshard=zero3_reshard, zero_group=zero_group)
    res = _evaluate(model_vector(spec), cfg.vector()[None, :], a.vector())[0]
    results = {k: float(res[i]) for i, k in enumerate(TR_FIELDS)}
    rep = TrainReport(spec, a, cfg, results, float(tokens) if tokens else None,
                      list(spec.warnings) + warns)
    if not rep.fits:
        rep.warnings.append("does not fit: " + rep.reason)
    return rep


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def search(model, arch, *, devices, global_batch, seq, tp=None, pp=None, micro_batch=None,
           recompute=None, zero=None, ep=1, dtype="bf16", top=10, tokens=None,
           **arch_overrides) -> list[dict]:
    """Evaluate every (tp, pp, micro_batch, recompute, zero) on `devices` devices that is
    possible, keep those that fit memory, fastest first. Returns up to `top` summary rows."""
    spec = load_model(model)
    a = load_arch(arch)
    if arch_overrides:
        a = a.with_(**arch_overrides)
    devices = _int("devices", devices)
    dpn = int(a["devices_per_node"])
    tps = tp or [t for t in (1, 2, 4, 8, 16) if t <= max(dpn, 1) and spec.tp_error(t) is None
                 and devices % t == 0]
    pps = pp or [p for p in _divisors(devices) if p <= min(spec.n_layers, 64)]
    mbs = micro_batch or [1, 2, 4, 8]
    rcs = recompute or list(RECOMP_NAMES)
    zs = zero if zero is not None else [0, 1, 2, 3]
    cfgs, meta = [], []
    for t, p, mb, rc, z in itertools.product(tps, pps, mbs, rcs, zs):
        try:
            cfg, _ = make_config(spec, a, devices=devices, tp=t, pp=p, ep=ep, micro_batch=mb,
                                 global_batch=global_batch, seq=seq, recompute=rc, zero=z,
                                 dtype=dtype)
        except ScenarioError:
            continue
        cfgs.append(cfg.vector())
        meta.append(cfg)
    if not cfgs:
        raise ScenarioError(f"no possible (tp, pp, micro_batch) layout for {devices} devices and "
                            f"global_batch={global_batch}")
    out = _evaluate(model_vector(spec), np.array(cfgs), a.vector())
    rows = []
    for cfg, res in zip(meta, out):
        r = {k: float(res[i]) for i, k in enumerate(TR_FIELDS)}
        if not r["fits"]:
            continue
        row = {"tp": cfg.tp, "pp": cfg.pp, "dp": cfg.dp, "micro_batch": cfg.micro_batch,
               "n_micro": cfg.n_micro, "recompute": cfg.recompute, "zero": cfg.zero,
               "step_time_s": r["step_time_s"], "tokens_per_s": r["tokens_per_s"],
               "mfu": r["mfu"], "hfu": r["hfu"], "memory_gb": r["mem_total_bytes"] / 1e9,
               "bubble": r["bubble_fraction"]}
        if tokens:
            row["time_to_train_days"] = tokens / r["tokens_per_step"] * r["step_time_s"] / 86400
        rows.append(row)
    rows.sort(key=lambda x: x["step_time_s"])
    return rows[:top] if top else rows
