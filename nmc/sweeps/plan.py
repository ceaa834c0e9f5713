"""A sweep plan: the kernel's base vectors, its axes (which vector entry each grid dimension
moves) and the parameter columns; make_plan resolves names and checks every value first."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from ..arch.loader import load_arch
from ..arch.schema import BY_NAME, INDEX
from ..engine import CACHE_DIR
from ..engine import layout as L
from ..engine.vectors import model_vector, scenario_vector
from ..errors import ConfigError, ScenarioError
from ..workload.model import load_model
from ..workload.scenario import Scenario
from .spec import (
    SHARE_COLS, TARGET_ARCH, TARGET_MODEL, TARGET_SCEN, Where, arch_value, as_list,
    check_columns, named_fields, parse_grid, resolve_name, scen_value,
)


@dataclass
class Dim:
    size: int
    columns: dict[str, np.ndarray]                    # parameter columns moved by this dim
    labels: dict[str, list[str]] = field(default_factory=dict)
    kind: str = "grid"                                # model | arch | scenario | archparam


@dataclass
class Plan:
    m0: np.ndarray
    s0: np.ndarray
    a0: np.ndarray
    dims: list[Dim]
    ax_target: np.ndarray
    ax_index: np.ndarray
    ax_dim: np.ndarray
    ax_values: np.ndarray
    describe: dict                                    # JSON-able: what was swept (manifest)
    keep: list[str] | None = None                     # result columns kept (None: all)

    @property
    def dim_sizes(self) -> np.ndarray:
        return np.array([d.size for d in self.dims], dtype=np.int64)

    @property
    def n_points(self) -> int:
        return int(np.prod([d.size for d in self.dims], dtype=np.int64)) if self.dims else 1

    @property
    def param_names(self) -> list[str]:
        return [k for d in self.dims for k in d.columns]

    @property
    def labels(self) -> dict[str, list[str]]:
        out = {}
        for d in self.dims:
            out.update(d.labels)
        return out

    @property
    def has_aimc(self) -> bool:
        """Whether any point may run on an analog in-memory chip (aimc_tiles > 0)."""
        a = INDEX["aimc_tiles"]
        if self.a0[a] > 0:
            return True
        on = (self.ax_target == 0) & (self.ax_index == a)
        return bool(on.any() and (self.ax_values[on] > 0).any())

    @property
    def result_columns(self) -> list[str]:
        """Parameter columns, then the result columns kept: all, or the user's `columns`; the
        aimc_* columns only when some point is an AIMC chip (elsewhere they are all NaN, and
        nine NaN columns cost a quarter of the chunk-writing time)."""
        res = list(L.RESULT_FIELDS) + list(SHARE_COLS)
        if self.keep is not None:
            res = [c for c in res if c in self.keep]
        elif not self.has_aimc:
            res = [c for c in res if not c.startswith("aimc_")]
        return self.param_names + res

    def payload(self) -> tuple:
        return (self.m0, self.s0, self.a0, self.ax_target, self.ax_index, self.ax_dim,
                self.ax_values, self.dim_sizes)

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for arr in self.payload():
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(json.dumps(self.result_columns).encode())
        h.update(_engine_hash().encode())
        return h.hexdigest()


def _engine_hash() -> str:
    """The kernel sources' hash (engine.cache): results of other sources are not resumed."""
    import os
    return os.path.basename(CACHE_DIR)

