"""Words and units on charts: the whole scenario of a comparison in one title, axis labels with
units for every sweep parameter and result, and tick labels in engineering notation."""
from __future__ import annotations

import math

from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..arch.schema import BY_NAME
from ..units import sig

# the unit of each parameter kind (nmc.arch.schema)
KIND_UNITS = {"flops": "FLOP/s", "bw": "B/s", "bytes": "B", "time": "s", "power": "W",
              "energy_flop": "J/FLOP", "energy_byte": "J/B", "area": "mm²", "count": "",
              "fraction": "", "freq": "Hz", "energy": "J", "price": "USD/h"}
# scenario fields and results: (words, unit)
NAMES = {
    "batch": ("batch", "sequences"), "prompt": ("prompt", "tokens"),
    "context": ("context", "tokens in the KV cache"), "generate": ("generated", "tokens"),
    "tp": ("tensor parallel", "devices"),
    "latency_s": ("latency", "s"), "tokens_per_s": ("throughput", "tokens/s"),
    "energy_j": ("energy", "J"), "energy_per_token_j": ("energy per token", "J/token"),
    "t_compute_s": ("compute time", "s"), "t_memory_s": ("memory time", "s"),
    "t_latency_s": ("latency (overhead) time", "s"), "t_comm_s": ("communication time", "s"),
    "flops": ("FLOPs", "FLOP"), "dram_bytes": ("DRAM traffic", "B"),
    "memory_bytes": ("memory per device", "B"), "weight_bytes": ("weights", "B"),
    "kv_bytes": ("KV cache", "B"), "activation_bytes": ("activations", "B"),
    "ttft_s": ("time to first token", "s"), "tpot_s": ("time per output token", "s"),
    "max_batch": ("largest batch that fits", "sequences"),
    "share_compute": ("compute share of time", ""), "share_memory": ("memory share of time", ""),
    "share_latency": ("latency share of time", ""), "share_comm": ("comm share of time", ""),
}
# values a tick label shows with an SI prefix in this unit (everything else: plain numbers)
PREFIXED = {"FLOP/s", "B/s", "B", "s", "W", "J", "J/FLOP", "J/B", "Hz", "FLOP", "J/token"}


def unit_of(name: str) -> str:
    if name in BY_NAME:
        return KIND_UNITS.get(BY_NAME[name].kind, "")
    return NAMES.get(name, ("", ""))[1]


def axis_label(name: str) -> str:
    """'mem_bw (B/s)', 'batch (sequences)', 'throughput, tokens_per_s (tokens/s)'."""
    unit = unit_of(name)
    if name in NAMES and NAMES[name][0] != name:
        words = f"{NAMES[name][0]} [{name}]"
    else:
        words = name
    return f"{words} ({unit})" if unit else words


def _trim(s: str) -> str:
    return s.rstrip("0").rstrip(".") if "." in s else s


def eng_tick(v: float, unit: str = "") -> str:
    """A tick label: 1k, 2.5T (with a prefix where the unit takes one), 0.5, 200."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else ""
    if unit in PREFIXED or unit == "":
        for p, f in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(v) >= f:
                return _trim(sig(v / f, 3)) + p
    if unit in PREFIXED:
        for p, f in (("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
            if f <= abs(v) < f * 1000:
                return _trim(sig(v / f, 3)) + p
    return _trim(sig(v, 3))


def eng_axis(axis, unit: str = "", log: bool = True) -> None:
    """Readable ticks on a log (or linear) axis: labels at 1, 2, 5 x 10^k on short log ranges
    (a decade or two), at powers of ten on long ones, in engineering notation."""
    fmt = FuncFormatter(lambda v, _pos: eng_tick(v, unit))
    if log:
        lo, hi = axis.get_view_interval()
        decades = math.log10(max(hi, 1e-300) / max(lo, 1e-300)) if lo > 0 else 99
        subs = (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)
        axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
        axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(fmt)


def scenario_title(sc, model: str | None = None, batch=None) -> str:
    """The whole scenario of a report in one line: model, phase, batch (the scenario's, or the
    `batch` text given: "1, 8, 64"), lengths, tp, dtypes, runtime (and the PIM mapping when it
    is not auto)."""
    lengths = {"decode": f"context {sc.context}", "prefill": f"prompt {sc.prompt}",
               "generate": f"prompt {sc.prompt} + {sc.generate} generated"}[sc.phase]
    dt = (f"{sc.weights} weights/activations/KV" if sc.weights == sc.activations == sc.kv
          else f"weights {sc.weights}, activations {sc.activations}, KV {sc.kv}")
    parts = [f"{model} {sc.phase}" if model else sc.phase,
             f"batch {sc.batch if batch is None else batch}", lengths, f"tp {sc.tp}", dt,
             f"runtime {sc.runtime}"]
    if sc.mapping != "auto":
        parts.append(f"mapping {sc.mapping}")
    return ", ".join(parts)
