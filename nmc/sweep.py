"""Parameter sweeps: grid specs, chunked evaluation with the numba grid kernel, resumable output.

    table = nmc.sweep(model="llama-2-7b", arch="h100-sxm",
                      grid={"mem_bw": {"logspace": ["1 TB/s", "16 TB/s", 9]}, "batch": [1, 8, 64]},
                      phase="decode", context=4096)
    table["tokens_per_s"], table.to_pandas()

A grid maps parameter names to values. Names are architecture parameters (nmc.arch.schema, any
family block) or scenario fields (nmc.engine.layout.SCEN_FIELDS: phase, batch, prompt, context,
generate, tp, weights, activations, kv, mapping ...). Values are a list, {linspace = [a, b, n]},
{logspace = [a, b, n]} (n points evenly spaced in log between the endpoints a and b, which are
values, not exponents) or, for a key "p,q" naming several parameters, a list of tuples that are
zipped (moved together). Unit strings ("3.35 TB/s") are accepted wherever the parameter has a unit.
`model` and `arch` may be one name or a list; a list becomes a dimension of the grid.

Points are evaluated in chunks by nmc.engine.evaluate_grid (the same evaluate_point as nmc.analyze)
in-process over all numba threads, or as Dask tasks (client=...). With out=DIR every chunk is
written as it finishes (Parquet if pyarrow is importable, else CSV) and listed in DIR/manifest.json;
running the same sweep into the same DIR again skips the chunks already there (resume), and never
writes a point twice. See docs/sweep.md."""
from __future__ import annotations

import collections
import difflib
import hashlib
import json
import math
import os
import re
import sys
import time
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .arch.loader import _check, load_arch
from .arch.schema import BY_NAME, INDEX
from .engine import layout as L
from .errors import ConfigError, ScenarioError
from .vectors import model_vector, scenario_vector
from .workload.model import load_model
from .workload.scenario import DTYPES, PHASES, Scenario

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
DEFAULT_CHUNK = 1 << 19
SHARE_COLS = ("share_compute", "share_memory", "share_latency", "share_comm")
_RESULT_SET = frozenset(L.RESULT_FIELDS) | frozenset(SHARE_COLS)
TARGET_ARCH, TARGET_SCEN, TARGET_MODEL = 0, 1, 2
DTYPE_FIELDS = ("weights", "activations", "kv")
INT_FIELDS = ("batch", "prompt", "context", "generate", "tp")


def _named_fields() -> dict[str, tuple[str, ...]]:
    """Scenario fields whose values are names -> names in code order."""
    out = {"phase": tuple(PHASES)}
    dt = tuple(sorted(DTYPES, key=lambda k: DTYPES[k][0]))
    for f in DTYPE_FIELDS:
        out[f] = dt
    names = getattr(L, "MAPPING_NAMES", None)
    if names and "mapping" in L.SCEN_FIELDS:
        out["mapping"] = tuple(names)
    return out


# ---- the columnar result table ---------------------------------------------------------------
class Table:
    """Columns of equal length (dict of NumPy arrays). Label columns (model, arch, phase,
    dtypes, mapping) are stored as codes and returned decoded as strings by table[name]."""

    def __init__(self, columns: dict[str, np.ndarray], labels: dict[str, list[str]] | None = None,
                 meta: dict | None = None):
        self.columns = dict(columns)
        self.labels = dict(labels or {})
        self.meta = dict(meta or {})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def keys(self):
        return self.columns.keys()

    def __iter__(self):
        return iter(self.columns)

    def __contains__(self, k) -> bool:
        return k in self.columns

    def __getitem__(self, k: str) -> np.ndarray:
        if k not in self.columns:
            raise KeyError(f"no column {k!r}; columns: {', '.join(self.columns)}")
        v = self.columns[k]
        if k in self.labels:
            return np.asarray(self.labels[k], dtype=object)[v.astype(np.int64)]
        if k == "bound":
            return np.asarray(L.BOUND_NAMES, dtype=object)[v.astype(np.int64)]
        return v

    def codes(self, k: str) -> np.ndarray:
        return self.columns[k]

    @property
    def params(self) -> list[str]:
        return list(self.meta.get("params", []))

    def where(self, mask) -> Table:
        return Table({k: v[mask] for k, v in self.columns.items()}, self.labels, self.meta)

    def to_dict(self) -> dict[str, np.ndarray]:
        return {k: self[k] for k in self.columns}

    def to_pandas(self):
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Table.to_pandas() needs pandas: pip install 'nmc[pandas]'") from None
        data = {}
        for k in self.columns:
            if k in self.labels or k == "bound":
                data[k] = pd.Categorical(self[k])
            else:
                data[k] = self.columns[k]
        return pd.DataFrame(data)

    def __repr__(self) -> str:
        return f"Table({len(self)} rows; columns: {', '.join(self.columns)})"


