"""Load and validate architecture presets (models/arch/*.toml) into an Architecture.

Loading never executes code. Unknown keys are errors; every error names the file, the key and
the allowed range. `base = "other"` inherits every value and source of another preset.

A numeric value may carry an uncertainty band: `aimc_tiles = { central = 4096, low = 256,
high = 16384 }` (units as for a plain value). The central value is the preset's value; the band
is kept in Architecture.bands and Architecture.band("low" / "high") returns the preset with every
banded parameter at that end. Rules: low <= central <= high, each end within the parameter's
range and the preset consistent at each end. A preset that sets a plain value for a key drops the
band it inherited for that key; Architecture.with_ drops the band of every key it changes."""
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
BAND_ENDS = ("low", "central", "high")


@dataclass
class Architecture:
    name: str
    family: str
    values: dict[str, float]                 # every parameter, SI units, defaults filled in
    text: dict[str, str] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # vendor, year, summary
    path: str = ""
    bands: dict[str, tuple[float, float]] = field(default_factory=dict)   # key -> (low, high)

    def vector(self) -> np.ndarray:
        v = np.empty(N_PARAMS, dtype=np.float64)
        for p in PARAMS:
            v[INDEX[p.name]] = self.values[p.name]
        return v

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def with_(self, **changes) -> "Architecture":
        """A copy with some parameters changed (SI numbers or unit strings), validated. The band
        of a changed parameter is dropped (its value is no longer the preset's central one)."""
        vals = dict(self.values)
        for k, v in changes.items():
            if k not in BY_NAME:
                import difflib
                close = difflib.get_close_matches(str(k), list(BY_NAME), n=3)
                raise ConfigError(f"{self.name}: unknown parameter {k!r}"
                                  f"{'; did you mean ' + ', '.join(close) + '?' if close else ''}"
                                  f" (list: `nmc list params`)")
            vals[k] = _check(BY_NAME[k], units.parse(v, BY_NAME[k].kind, f"{self.name}: {k}"),
                             f"{self.name}: {k}")
        _check_consistency(vals, self.name, self.family)
        bands = {k: b for k, b in self.bands.items() if k not in changes}
        return Architecture(self.name, self.family, vals, dict(self.text), dict(self.sources),
                            dict(self.meta), self.path, bands)

    def band(self, end: str) -> "Architecture":
        """The preset with every banded parameter at its `end` ("low", "central" or "high");
        the copy has no bands and meta["band"] = end. Ends are by value: "low" takes each
        parameter's low value, whichever way that moves a result."""
        if end not in BAND_ENDS:
            raise ConfigError(f"{self.name}: band end {end!r} is not one of {', '.join(BAND_ENDS)}")
        vals = dict(self.values)
        if end != "central":
            for k, (lo, hi) in self.bands.items():
                vals[k] = lo if end == "low" else hi
        _check_consistency(vals, f"{self.name} (band {end})", self.family)
        return Architecture(self.name, self.family, vals, dict(self.text), dict(self.sources),
                            dict(self.meta, band=end), self.path)

    def to_dict(self) -> dict:
        d = {"name": self.name, "family": self.family, **self.meta, "params": dict(self.values),
             "text": dict(self.text)}
        if self.bands:
            d["bands"] = {k: {"low": lo, "central": self.values[k], "high": hi}
                          for k, (lo, hi) in self.bands.items()}
        return d


# counts that may be fractional: a mean
FRACTIONAL_COUNTS = frozenset({"aimc_verify_iters"})


def is_integer_param(p) -> bool:
    """Whether parameter p takes whole numbers only (counts: cores, tiles, devices, bits...)."""
    return p.kind == "count" and p.name not in FRACTIONAL_COUNTS


