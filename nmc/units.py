"""Parse and format quantities with units. Everything inside nmc is in SI base units:
s, B, FLOP, FLOP/s, B/s, J, W, mm2; prices in US dollars per device-hour."""
from __future__ import annotations

import math
import re

from .errors import ConfigError

_DEC = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}
_SMALL = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}

# unit kind -> {unit text: factor to SI}
def _table() -> dict[str, dict[str, float]]:
    t: dict[str, dict[str, float]] = {k: {} for k in
                                      ("flops", "bw", "bytes", "time", "power", "energy_flop",
                                       "energy_byte", "area", "count", "fraction", "freq", "energy",
                                       "price")}
    for p, f in _DEC.items():
        for u in ("FLOPS", "FLOP/s", "OPS", "OP/s"):
            t["flops"][p + u] = f
        t["bw"][p + "B/s"] = f
        t["bw"][p + "b/s"] = f / 8
        t["bytes"][p + "B"] = f
        t["freq"][p + "Hz"] = f
        t["power"][p + "W"] = f
    for p, f in _BIN.items():
        t["bw"][p + "B/s"] = f
        t["bytes"][p + "B"] = f
    for p, f in _SMALL.items():
        t["time"][p + "s"] = f
        t["energy_flop"][p + "J/FLOP"] = f
        t["energy_flop"][p + "J/OP"] = f
        t["energy_byte"][p + "J/B"] = f
        t["energy_byte"][p + "J/bit"] = f * 8
        t["energy"][p + "J"] = f
        t["power"][p + "W"] = f
    t["time"]["min"] = 60.0
    t["time"]["h"] = 3600.0
    t["time"]["day"] = 86400.0
    t["time"]["year"] = 365.25 * 86400.0         # Julian year
    for u in ("$/h", "$/hour", "$/hr", "USD/h", "USD/hour", "USD/hr"):   # US dollars per hour
        t["price"][u] = 1.0
    t["area"]["mm2"] = 1.0
    t["area"]["mm^2"] = 1.0
    return t


UNITS = _table()
_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s].*?)?\s*$")


def parse(value, kind: str, where: str = "") -> float:
    """Parse a number or a '<number> <unit>' string of the given kind into SI.

    Plain numbers are taken as SI already. Raises ConfigError naming `where` on bad input."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a number or a '<number> <unit>' string, got {value!r}")
    m = _NUM.match(value)
    if not m:
        raise ConfigError(f"{where}: cannot read {value!r} as a quantity")
    num, unit = float(m.group(1)), (m.group(2) or "")
    if unit == "":
        return num
    table = UNITS.get(kind, {})
    if unit not in table:
        allowed = ", ".join(sorted(table)[:12])
        raise ConfigError(f"{where}: unit {unit!r} is not a {kind} unit (e.g. {allowed})")
    return num * table[unit]


def fmt(x: float, unit: str, digits: int = 3) -> str:
    """Format an SI value with a decimal prefix: fmt(3.35e12, 'B/s') -> '3.35 TB/s'."""
    if x == 0 or x != x:
        return f"{x:g} {unit}"
    ax = abs(x)
    for p, f in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0),
                 ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if ax >= f * 0.9995:
            return f"{x / f:.{digits}g} {p}{unit}"
    return f"{x:.{digits}g} {unit}"


# engineering notation for people (text tables, chart ticks): three significant figures

_PREFIX = (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0),
           ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12), ("f", 1e-15))


def sig(x: float, digits: int = 3) -> str:
    """x to `digits` significant figures without an exponent (digits of an integer part are
    kept: 3109 stays 3109)."""
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 10 ** digits:
        return f"{x:.0f}"
    decimals = max(digits - 1 - math.floor(math.log10(ax)), 0)
    s = f"{x:.{decimals}f}"
    # rounding up may add a digit (9.996 -> 10.00): one decimal less
    if decimals and len(s.replace("-", "").replace(".", "").lstrip("0")) > digits:
        s = f"{x:.{decimals - 1}f}"
    return s


def eng(x: float, unit: str = "", digits: int = 3, small: bool = True) -> str:
    """x (SI) with a decimal prefix: eng(3.35e12, "B/s") -> "3.35 TB/s",
    eng(6.5e-5, "s") -> "65.0 µs". small=False: no prefixes below 1 (FLOP/s, B/s, ...)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf"
    if x == 0:
        return f"0 {unit}".strip()
    ax = abs(x)
    for p, f in _PREFIX:
        if not small and f < 1:
            break
        if ax >= f * (1 - 5e-4):
            return f"{sig(x / f, digits)} {p}{unit}".strip()
    p, f = _PREFIX[-1] if small else ("", 1.0)
    return f"{sig(x / f, digits)} {p}{unit}".strip()


def fmt_bytes(x: float, digits: int = 3) -> str:
    """Bytes with their unit: a whole number of GiB (or MiB, TiB) as written in a datasheet's
    binary units ("80 GiB"), anything else in decimal units ("16.3 GB")."""
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return eng(x if x is not None else math.nan, "B")
    for p, f in (("Ti", 2.0 ** 40), ("Gi", 2.0 ** 30), ("Mi", 2.0 ** 20)):
        if x >= f and x % f == 0 and x / f < 10000:
            return f"{x / f:.0f} {p}B"
    return eng(x, "B", digits)


def pct(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100.0 * x:.1f}%"