# ---- plan: vectors + kernel axes + parameter columns ------------------------------------------
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
    import numba
    return os.path.basename(str(numba.config.CACHE_DIR))


# ---- value parsing ---------------------------------------------------------------------------
class _Where:
    """Names the spec location of a key for error messages: file, line and key."""

    def __init__(self, text: str | None = None, path: str = "spec"):
        self.text = text
        self.path = path

    def __call__(self, section: str | None, key: str) -> str:
        full = f"{section}.{key}" if section else key
        line = self.line(section, key)
        return f"{self.path}{f' line {line}' if line else ''} ({full})"

    def line(self, section, key) -> int | None:
        if not self.text:
            return None
        cur = None
        kre = re.compile(r'^\s*(?:"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_.,\- ]+?))\s*=')
        for n, raw in enumerate(self.text.splitlines(), 1):
            s = raw.strip()
            m = re.match(r"^\[\s*([^\]]+?)\s*\]", s)
            if m and not s.startswith("[["):
                cur = m.group(1).strip()
                continue
            m = kre.match(raw)
            if m:
                k = next(g for g in m.groups() if g is not None).strip()
                if k == key and cur == section:
                    return n
        return None


def _space(spec: dict, parse, where: str) -> list:
    if len(spec) != 1:
        raise ConfigError(f"{where}: a range is one of {{linspace = [a, b, n]}} or "
                          f"{{logspace = [a, b, n]}}, got keys {sorted(spec)}")
    (kind, args), = spec.items()
    if kind not in ("linspace", "logspace", "geomspace"):
        raise ConfigError(f"{where}: unknown range {kind!r}; allowed: linspace, logspace")
    if not isinstance(args, (list, tuple)) or len(args) != 3:
        raise ConfigError(f"{where}: {kind} takes [start, stop, n], got {args!r}")
    a, b = parse(args[0]), parse(args[1])
    n = args[2]
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or n < 1:
        raise ConfigError(f"{where}: {kind} needs a point count n >= 1, got {n!r} (empty range)")
    n = int(n)
    if kind == "linspace":
        vals = np.linspace(a, b, n)
    else:
        if a <= 0 or b <= 0:
            raise ConfigError(f"{where}: logspace endpoints must be > 0 (they are values, not "
                              f"exponents), got {args[0]!r}, {args[1]!r}")
        vals = np.geomspace(a, b, n)
    return [float(v) for v in vals]


def _number(raw, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    return float(raw)


def _arch_value(name: str, raw, where: str) -> float:
    from . import units
    p = BY_NAME[name]
    return _check(p, units.parse(raw, p.kind, where), where)


def _scen_value(name: str, raw, where: str, named: dict) -> tuple[float, str | None]:
    """-> (value in the scenario vector, label or None)."""
    if name in named:
        names = named[name]
        if isinstance(raw, str) and raw.lower() in names:
            return float(names.index(raw.lower())), raw.lower()
        raise ConfigError(f"{where}: {raw!r} is not a {name}; allowed: {', '.join(names)}")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ConfigError(f"{where}: {name} must be a number, got {raw!r}")
    v = float(raw)
    if name in INT_FIELDS:
        lo = 0 if name == "context" else 1
        if v != int(v) or v < lo:
            raise ConfigError(f"{where}: {name} must be an integer >= {lo}, got {raw!r}")
    elif math.isnan(v) or v < 0:
        raise ConfigError(f"{where}: {name} must be >= 0, got {raw!r}")
    return v, None


def _resolve_name(name: str, where: str) -> int:
    """-> target (arch or scenario) for a parameter name, with a suggestion on a typo."""
    if name in INDEX:
        return TARGET_ARCH
    if name in L.SCEN_FIELDS:
        return TARGET_SCEN
    if name in ("model", "arch"):
        raise ConfigError(f"{where}: sweep several {name}s with the top-level key "
                          f"{name} = [\"a\", \"b\"], not in [grid]")
    if name in L.MODEL_FIELDS:
        raise ConfigError(f"{where}: {name!r} is a model dimension; sweep models by name "
                          f"(model = [...]) or give a config.json")
    known = list(INDEX) + list(L.SCEN_FIELDS)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"{where}: unknown parameter {name!r}{hint} (architecture parameters: "
                      f"`nmc list params` or docs/arch_schema.md; scenario fields: "
                      f"{', '.join(L.SCEN_FIELDS)})")


