"""Sweep specs: parameter names, values with units, grids ({linspace}, {logspace}, zipped
keys) and spec TOML files, each error naming the file, line and key (docs/sweep.md)."""
from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path

import numpy as np

from .. import units
from ..arch.loader import _check
from ..arch.schema import BY_NAME, INDEX
from ..engine import layout as L
from ..errors import ConfigError
from ..workload.scenario import DTYPES, INT_LIMITS, PHASES

SHARE_COLS = ("share_compute", "share_memory", "share_latency", "share_comm")
TARGET_ARCH, TARGET_SCEN, TARGET_MODEL = 0, 1, 2
DTYPE_FIELDS = ("weights", "activations", "kv")
INT_FIELDS = ("batch", "prompt", "context", "generate", "tp", "ep")
PRECISIONS = ("float64", "float32")
MAX_RANGE_POINTS = 10 ** 8          # values of one {linspace/logspace} range


def named_fields() -> dict[str, tuple[str, ...]]:
    """Scenario fields whose values are names -> names in code order."""
    out = {"phase": tuple(PHASES)}
    dt = tuple(sorted(DTYPES, key=lambda k: DTYPES[k][0]))
    for f in DTYPE_FIELDS:
        out[f] = dt
    out["mapping"] = tuple(L.MAPPING_NAMES)
    out["runtime"] = tuple(L.RUNTIME_NAMES)
    return out


def check_precision(precision, where: str | None = None) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"{where + ': ' if where else ''}precision must be one of "
                          f"{', '.join(PRECISIONS)}, got {precision!r}")
    return precision


class Where:
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
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) \
            or n != int(n) or n < 1:
        raise ConfigError(f"{where}: {kind} needs a whole point count n >= 1, got {n!r}"
                          + (" (empty range)" if isinstance(n, (int, float)) and n < 1 else ""))
    if n > MAX_RANGE_POINTS:
        raise ConfigError(f"{where}: {kind} of {n:.3g} points; at most {MAX_RANGE_POINTS:.0e} "
                          f"in one range")
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
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ConfigError(f"{where}: expected a finite number, got {raw!r}")
    return float(raw)


def arch_value(name: str, raw, where: str) -> float:
    p = BY_NAME[name]
    return _check(p, units.parse(raw, p.kind, where), where)


def scen_value(name: str, raw, where: str, named: dict) -> tuple[float, str | None]:
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
        hi = INT_LIMITS.get(name, 10 ** 9)
        if not math.isfinite(v) or v != int(v) or not lo <= v <= hi:
            raise ConfigError(f"{where}: {name} must be an integer from {lo} to {hi:.0e}, got "
                              f"{raw!r}".replace("e+0", "e").replace("e+", "e"))
    elif not math.isfinite(v) or v < 0 or v > 1e6:
        raise ConfigError(f"{where}: {name} must be a number from 0 to 1e6, got {raw!r}")
    return v, None


def resolve_name(name: str, where: str) -> int:
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
    where = where or Where()
    named = named_fields()
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
        targets = [resolve_name(n, w) for n in names]

        def conv(i, raw, w=w, names=names, targets=targets):
            n = names[i]
            if targets[i] == TARGET_ARCH:
                return arch_value(n, raw, f"{w}: {n}"), None
            return scen_value(n, raw, f"{w}: {n}", named)

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


def as_list(x) -> list:
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



SPEC_KEYS = {"name", "description", "model", "arch", "scenario", "grid", "set", "chunk_size",
             "format", "columns", "precision"}


def load_spec(path) -> dict:
    """Parse a sweep spec TOML (never executes code) into make_plan/run keyword arguments."""
    p = Path(path)
    try:
        text = p.read_text()
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: malformed TOML (not UTF-8 text)") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: malformed TOML ({e})") from None
    where = Where(text, str(p))
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
        check_precision(prec, where(None, "precision"))
    for k in raw.get("set", {}):
        if k not in BY_NAME:
            resolve_name(k, where("set", k))
            raise ConfigError(f"{where('set', k)}: [set] overrides architecture parameters only")
    for k in raw.get("scenario", {}):
        if k not in L.SCEN_FIELDS:
            resolve_name(k, where("scenario", k))
            raise ConfigError(f"{where('scenario', k)}: [scenario] takes scenario fields "
                              f"({', '.join(L.SCEN_FIELDS)}); sweep {k} in [grid]")
    if not raw.get("grid"):
        raise ConfigError(f"{p}: [grid] is missing or empty: name at least one parameter to sweep")
    return {"model": raw["model"], "arch": raw["arch"], "grid": raw.get("grid", {}),
            "scenario": raw.get("scenario", {}), "arch_set": raw.get("set") or None,
            "chunk_size": cs, "format": raw.get("format"), "precision": prec, "where": where,
            "columns": check_columns(raw.get("columns"), where(None, "columns")),
            "name": raw.get("name", p.stem)}