def _check(p, v: float, where: str) -> float:
    if v in (float("inf"), float("-inf")):
        raise ConfigError(f"{where} = {v:g}: must be a finite number")
    if v != v or (v <= p.lo if p.lo_open else v < p.lo) or v > p.hi:
        lo = f"> {p.lo:g}" if p.lo_open else f">= {p.lo:g}"
        raise ConfigError(f"{where} = {v:g} is out of range (allowed: {lo} and <= {p.hi:g})")
    if is_integer_param(p) and v != int(v):
        raise ConfigError(f"{where} = {v:g} must be a whole number ({p.doc})")
    return v


def _band(p, v: dict, where: str) -> tuple[float, float, float]:
    """(low, central, high) of a band entry { central = .., low = .., high = .. }."""
    if set(v) != set(BAND_ENDS):
        raise ConfigError(f"{where}: a band is {{ central = ..., low = ..., high = ... }} "
                          f"(all three keys, nothing else); got keys {', '.join(sorted(v)) or 'none'}")
    lo, c, hi = (_check(p, units.parse(v[e], p.kind, f"{where}.{e}"), f"{where}.{e}")
                 for e in ("low", "central", "high"))
    if not lo <= c <= hi:
        raise ConfigError(f"{where}: band must satisfy low <= central <= high, got low = {lo:g}, "
                          f"central = {c:g}, high = {hi:g}")
    return lo, c, hi


def _check_consistency(vals: dict, where: str, family: str | None = None) -> None:
    if vals["sram_bw"] > 0 and vals["sram_capacity"] <= 0:
        raise ConfigError(f"{where}: sram_bw is set but sram_capacity is 0")
    check_aimc(vals, where)
    check_pim(vals, where, family)


def list_archs() -> list[str]:
    return sorted(p.stem for p in arch_dir().glob("*.toml"))


def _resolve(name_or_path, folder: Path | None = None) -> Path:
    """A preset's path: a name of a bundled preset, or a TOML path. folder: where a relative
    path is read from (a preset's `base =` is relative to the preset's own folder), also
    searched for NAME.toml when NAME is not a bundled preset."""
    s = str(name_or_path)
    if not s.strip():
        raise ConfigError("empty architecture name")
    p = Path(s)
    if folder is not None and not p.is_absolute() and (p.suffix == ".toml" or "/" in s):
        p = folder / p
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ConfigError(f"{p}: file not found")
        if p.is_dir():
            raise ConfigError(f"{p}: is a directory, not a TOML preset")
        return p
    if folder is not None and not (arch_dir() / f"{s}.toml").exists() \
            and (folder / f"{s}.toml").is_file():
        return folder / f"{s}.toml"
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
    for k in ("name", "family", "base", "summary", "vendor"):
        if k in raw and not isinstance(raw[k], str):
            raise ConfigError(f"{where}: {k} must be a string, got {raw[k]!r}")
    if "base" in raw:
        try:
            bpath = _resolve(raw["base"], path.parent)
        except ConfigError as e:
            raise ConfigError(f"{where}: base {raw['base']!r}: {e}") from None
        if bpath.resolve() in _seen:
            raise ConfigError(f"{where}: base {raw['base']!r} makes a cycle")
        base = load_arch(bpath, _seen)
        given, text, sources = {}, dict(base.text), dict(base.sources)
        inherited = dict(base.values)
        bands = dict(base.bands)
        family = raw.get("family", base.family)
        meta = dict(base.meta)
    else:
        given, text, sources, inherited, meta, bands = {}, {}, {}, {}, {}, {}
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
            if isinstance(v, dict):
                lo, given[k], hi = _band(p, v, f"{where}: {sec}.{k}")
                bands[k] = (lo, hi)
                continue
            given[k] = _check(p, units.parse(v, p.kind, f"{where}: {sec}.{k}"), f"{where}: {sec}.{k}")
            bands.pop(k, None)                       # a plain value replaces an inherited band

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
    for end in ("low", "high"):                  # the preset must be valid at each band end
        vals = dict(values)
        vals.update({k: b[0 if end == "low" else 1] for k, b in bands.items()})
        _check_consistency(vals, f"{where} (band {end})", family)
    return Architecture(name=name, family=family, values=values, text=text, sources=sources,
                        meta=meta, path=where, bands=bands)