def parse_grid(grid: dict, where=None) -> list[dict]:
    """Grid mapping -> list of {names, targets, values (list per name), labels} (one per dim)."""
    where = where or _Where()
    named = _named_fields()
    dims = []
    seen = {}
    for key, spec in grid.items():
        w = where("grid", key)
        names = [k.strip() for k in (key if isinstance(key, tuple) else str(key).split(","))]
        if not all(names):
            raise ConfigError(f"{w}: empty parameter name in {key!r}")
        for n in names:
            if n in seen:
                raise ConfigError(f"{w}: {n!r} is swept twice (also in {seen[n]!r})")
            seen[n] = key
        targets = [_resolve_name(n, w) for n in names]

        def conv(i, raw, w=w, names=names, targets=targets):
            n = names[i]
            if targets[i] == TARGET_ARCH:
                return _arch_value(n, raw, f"{w}: {n}"), None
            return _scen_value(n, raw, f"{w}: {n}", named)

        if isinstance(spec, dict):
            if len(names) != 1:
                raise ConfigError(f"{w}: zipped parameters take a list of tuples, not a range")
            if targets[0] == TARGET_SCEN and names[0] in named:
                raise ConfigError(f"{w}: {names[0]} takes a list of names, not a range")
            if names[0] in INT_FIELDS:
                vals = _space(spec, lambda x, w=w: _number(x, w), w)
            else:
                vals = _space(spec, lambda x, conv=conv: conv(0, x)[0], w)
            if names[0] in INT_FIELDS:      # integer fields: round, drop repeats
                vals = list(dict.fromkeys(float(round(v)) for v in vals))
            cols = [[conv(0, v) for v in vals]]
        elif isinstance(spec, (list, tuple)):
            if len(spec) == 0:
                raise ConfigError(f"{w}: empty list of values")
            if len(names) == 1:
                cols = [[conv(0, v) for v in spec]]
            else:
                cols = [[] for _ in names]
                for t in spec:
                    if not isinstance(t, (list, tuple)) or len(t) != len(names):
                        raise ConfigError(f"{w}: each entry must be a tuple of {len(names)} "
                                          f"values ({', '.join(names)}), got {t!r}")
                    for i, v in enumerate(t):
                        cols[i].append(conv(i, v))
        else:
            if len(names) != 1:
                raise ConfigError(f"{w}: zipped parameters take a list of tuples")
            cols = [[conv(0, spec)]]
        dims.append({"names": names, "targets": targets,
                     "values": [[v for v, _ in c] for c in cols],
                     "labels": [[lab for _, lab in c] if c and c[0][1] is not None else None
                                for c in cols],
                     "key": str(key)})
    return dims


def _as_list(x) -> list:
    if isinstance(x, (list, tuple)):
        if not x:
            raise ConfigError("empty list")
        return list(x)
    return [x]


