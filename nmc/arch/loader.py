"""Load and validate architecture presets (models/arch/*.toml) into an Architecture.

Loading never executes code. Unknown keys are errors; every error names the file, the key and
the allowed range. `base = "other"` inherits every value and source of another preset."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import units
from ..errors import ConfigError
from ..paths import arch_dir
from .aimc_params import check_aimc
from .pim_params import check_pim
from .schema import BY_NAME, INDEX, N_PARAMS, PARAMS, SECTIONS, TEXT_KEYS, TOP_KEYS, FAMILIES

CONFIDENCE = ("high", "medium", "low", "estimate")


@dataclass
class Architecture:
    name: str
    family: str
    values: dict[str, float]                 # every parameter, SI units, defaults filled in
    text: dict[str, str] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # vendor, year, summary
    path: str = ""

    def vector(self) -> np.ndarray:
        v = np.empty(N_PARAMS, dtype=np.float64)
        for p in PARAMS:
            v[INDEX[p.name]] = self.values[p.name]
        return v

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def with_(self, **changes) -> "Architecture":
        """A copy with some parameters changed (SI numbers or unit strings), validated."""
        vals = dict(self.values)
        for k, v in changes.items():
            if k not in BY_NAME:
                raise ConfigError(f"{self.name}: unknown parameter {k!r}")
            vals[k] = _check(BY_NAME[k], units.parse(v, BY_NAME[k].kind, f"{self.name}: {k}"),
                             f"{self.name}: {k}")
        _check_consistency(vals, self.name, self.family)
        return Architecture(self.name, self.family, vals, dict(self.text), dict(self.sources),
                            dict(self.meta), self.path)

    def to_dict(self) -> dict:
        return {"name": self.name, "family": self.family, **self.meta, "params": dict(self.values),
                "text": dict(self.text)}


def _check(p, v: float, where: str) -> float:
    if v != v or (v <= p.lo if p.lo_open else v < p.lo) or v > p.hi:
        lo = f"> {p.lo:g}" if p.lo_open else f">= {p.lo:g}"
        raise ConfigError(f"{where} = {v:g} is out of range (allowed: {lo} and <= {p.hi:g})")
    return v


def _check_consistency(vals: dict, where: str, family: str | None = None) -> None:
    if vals["sram_bw"] > 0 and vals["sram_capacity"] <= 0:
        raise ConfigError(f"{where}: sram_bw is set but sram_capacity is 0")
    check_aimc(vals, where)
    check_pim(vals, where, family)


def list_archs() -> list[str]:
    return sorted(p.stem for p in arch_dir().glob("*.toml"))


def _resolve(name_or_path) -> Path:
    s = str(name_or_path)
    p = Path(s)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ConfigError(f"{s}: file not found")
        return p
    p = arch_dir() / f"{s}.toml"
    if not p.exists():
        raise ConfigError(f"unknown architecture {s!r}: not a file and not a bundled preset "
                          f"(bundled: {', '.join(list_archs())})")
    return p


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: malformed TOML ({e})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: malformed TOML (not UTF-8 text)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None


def load_arch(name_or_path, _seen=None) -> Architecture:
    """A bundled preset name (see `nmc list archs`) or the path of a TOML file."""
    if isinstance(name_or_path, Architecture):
        return name_or_path
    path = _resolve(name_or_path)
    raw = _read(path)
    where = str(path)
    _seen = (_seen or ()) + (path.resolve(),)

    for k in raw:
        if k not in TOP_KEYS and k not in SECTIONS and k != "sources":
            raise ConfigError(f"{where}: unknown key {k!r} (allowed top-level keys: "
                              f"{', '.join(sorted(TOP_KEYS))}; sections: {', '.join(SECTIONS)}, sources)")
    if "base" in raw:
        bpath = _resolve(raw["base"]) if "/" in str(raw["base"]) else _resolve(str(raw["base"]))
        if bpath.resolve() in _seen:
            raise ConfigError(f"{where}: base {raw['base']!r} makes a cycle")
        base = load_arch(bpath, _seen)
        given, text, sources = {}, dict(base.text), dict(base.sources)
        inherited = dict(base.values)
        family = raw.get("family", base.family)
        meta = dict(base.meta)
    else:
        given, text, sources, inherited, meta = {}, {}, {}, {}, {}
        family = raw.get("family")
        if family is None:
            raise ConfigError(f"{where}: missing key 'family' (allowed: {', '.join(FAMILIES)})")
    if family not in FAMILIES:
        raise ConfigError(f"{where}: family {family!r} is not one of {', '.join(FAMILIES)}")
    name = raw.get("name", path.stem)
    if name != path.stem and path.parent.resolve() == arch_dir().resolve():
        raise ConfigError(f"{where}: name {name!r} must equal the file name {path.stem!r}")
    for k in ("vendor", "year", "summary"):
        if k in raw:
            meta[k] = raw[k]

    for sec in SECTIONS:
        table = raw.get(sec, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{sec}] must be a table")
        for k, v in table.items():
            if k in TEXT_KEYS.get(sec, ()):
                text[k] = str(v)
                continue
            p = BY_NAME.get(k)
            if p is None or p.section != sec:
                allowed = sorted([q.name for q in PARAMS if q.section == sec] + list(TEXT_KEYS.get(sec, ())))
                hint = f" (it belongs in [{p.section}])" if p is not None else ""
                raise ConfigError(f"{where}: unknown key {sec}.{k}{hint}; allowed in [{sec}]: "
                                  f"{', '.join(allowed)}")
            given[k] = _check(p, units.parse(v, p.kind, f"{where}: {sec}.{k}"), f"{where}: {sec}.{k}")

    src = raw.get("sources", {})
    if not isinstance(src, dict):
        raise ConfigError(f"{where}: [sources] must be a table")
    for k, s in src.items():
        if k not in BY_NAME and not any(k in t for t in TEXT_KEYS.values()):
            raise ConfigError(f"{where}: sources.{k} names no parameter")
        if isinstance(s, str):
            s = {"ref": s, "confidence": "medium"}
        if not isinstance(s, dict) or "ref" not in s or set(s) - {"ref", "confidence"}:
            raise ConfigError(f"{where}: sources.{k} must be {{ ref = \"...\", confidence = \"...\" }}")
        if s.get("confidence", "medium") not in CONFIDENCE:
            raise ConfigError(f"{where}: sources.{k}.confidence must be one of {', '.join(CONFIDENCE)}")
        sources[k] = {"ref": s["ref"], "confidence": s.get("confidence", "medium")}
    missing = [k for k in given if k not in sources]
    if missing:
        raise ConfigError(f"{where}: no [sources] entry for {', '.join(sorted(missing))}")

    values = dict(inherited)
    values.update(given)
    for p in PARAMS:
        if p.name not in values:
            if p.default is None:
                raise ConfigError(f"{where}: missing required key {p.section}.{p.name} ({p.doc})")
            values[p.name] = p.default
    _check_consistency(values, where, family)
    return Architecture(name=name, family=family, values=values, text=text, sources=sources,
                        meta=meta, path=where)