def make_plan(model, arch, grid: dict | None = None, scenario: dict | None = None,
              where=None, arch_set: dict | None = None, columns=None, limits=None) -> Plan:
    """Resolve names, check values, and lay out the kernel axes. Dimension order (slowest
    first): model, arch, scenario grid dims, architecture-parameter grid dims. Arch parameters
    vary fastest so consecutive points reuse one operator table. limits (guard.Limits, default
    Limits()): a grid above its points, or whose values would not fit in memory, is refused
    before any value is built."""
    from .guard import Limits, check_grid_size
    where = where or Where()
    if grid is not None and not isinstance(grid, dict):
        raise ConfigError(f"{where.path}: grid must be a table of parameter -> values")
    if scenario is not None and not isinstance(scenario, dict):
        raise ConfigError(f"{where.path}: scenario must be a table of field -> value")
    check_grid_size(model, arch, grid, limits or Limits())
    named = named_fields()
    scenario = dict(scenario or {})
    models = [load_model(m) for m in as_list(model)]
    archs = [load_arch(a) for a in as_list(arch)]
    if arch_set:
        for k, v in arch_set.items():
            if k not in BY_NAME:
                resolve_name(k, where("set", k))
                raise ConfigError(f"{where('set', k)}: [set] overrides architecture parameters only")
            arch_value(k, v, where("set", k))
        archs = [a.with_(**arch_set) for a in archs]
    gdims = parse_grid(grid or {}, where)

    # base scenario: Scenario validates the usual fields; others (e.g. mapping) by name/number
    sc_fields = set(Scenario.__dataclass_fields__)
    extra = {k: scenario.pop(k) for k in list(scenario) if k not in sc_fields}
    for k in extra:
        if k not in L.SCEN_FIELDS:
            resolve_name(k, where("scenario", k))
    try:
        sc = Scenario(**scenario)
    except ScenarioError as e:
        raise ScenarioError(f"{where.path} [scenario]: {e}") from None
    s0 = scenario_vector(sc).astype(np.float64)
    for f in L.SCEN_FIELDS:
        if f not in sc_fields and f not in extra:
            s0[L.SCEN_FIELDS.index(f)] = 0.0
    for k, v in extra.items():
        s0[L.SCEN_FIELDS.index(k)] = scen_value(k, v, where("scenario", k), named)[0]

    # per-value scenario checks (the Scenario constructor's rules) and tp against models/archs
    gdict = {}
    for d in gdims:
        for n, t, vals, labs in zip(d["names"], d["targets"], d["values"], d["labels"]):
            gdict[n] = (vals, labs, d["key"])
            if t == TARGET_SCEN and n in sc_fields:
                for v, lab in zip(vals, labs or [None] * len(vals)):
                    try:
                        sc.with_(**{n: lab if lab is not None else int(v)})
                    except ScenarioError as e:
                        raise ScenarioError(f"{where('grid', d['key'])}: {e}") from None
    tps = [int(v) for v in gdict["tp"][0]] if "tp" in gdict else [sc.tp]
    for spec in models:
        for tp in tps:
            why = spec.tp_error(tp)
            if why:
                raise ScenarioError(f"{where('grid', 'tp') if 'tp' in gdict else where.path}: "
                                    f"{why}")
    if max(tps) > 1:
        for a in archs:
            if a["link_bw"] <= 0 and "link_bw" not in gdict:
                raise ScenarioError(f"{where.path}: tp={max(tps)} needs a device-to-device link "
                                    f"but {a.name} has link_bw = 0")
            if (max(tps) > a["devices_per_node"] and "devices_per_node" not in gdict
                    and a["net_bw"] <= 0 and "net_bw" not in gdict):
                raise ScenarioError(f"{where('grid', 'tp') if 'tp' in gdict else where.path}: "
                                    f"tp={max(tps)} exceeds devices_per_node="
                                    f"{int(a['devices_per_node'])} of {a.name}, which has no "
                                    f"scale-out network (net_bw = 0)")
    # each value of an architecture dimension must make a consistent architecture with every
    # base preset (e.g. sram_bw > 0 needs sram_capacity > 0)
    for d in gdims:
        if all(t == TARGET_ARCH for t in d["targets"]):
            for j in range(len(d["values"][0])):
                change = {n: d["values"][i][j] for i, n in enumerate(d["names"])}
                for a in archs:
                    try:
                        a.with_(**change)
                    except ConfigError as e:
                        raise ConfigError(f"{where('grid', d['key'])}: {e}") from None

    dims: list[Dim] = []
    axes: list[tuple[int, int, int, np.ndarray]] = []   # (target, index, dim, values)
    swept_arch = {n for n in gdict if n in INDEX}
    if len(models) > 1:
        mv = np.array([model_vector(s) for s in models])
        dims.append(Dim(len(models), {"model": np.arange(len(models), dtype=float)},
                        {"model": [s.name for s in models]}, "model"))
        for i in range(L.N_MODEL):
            axes.append((TARGET_MODEL, i, len(dims) - 1, mv[:, i]))
    if len(archs) > 1:
        av = np.array([a.vector() for a in archs])
        dims.append(Dim(len(archs), {"arch": np.arange(len(archs), dtype=float)},
                        {"arch": [a.name for a in archs]}, "arch"))
        for name, i in INDEX.items():
            if name not in swept_arch and np.any(av[:, i] != av[0, i]):
                axes.append((TARGET_ARCH, i, len(dims) - 1, av[:, i]))
    scen_dims = [d for d in gdims if any(t != TARGET_ARCH for t in d["targets"])]
    arch_dims = [d for d in gdims if all(t == TARGET_ARCH for t in d["targets"])]
    for d in scen_dims + arch_dims:
        size = len(d["values"][0])
        cols, labs = {}, {}
        k = len(dims)
        for n, t, vals, lab in zip(d["names"], d["targets"], d["values"], d["labels"]):
            arr = np.asarray(vals, dtype=float)
            idx = INDEX[n] if t == TARGET_ARCH else L.SCEN_FIELDS.index(n)
            axes.append((t, idx, k, arr))
            if lab is not None:
                names = named[n]
                cols[n] = arr
                labs[n] = list(names)
            else:
                cols[n] = arr
        dims.append(Dim(size, cols, labs, "archparam" if d in arch_dims else "scenario"))

    width = max((len(v) for _, _, _, v in axes), default=1)
    ax_values = np.zeros((len(axes), width))
    for j, (_, _, _, v) in enumerate(axes):
        ax_values[j, :len(v)] = v
    m0 = model_vector(models[0]).astype(np.float64)
    a0 = archs[0].vector()
    describe = {
        "model": [s.name for s in models], "arch": [a.name for a in archs],
        "scenario": {**sc.__dict__, **extra},
        "arch_set": {k: str(v) for k, v in (arch_set or {}).items()},
        "grid": {d["key"]: {n: (lab if lab is not None else vals)
                            for n, vals, lab in zip(d["names"], d["values"], d["labels"])}
                 for d in gdims},
        "dims": [{"size": d.size, "columns": list(d.columns), "kind": d.kind} for d in dims],
    }
    return Plan(m0, s0, a0, dims,
                np.array([t for t, _, _, _ in axes], dtype=np.int64),
                np.array([i for _, i, _, _ in axes], dtype=np.int64),
                np.array([d for _, _, d, _ in axes], dtype=np.int64),
                ax_values, describe, check_columns(columns))



def plan_from_spec(spec: dict, limits=None) -> Plan:
    try:
        return make_plan(spec["model"], spec["arch"], spec["grid"], spec["scenario"],
                         where=spec["where"], arch_set=spec["arch_set"],
                         columns=spec.get("columns"), limits=limits)
    except ConfigError as e:
        msg = str(e)
        if spec["where"].path not in msg:
            msg = f"{spec['where'].path}: {msg}"
        raise type(e)(msg) from None