def check_columns(columns, where: str = "columns") -> list[str] | None:
    """Validate a list of result columns to keep (None: all)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    allowed = list(L.RESULT_FIELDS) + list(SHARE_COLS)
    if not isinstance(columns, (list, tuple)) or not columns:
        raise ConfigError(f"{where}: a non-empty list of result columns")
    for c in columns:
        if c not in allowed:
            close = difflib.get_close_matches(str(c), allowed, n=1)
            raise ConfigError(f"{where}: unknown result column {c!r}"
                              f"{f'; did you mean {close[0]}?' if close else ''} "
                              f"(allowed: {', '.join(allowed)})")
    return list(columns)


def make_plan(model, arch, grid: dict | None = None, scenario: dict | None = None,
              where=None, arch_set: dict | None = None, columns=None) -> Plan:
    """Resolve names, check values, and lay out the kernel axes. Dimension order (slowest
    first): model, arch, scenario grid dims, architecture-parameter grid dims. Arch parameters
    vary fastest so consecutive points reuse one operator table."""
    where = where or _Where()
    named = _named_fields()
    scenario = dict(scenario or {})
    models = [load_model(m) for m in _as_list(model)]
    archs = [load_arch(a) for a in _as_list(arch)]
    if arch_set:
        for k, v in arch_set.items():
            if k not in BY_NAME:
                _resolve_name(k, where("set", k))
                raise ConfigError(f"{where('set', k)}: [set] overrides architecture parameters only")
            _arch_value(k, v, where("set", k))
        archs = [a.with_(**arch_set) for a in archs]
    gdims = parse_grid(grid or {}, where)

    # base scenario: Scenario validates the usual fields; others (e.g. mapping) by name/number
    sc_fields = set(Scenario.__dataclass_fields__)
    extra = {k: scenario.pop(k) for k in list(scenario) if k not in sc_fields}
    for k in extra:
        if k not in L.SCEN_FIELDS:
            _resolve_name(k, where("scenario", k))
    try:
        sc = Scenario(**scenario)
    except ScenarioError as e:
        raise ScenarioError(f"{where.path} [scenario]: {e}") from None
    s0 = scenario_vector(sc).astype(np.float64)
    for f in L.SCEN_FIELDS:
        if f not in sc_fields and f not in extra:
            s0[L.SCEN_FIELDS.index(f)] = 0.0
    for k, v in extra.items():
        s0[L.SCEN_FIELDS.index(k)] = _scen_value(k, v, where("scenario", k), named)[0]

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
            if spec.n_heads % tp:
                raise ScenarioError(f"{where('grid', 'tp') if 'tp' in gdict else where.path}: "
                                    f"tp={tp} must divide the {spec.n_heads} attention heads "
                                    f"of {spec.name}")
    if max(tps) > 1:
        for a in archs:
            if a["link_bw"] <= 0 and "link_bw" not in gdict:
                raise ScenarioError(f"{where.path}: tp={max(tps)} needs a device-to-device link "
                                    f"but {a.name} has link_bw = 0")
            if max(tps) > a["devices_per_node"] and "devices_per_node" not in gdict:
                raise ScenarioError(f"{where('grid', 'tp') if 'tp' in gdict else where.path}: "
                                    f"tp={max(tps)} exceeds devices_per_node="
                                    f"{int(a['devices_per_node'])} of {a.name}")
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


# ---- evaluation ------------------------------------------------------------------------------
def _threads() -> int:
    import numba
    return numba.get_num_threads()


def result_buffer(n: int) -> np.ndarray:
    """An output array for at least n points: [rows, N_RESULTS] in column-major (Fortran)
    order, so that each result column is contiguous (chunk writers take columns without
    copying; the kernel is compiled for this layout, and evaluate_point passes the same).
    rows = n rounded up to 512, plus 8: the column stride is then 64 B past a multiple of 4 KiB.
    With a stride of exactly k x 4 KiB the ~20 stores of one point all fall in the same L1 cache
    set (4K aliasing), which made the kernel ~1.6x slower (docs/sweep.md)."""
    return np.empty((-(-max(n, 1) // 512) * 512 + 8, L.N_RESULTS), order="F")


def eval_range(payload: tuple, lo: int, hi: int, n_chunks: int | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
    """Kernel results [hi-lo, N_RESULTS] for points lo..hi-1 of a plan payload: a view of the
    first hi-lo rows of out, a result_buffer with at least that many rows that the caller
    reuses (a fresh 100 MB array per chunk costs its page faults, more than the kernel itself
    at 0.5M points per chunk; docs/sweep.md), or of a new one."""
    from .engine import evaluate_grid
    m0, s0, a0, at, ai, ad, av, ds = payload
    if out is None or out.shape[0] < hi - lo:
        out = result_buffer(hi - lo)
    n_chunks = n_chunks or max(1, min(4 * _threads(), hi - lo))
    evaluate_grid(m0, s0, a0, at, ai, ad, av, ds, lo, hi, out, n_chunks)
    return out[:hi - lo]


def param_columns(plan_dims: list[Dim], lo: int, hi: int) -> dict[str, np.ndarray]:
    """The swept parameters' values (codes for labels) at points lo..hi-1."""
    cols = {}
    if plan_dims:
        idx = np.unravel_index(np.arange(lo, hi, dtype=np.int64), [d.size for d in plan_dims])
        for d, ix in zip(plan_dims, idx):
            for name, vals in d.columns.items():
                cols[name] = vals[ix]
    return cols


