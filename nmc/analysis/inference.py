"""Inference at one point: nmc.analyze(model, arch, ...) -> Report (latency, tokens/s, energy,
memory, bound shares and the per-operator table)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from .. import engine
from ..arch.loader import Architecture, load_arch
from ..engine.layout import (
    AIMC_BOUND_NAMES, BOUND_NAMES, KIND_NAMES, N_OF, N_RESULTS, N_SLOTS, N_TERMS, O_AIN,
    O_AOUT, O_COMM, O_COUNT, O_DTYPE, O_FLOPS, O_G, O_K, O_KIND, O_KVRD, O_KVWR, O_M, O_N, O_STATIC, O_W,
    OP_NAMES, RESULT_FIELDS, T_BOUND, T_COMM, T_COMPUTE, T_DRAM, T_ENERGY,
    T_ENGINE, T_LAT, T_MEM, T_PEAK, T_SRAM, T_TOTAL,
)
from ..engine.pim import usable_capacity
from ..engine.vectors import model_vector, scenario_vector
from ..errors import ScenarioError
from ..sweeps.bands import evaluate_band
from ..workload.model import ModelSpec, load_model
from ..workload.scenario import DTYPES, Scenario

DTYPE_NAMES = {code: name for name, (code, _) in DTYPES.items()}
ENGINE_NAMES = ("host", "pim", "aimc_tiles", "aimc_digital")   # T_ENGINE ids 0..3


@dataclass
class Report:
    model: ModelSpec
    arch: Architecture
    scenario: Scenario
    results: dict
    ops: list[dict]
    warnings: list[str] = field(default_factory=list)
    band: dict | None = None          # band=True: {"low": results, "high": results} (raw, as results)
    band_info: dict | None = None     # method, banded parameters, drivers (nmc.sweeps.bands)

    # the headline figures
    @property
    def latency_s(self) -> float:
        return self.results["latency_s"]

    @property
    def tokens_per_s(self) -> float:
        return self.results["tokens_per_s"]

    @property
    def memory_bytes(self) -> float:
        return self.results["memory_bytes"]

    @property
    def fits(self) -> bool:
        return bool(self.results["fits"])

    @property
    def energy_per_token_j(self) -> float:
        return self.results["energy_per_token_j"]

    @property
    def bound(self) -> str:
        return _bound_name(self.results)

    @property
    def bound_shares(self) -> dict[str, float]:
        return _bound_shares(self.results)

    def band_end(self, end: str) -> "Report":
        """The report with the results of one band end ("low": pessimistic, "high":
        optimistic; docs/bands.md); its ops and warnings are the central ones."""
        if self.band is None:
            raise ValueError("no band: analyze(..., band=True)")
        return Report(self.model, self.arch, self.scenario, self.band[end], self.ops,
                      list(self.warnings))

    def to_dict(self) -> dict:
        d = {
            "model": self.model.name, "arch": self.arch.name, "family": self.arch.family,
            "scenario": dict(self.scenario.__dict__),
            **_result_dict(self.results),
            "params_total": self.model.params(), "params_active": self.model.params(active=True),
            "ops": self.ops, "warnings": list(self.warnings),
        }
        if self.band is not None:
            d["band"] = {end: _result_dict(self.band[end]) for end in ("low", "high")}
            d["band_info"] = self.band_info
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), default=json_default, **kw)


def _bound_name(results: dict) -> str:
    ab = results.get("aimc_bound")
    if ab is not None:                       # AIMC: array / adc / digital / capacity / interchip
        return AIMC_BOUND_NAMES[int(ab)]
    return BOUND_NAMES[int(results["bound"])]


def _bound_shares(t: dict) -> dict[str, float]:
    parts = {"compute": t["t_compute_s"], "memory": t["t_memory_s"],
             "latency": t["t_latency_s"], "comm": t["t_comm_s"]}
    tot = sum(parts.values())
    return {k: (v / tot if tot > 0 else 0.0) for k, v in parts.items()}


def _result_dict(results: dict) -> dict:
    """The result fields of to_dict() (names decoded, counts as int) and the bound shares:
    the central result and each band end have exactly these keys."""
    r = dict(results)
    r["fits"] = bool(r["fits"])
    r["bound"] = _bound_name(results)
    r["max_batch"] = int(r["max_batch"])
    if r.get("aimc_bound") is not None:
        r["aimc_bound"] = AIMC_BOUND_NAMES[int(r["aimc_bound"])]
        r["aimc_reprogram"] = bool(r["aimc_reprogram"])
        r["aimc_tiles_needed"] = int(r["aimc_tiles_needed"])
        r["aimc_chips_needed"] = int(r["aimc_chips_needed"])
    r["bound_shares"] = _bound_shares(results)
    return r


def json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o))


def _clean(x: float):
    return None if isinstance(x, float) and math.isnan(x) else x


def check_scenario(spec: ModelSpec, arch: Architecture, sc: Scenario) -> list[str]:
    """Errors for impossible scenarios, warnings for questionable ones."""
    if sc.mapping not in ("auto", "host-only") and arch["pim_banks"] <= 0:
        raise ScenarioError(f"mapping {sc.mapping!r} needs a near-memory (PIM) system but "
                            f"{arch.name} has no PIM units (pim_banks = 0); use auto or host-only")
    if sc.tp > 1:
        why = spec.tp_error(sc.tp)
        if why:
            raise ScenarioError(why)
        if arch["link_bw"] <= 0:
            raise ScenarioError(f"tp={sc.tp} needs a device-to-device link but {arch.name} "
                                f"has link_bw = 0")
    warns = list(spec.warnings)          # how the config was read (--assume)
    if sc.ep > 1:
        if spec.n_experts <= 1:
            raise ScenarioError(f"ep={sc.ep} needs a mixture-of-experts model; {spec.name} is dense")
        if spec.n_experts % sc.ep:
            raise ScenarioError(f"ep={sc.ep} must divide the {spec.n_experts} experts of "
                                f"{spec.name}")
        if arch["link_bw"] <= 0 and arch["net_bw"] <= 0:
            raise ScenarioError(f"ep={sc.ep} needs a link or network between devices but "
                                f"{arch.name} has neither")
        if sc.batch % sc.ep:
            warns.append(f"batch {sc.batch} is not a multiple of ep={sc.ep}: the data-parallel "
                         f"attention groups are uneven (evaluated at the mean)")
    devices = sc.tp * sc.ep
    if devices > arch["devices_per_node"]:
        if arch["net_bw"] <= 0:
            raise ScenarioError(f"tp x ep = {devices} devices exceed devices_per_node="
                                f"{int(arch['devices_per_node'])} of {arch.name} and it has no "
                                f"scale-out network (net_bw = 0)")
        warns.append(f"tp x ep = {devices} devices span "
                     f"{-(-devices // int(arch['devices_per_node']))} nodes: their collectives "
                     f"cross the network (hierarchical, net_bw)")
    span = {"prefill": sc.prompt, "decode": sc.context + 1,
            "generate": sc.prompt + sc.generate}[sc.phase]
    if span > spec.max_positions:
        warns.append(f"sequence length {span} exceeds {spec.name}'s max_position_embeddings "
                     f"({spec.max_positions})")
    return warns


def op_rows(ops: np.ndarray, terms: np.ndarray, phase: str, steps: float = 1.0) -> list[dict]:
    rows = []
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0:
            continue
        dram = terms[i, T_DRAM]
        t_inst = terms[i, T_TOTAL] / n
        rows.append({
            "name": OP_NAMES[i], "kind": KIND_NAMES[int(ops[i, O_KIND])], "phase": phase,
            "count": n * steps, "M": ops[i, O_M], "N": ops[i, O_N], "K": ops[i, O_K],
            "groups": ops[i, O_G], "flops": ops[i, O_FLOPS], "weight_bytes": ops[i, O_W],
            "act_in_bytes": ops[i, O_AIN], "act_out_bytes": ops[i, O_AOUT],
            "kv_read_bytes": ops[i, O_KVRD], "kv_write_bytes": ops[i, O_KVWR],
            "comm_bytes": ops[i, O_COMM], "dram_bytes": dram, "sram_bytes": terms[i, T_SRAM],
            "dtype": DTYPE_NAMES[int(ops[i, O_DTYPE])], "static_weights": bool(ops[i, O_STATIC]),
            "engine": ENGINE_NAMES[int(terms[i, T_ENGINE])],
            "t_compute_s": terms[i, T_COMPUTE], "t_memory_s": terms[i, T_MEM],
            "t_latency_s": terms[i, T_LAT], "t_comm_s": terms[i, T_COMM],
            "time_s": terms[i, T_TOTAL] * steps,
            "bound": BOUND_NAMES[int(terms[i, T_BOUND])],
            "intensity": ops[i, O_FLOPS] / dram if dram > 0 else math.inf,
            "attained_flops": ops[i, O_FLOPS] / t_inst if t_inst > 0 else 0.0,
            "peak_flops": terms[i, T_PEAK],
            "energy_j": terms[i, T_ENERGY] * n * steps,
        })
    return rows


def _run(m, s, a):
    ops = np.empty((N_SLOTS, N_OF))
    terms = np.empty((N_SLOTS, N_TERMS))
    res = np.empty(N_RESULTS)
    engine.point_entry(a)(m, s, a, ops, terms, res)     # compiles only a's family
    return res, ops, terms


def analyze(model, arch, *, phase: str = "decode", batch: int = 1, prompt: int = 512,
            context: int = 2048, generate: int = 128, tp: int = 1, weights: str = "bf16",
            activations: str = "bf16", kv: str = "bf16", mapping: str = "auto",
            runtime: str = "graphs", dequant="fused", ep: int = 1, band: bool = False,
            **arch_overrides) -> Report:
    """Evaluate one scenario. `model`: bundled name, config.json path or ModelSpec; `arch`:
    preset name, TOML path or Architecture; extra keywords override arch parameters (and drop
    their bands). band=True also evaluates the preset's uncertainty bands through the sweep
    kernel: Report.band = {"low": results, "high": results}, low the pessimistic end of each
    result and high the optimistic one (docs/bands.md); to_dict() then has "band" (the same
    fields as the central result) and "band_info" (method, banded parameters, drivers)."""
    spec = load_model(model)
    a = load_arch(arch)
    if arch_overrides:
        a = a.with_(**arch_overrides)
    sc = Scenario(phase=phase, batch=batch, prompt=prompt, context=context, generate=generate,
                  tp=tp, weights=weights, activations=activations, kv=kv, mapping=mapping,
                  runtime=runtime, dequant=dequant, ep=ep)
    warns = check_scenario(spec, a, sc)
    mv, sv, av = model_vector(spec), scenario_vector(sc), a.vector()
    res, ops, terms = _run(mv, sv, av)
    results = {k: _clean(float(res[i])) for i, k in enumerate(RESULT_FIELDS)}
    if sc.phase == "generate":
        # operator rows: the prefill, and the decode steps evaluated at their mean context
        pre = _run(mv, scenario_vector(sc.with_(phase="prefill")), av)
        rows = op_rows(pre[1], pre[2], "prefill")
        if sc.generate > 1:
            mid = sc.with_(phase="decode", context=sc.prompt + sc.generate // 2)
            dec = _run(mv, scenario_vector(mid), av)
            rows += op_rows(dec[1], dec[2], "decode", steps=sc.generate - 1)
    else:
        rows = op_rows(ops, terms, sc.phase)
    tot = sum(r["time_s"] for r in rows)
    for r in rows:
        r["share"] = r["time_s"] / tot if tot > 0 else 0.0
    if not results["fits"]:
        warns.append(f"does not fit: needs {results['memory_bytes'] / 1e9:.1f} GB per device, "
                     f"usable {usable_capacity(av) / 1e9:.1f} GB")
    if results.get("aimc_reprogram"):
        warns.append(f"weights need {int(results['aimc_tiles_needed'])} crossbar tiles "
                     f"({int(results['aimc_chips_needed'])} chips) but the system has "
                     f"{int(a['aimc_tiles'] * max(a['aimc_chips'], 1))}: tiles are re-programmed every pass "
                     f"(aimc_residency = 2; --set aimc_chips=0 gives a system with enough chips)")
    elif (results.get("aimc_resident_fraction") or 1.0) < 1.0:
        warns.append(f"weights need {int(results['aimc_tiles_needed'])} crossbar tiles "
                     f"({int(results['aimc_chips_needed'])} chips) but the system has "
                     f"{int(a['aimc_tiles'] * max(a['aimc_chips'], 1))}: "
                     f"{results['aimc_resident_fraction']:.1%} of the weights are resident, the "
                     f"rest run on the digital unit from DRAM (--set aimc_chips=0 gives a system "
                     f"with enough chips)")
    rep = Report(spec, a, sc, results, rows, warns)
    if band:
        _add_band(rep)
    return rep


def _add_band(rep: Report) -> None:
    """Report.band and band_info from the grid kernel over the preset's bands (one point)."""
    b = evaluate_band(rep.model, rep.arch, {}, dict(rep.scenario.__dict__))
    ends = {}
    for end, cols in (("low", b.low), ("high", b.high)):
        ends[end] = {k: _clean(float(cols[k][0])) if k in cols else None for k in RESULT_FIELDS}
    rep.band = ends
    rep.band_info = b.info()
    if not b.keys:
        rep.band_info["note"] = (f"{rep.arch.name} has no banded parameters (or the overrides "
                                 f"replaced them): band low = high = central")
        rep.warnings.append(rep.band_info["note"])