def chunk_columns(plan_dims: list[Dim], res: np.ndarray, lo: int, hi: int,
                  columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Parameter columns, result columns and bound shares of points lo..hi-1 (only those in
    columns when given). Result columns are views of res."""
    cols = param_columns(plan_dims, lo, hi)
    want = None if columns is None else set(columns)
    for i, name in enumerate(L.RESULT_FIELDS):
        if want is None or name in want:
            cols[name] = res[:, i]
    if want is None or want & set(SHARE_COLS):
        parts = [res[:, getattr(L, k)] for k in ("R_T_COMPUTE", "R_T_MEM", "R_T_LAT", "R_T_COMM")]
        tot = parts[0] + parts[1] + parts[2] + parts[3]
        with np.errstate(invalid="ignore", divide="ignore"):
            for name, p in zip(SHARE_COLS, parts):
                if want is None or name in want:
                    cols[name] = np.where(tot > 0, p / tot, 0.0)
    return cols


def _dask_chunk(payload, lo, hi):
    """Dask task: kernel results of points lo..hi-1 (the client builds the columns)."""
    return eval_range(payload, lo, hi)


# ---- output ----------------------------------------------------------------------------------
def _have_pyarrow() -> bool:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
        return True
    except ImportError:
        return False


PRECISIONS = ("float64", "float32")


def _check_precision(precision, where: str | None = None) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"{where + ': ' if where else ''}precision must be one of "
                          f"{', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def _write_chunk(path: Path, cols: dict[str, np.ndarray], fmt: str,
                 precision: str = "float64") -> None:
    """Write one chunk atomically (temp file, then rename). precision="float32" stores result
    columns as float32 (7 significant digits; parameter columns stay exact): half the bytes and
    about half the encoding time of a large sweep (docs/sweep.md)."""
    if precision == "float32":
        cols = {k: (v.astype(np.float32) if k in _RESULT_SET else v) for k, v in cols.items()}
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        params = [k for k in cols if k not in L.RESULT_FIELDS and k not in SHARE_COLS]
        # lz4, dictionary pages for the (repeating) parameter columns only, no statistics:
        # the fastest writer settings measured (docs/sweep.md), ~20 B per point
        pq.write_table(pa.table({k: np.ascontiguousarray(v) for k, v in cols.items()}), tmp,
                       use_dictionary=params, compression="lz4", write_statistics=False)
    else:
        arr = np.column_stack([np.asarray(v, dtype=float) for v in cols.values()])
        with open(tmp, "w") as f:
            f.write(",".join(cols) + "\n")
            np.savetxt(f, arr, delimiter=",", fmt="%.9g" if precision == "float32" else "%.17g")
    os.replace(tmp, path)


def _read_chunk(path: Path, fmt: str, columns: list[str]) -> dict[str, np.ndarray]:
    if fmt == "parquet":
        import pyarrow.parquet as pq
        t = pq.read_table(path)
        return {k: t.column(k).to_numpy() for k in columns}
    with open(path) as f:
        header = f.readline().strip().split(",")
    if header != columns:
        raise ConfigError(f"{path}: columns {header} differ from the manifest's")
    arr = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return {k: arr[:, i] for i, k in enumerate(columns)}


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock(outdir: Path) -> Path:
    """One writer per output directory: DIR/.lock holds 'pid host'; a lock of a dead process
    on this host is taken over."""
    import socket
    path = outdir / ".lock"
    host = socket.gethostname()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid_s, other = path.read_text().split()[:2]
                pid = int(pid_s)
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            if other == host and not _alive(pid):
                path.unlink(missing_ok=True)
                continue
            raise ConfigError(f"{outdir}: another sweep (pid {pid} on {other}) is writing here; "
                              f"wait for it, or delete {path} if that process is gone") from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {host}\n")
        return path
    raise ConfigError(f"{outdir}: cannot take {path}")


def run(plan: Plan, out: str | os.PathLike | None = None, *, chunk_size: int | None = None,
        fmt: str | None = None, client=None, progress: bool = True, overwrite: bool = False,
        precision: str | None = None, _stop_after: int | None = None) -> dict:
    """Evaluate every point of plan. Without out: returns {"columns": ...} in memory. With out:
    writes chunk files + manifest, skipping chunks already finished; returns the manifest.
    precision: "float64" (default, exact) or "float32" result columns on disk.
    _stop_after (tests): stop after that many new chunks, as an interruption would."""
    n = plan.n_points
    cs = int(chunk_size or (DEFAULT_CHUNK if out else max(n, 1)))
    if cs < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {cs}")
    n_chunks = (n + cs - 1) // cs
    columns = plan.result_columns
    payload = plan.payload()
    outdir = None
    if out is not None:
        outdir = Path(out)
        outdir.mkdir(parents=True, exist_ok=True)
        fmt = fmt or ("parquet" if _have_pyarrow() else "csv")
        if fmt not in ("parquet", "csv"):
            raise ConfigError(f"format must be parquet or csv, got {fmt!r}")
        if fmt == "parquet" and not _have_pyarrow():
            raise ConfigError("format = parquet needs pyarrow (pip install 'nmc[parquet]'); "
                              "or use csv")
        precision = _check_precision(precision or "float64")
        lock = _lock(outdir)
    try:
        return _run_locked(plan, outdir, n, cs, n_chunks, columns, payload, fmt, client,
                           progress, overwrite, precision, _stop_after)
    finally:
        if outdir is not None:
            lock.unlink(missing_ok=True)


def _run_locked(plan, outdir, n, cs, n_chunks, columns, payload, fmt, client, progress,
                overwrite, precision, _stop_after):
    manifest = None
    if outdir is not None:
        mpath = outdir / MANIFEST
        fp = plan.fingerprint()
        if mpath.exists() and not overwrite:
            manifest = json.loads(mpath.read_text())
            if (manifest.get("fingerprint") != fp or manifest.get("chunk_size") != cs
                    or manifest.get("precision", "float64") != precision):
                raise ConfigError(f"{outdir}: holds results of a different sweep (or of another "
                                  f"model version / chunk size / precision); use a new "
                                  f"directory or --overwrite")
            fmt = manifest["format"]
        else:
            if overwrite and mpath.exists():
                old = json.loads(mpath.read_text())
                for c in old.get("chunks", {}).values():
                    (outdir / c["file"]).unlink(missing_ok=True)
            manifest = {"version": FORMAT_VERSION, "fingerprint": fp, "format": fmt,
                        "n_points": n, "chunk_size": cs, "n_chunks": n_chunks,
                        "columns": columns, "params": plan.param_names,
                        "labels": plan.labels, "bound_names": list(L.BOUND_NAMES),
                        "sweep": plan.describe, "precision": precision, "chunks": {},
                        "complete": False, "seconds": 0.0}
            _write_json(mpath, manifest)
        done = {int(k) for k, c in manifest["chunks"].items() if (outdir / c["file"]).exists()}
    else:
        done = set()
    todo = [i for i in range(n_chunks) if i not in done]
    mem: dict[int, dict] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, initial=sum(min(cs, n - i * cs) for i in done), unit="pt",
                   unit_scale=True, desc="sweep", smoothing=0.1, leave=False)
    t0 = time.perf_counter()

    def finish(i, res):
        lo, hi = i * cs, min(n, (i + 1) * cs)
        cols = chunk_columns(plan.dims, res, lo, hi, columns)
        if outdir is not None:
            name = f"chunk-{i:06d}.{'parquet' if fmt == 'parquet' else 'csv'}"
            _write_chunk(outdir / name, cols, fmt, precision)
            manifest["chunks"][str(i)] = {"file": name, "lo": lo, "hi": hi}
            _write_json(outdir / MANIFEST, manifest)
        else:
            mem[i] = cols
        if bar is not None:
            bar.update(hi - lo)

    writer = None
    pending: collections.deque = collections.deque()
    if outdir is not None and client is None and len(todo) > 1:
        from concurrent.futures import ThreadPoolExecutor
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nmc-sweep-writer")
    try:
        new = 0
        if client is None:
            # chunk i is written by one background thread while the kernel (which releases
            # the GIL) computes chunk i+1 into the other of two buffers; at most one write
            # waits, so the buffer of chunk i-1 is free again when chunk i+1 starts
            # (in memory, each chunk keeps its own array: columns are views of it)
            bufs = ([result_buffer(min(cs, n)) for _ in range(2 if writer else 1)]
                    if outdir is not None else [None])
            for k, i in enumerate(todo):
                if _stop_after is not None and new >= _stop_after:
                    raise KeyboardInterrupt
                lo, hi = i * cs, min(n, (i + 1) * cs)
                res = eval_range(payload, lo, hi, out=bufs[k % len(bufs)])
                if writer is None:
                    finish(i, res)
                else:
                    pending.append(writer.submit(finish, i, res))
                    while len(pending) > 1:
                        pending.popleft().result()
                new += 1
        else:
            from dask.distributed import as_completed
            pf = client.scatter(payload, broadcast=True)
            window = max(2, 2 * sum(client.nthreads().values()))
            queue = list(todo)
            futs = {}

            def submit():
                i = queue.pop(0)
                lo, hi = i * cs, min(n, (i + 1) * cs)
                f = client.submit(_dask_chunk, pf, lo, hi, pure=False)
                futs[f] = i
                return f

            ac = as_completed([submit() for _ in range(min(window, len(queue)))])
            for f in ac:
                i = futs.pop(f)
                finish(i, f.result())
                new += 1
                if _stop_after is not None and new >= _stop_after:
                    for g in futs:
                        g.cancel()
                    raise KeyboardInterrupt
                if queue:
                    ac.add(submit())
    finally:
        try:
            while pending:                    # finished chunks are never lost
                pending.popleft().result()
        finally:
            if writer is not None:
                writer.shutdown(wait=True)
        if bar is not None:
            bar.close()
        if outdir is not None:
            manifest["seconds"] = manifest.get("seconds", 0.0) + time.perf_counter() - t0
            manifest["complete"] = len(manifest["chunks"]) == n_chunks
            _write_json(outdir / MANIFEST, manifest)
    if outdir is not None:
        return manifest
    return {"columns": columns, "chunks": mem, "params": plan.param_names,
            "labels": plan.labels, "sweep": plan.describe}


def load(out: str | os.PathLike, columns: list[str] | None = None) -> Table:
    """Read a sweep directory (all finished chunks, in point order) into a Table."""
    outdir = Path(out)
    mpath = outdir / MANIFEST
    if not mpath.exists():
        raise ConfigError(f"{outdir}: no {MANIFEST} (not a sweep output directory)")
    man = json.loads(mpath.read_text())
    cols = man["columns"]
    want = columns or cols
    bad = [c for c in want if c not in cols]
    if bad:
        raise ConfigError(f"{outdir}: unknown column(s) {', '.join(bad)}; have {', '.join(cols)}")
    parts = []
    for k in sorted(man["chunks"], key=int):
        c = man["chunks"][k]
        d = _read_chunk(outdir / c["file"], man["format"], cols)
        parts.append({k2: d[k2] for k2 in want})
    data = {k: (np.concatenate([p[k] for p in parts]) if parts else np.empty(0)) for k in want}
    prec = man.get("precision", "float64")
    if prec == "float32":                 # csv reads back as float64: same dtype as parquet
        data = {k: (v.astype(np.float32) if k in _RESULT_SET else v) for k, v in data.items()}
    meta = {"params": man["params"], "sweep": man["sweep"], "complete": man["complete"],
            "n_points": man["n_points"], "precision": prec}
    return Table(data, {k: v for k, v in man["labels"].items() if k in want}, meta)


def _assemble(result: dict) -> Table:
    chunks = result["chunks"]
    data = {k: np.concatenate([chunks[i][k] for i in sorted(chunks)]) for k in result["columns"]}
    return Table(data, result["labels"], {"params": result["params"], "sweep": result["sweep"]})


# ---- public entry points ---------------------------------------------------------------------
def sweep(model, arch, grid: dict | None = None, *, out=None, client=None, chunk_size=None,
          format: str | None = None, progress: bool = False, overwrite: bool = False,
          threads: int | None = None, arch_set: dict | None = None, columns=None,
          precision: str | None = None, **scenario) -> Table:
    """Evaluate model(s) x arch(s) x grid under a scenario; return a columnar Table.

    model, arch: a name/path or a list of them (a list becomes a grid dimension).
    grid: {param: [values] | {"linspace": [a, b, n]} | {"logspace": [a, b, n]},
           "p,q": [(p1, q1), (p2, q2)]} -- see the module docstring.
    scenario keywords: phase, batch, prompt, context, generate, tp, weights, activations, kv, ...
    out: directory for chunked, resumable output; client: a dask.distributed Client;
    columns: result columns to keep (default all; swept parameters are always kept);
    precision: "float32" stores result columns on disk as float32 (with out only)."""
    plan = make_plan(model, arch, grid, scenario, arch_set=arch_set, columns=columns)
    import numba
    before = numba.get_num_threads()
    if threads:
        numba.set_num_threads(int(threads))
    try:
        res = run(plan, out, chunk_size=chunk_size, fmt=format, client=client,
                  progress=progress, overwrite=overwrite, precision=precision)
    finally:
        numba.set_num_threads(before)
    if out is not None:
        return load(out)
    return _assemble(res)


SPEC_KEYS = {"name", "description", "model", "arch", "scenario", "grid", "set", "chunk_size",
             "format", "columns", "precision"}


def load_spec(path) -> dict:
    """Parse a sweep spec TOML (never executes code) into make_plan/run keyword arguments."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: malformed TOML ({e})") from None
    where = _Where(text, str(p))
    for k in raw:
        if k not in SPEC_KEYS:
            close = difflib.get_close_matches(k, SPEC_KEYS, n=1)
            raise ConfigError(f"{where(None, k)}: unknown key {k!r}"
                              f"{f'; did you mean {close[0]}?' if close else ''} "
                              f"(allowed: {', '.join(sorted(SPEC_KEYS))})")
    for k in ("model", "arch"):
        if k not in raw:
            raise ConfigError(f"{p}: missing key {k!r} (a name or a list of names)")
        v = raw[k]
        if isinstance(v, list) and not v or not (isinstance(v, str) or (
                isinstance(v, list) and all(isinstance(x, str) for x in v))):
            raise ConfigError(f"{where(None, k)}: {k} must be a name or a non-empty list of names")
    for k in ("scenario", "grid", "set"):
        if k in raw and not isinstance(raw[k], dict):
            raise ConfigError(f"{where(None, k)}: [{k}] must be a table")
    cs = raw.get("chunk_size")
    if cs is not None and (isinstance(cs, bool) or not isinstance(cs, int) or cs < 1):
        raise ConfigError(f"{where(None, 'chunk_size')}: chunk_size must be an integer >= 1")
    prec = raw.get("precision")
    if prec is not None:
        _check_precision(prec, where(None, "precision"))
    for k in raw.get("set", {}):
        if k not in BY_NAME:
            _resolve_name(k, where("set", k))
            raise ConfigError(f"{where('set', k)}: [set] overrides architecture parameters only")
    for k in raw.get("scenario", {}):
        if k not in L.SCEN_FIELDS:
            _resolve_name(k, where("scenario", k))
            raise ConfigError(f"{where('scenario', k)}: [scenario] takes scenario fields "
                              f"({', '.join(L.SCEN_FIELDS)}); sweep {k} in [grid]")
    if not raw.get("grid"):
        raise ConfigError(f"{p}: [grid] is missing or empty: name at least one parameter to sweep")
    return {"model": raw["model"], "arch": raw["arch"], "grid": raw.get("grid", {}),
            "scenario": raw.get("scenario", {}), "arch_set": raw.get("set") or None,
            "chunk_size": cs, "format": raw.get("format"), "precision": prec, "where": where,
            "columns": check_columns(raw.get("columns"), where(None, "columns")),
            "name": raw.get("name", p.stem)}


def plan_from_spec(spec: dict) -> Plan:
    try:
        return make_plan(spec["model"], spec["arch"], spec["grid"], spec["scenario"],
                         where=spec["where"], arch_set=spec["arch_set"],
                         columns=spec.get("columns"))
    except ConfigError as e:
        msg = str(e)
        if spec["where"].path not in msg:
            msg = f"{spec['where'].path}: {msg}"
        raise type(e)(msg) from None


# ---- search ----------------------------------------------------------------------------------
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
    from . import units
    if param not in BY_NAME:
        _resolve_name(param, f"search: --param {param}")
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

    from .engine import evaluate_point
    ops = np.empty((L.N_SLOTS, L.N_OF))
    terms = np.empty((L.N_SLOTS, L.N_TERMS))
    res = np.empty(L.N_RESULTS)
    av = plan.a0.copy()

    def f(x):
        av[ai] = x
        evaluate_point(plan.m0, plan.s0, av, ops, terms, res)
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
        cap = av[INDEX["mem_capacity"]] * av[INDEX["mem_usable"]]
        msg += (f"; warning: does not fit, needs {res[L.R_MEM_FOOTPRINT] / 1e9:.1f} GB per "
                f"device, usable {cap / 1e9:.1f} GB (raise tp or lower the dtype)")
    return SearchResult(param, float(good), direction, metric, target, achieved, lo, hi, n_eval[0],
                        msg, bool(res[L.R_FITS] >= 0.5))


# `nmc.sweep(...)` runs a sweep while `nmc.sweep.load(...)` etc. stay reachable: the module is
# callable.
class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kw):
        return sweep(*args, **kw)


sys.modules[__name__].__class__ = _CallableModule
