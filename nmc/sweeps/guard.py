"""Guarded sweeps: before a sweep starts, estimate its points, peak memory, disk and time, and
refuse it above limits that a flag (CLI) or keyword (nmc.sweep) raises, naming the numbers
(docs/sweep.md, "Limits").

    limits = Limits.of(max_points=..., max_memory="64 GB", max_disk="2 TB", max_hours=48)
    check_grid_size(model, arch, grid, limits)   # from the raw spec, before any value is built
    est = estimate(plan, out, ...); check(est, limits, out)

Defaults: 1e10 points; memory: half of the memory available now (MemAvailable); disk: the free
space of the output's file system; time: 24 h. The estimates are deliberately plain: result
bytes from the column count (in memory: 8 B per value, twice while the table is assembled; on
disk: measured bytes per value of each format), time from measured rates on the development
VM (docs/sweep.md, "Benchmark"): they are for refusing what cannot finish, not for planning to
the minute."""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import units
from ..errors import ConfigError

DEFAULT_MAX_POINTS = 1e10
DEFAULT_MAX_HOURS = 24.0
MEMORY_SHARE = 0.5                # of the memory available now, for one sweep by default

# bytes on disk per result value (measured: a 100M-point decode sweep of 27 columns is 3.0 GB
# of lz4 parquet, 1.6 GB at float32; CSV "%.17g" ~12.6 B, "%.9g" ~9 B): parquet's compression
# depends on the data, so the estimate takes ~3x the measured figure
DISK_BYTES_PER_VALUE = {("parquet", "float64"): 3.5, ("parquet", "float32"): 2.0,
                        ("csv", "float64"): 13.0, ("csv", "float32"): 9.5}
# seconds per point: kernel per thread (host-only arches; PIM and AIMC points price every row
# on its engine) and the writer (one thread, overlapped with the kernel)
KERNEL_S = {"host": 0.25e-6, "other": 3e-6}
WRITE_S = {"parquet": 0.35e-6, "csv": 6e-6}
# Python objects of the grid values while the plan is built (floats, tuples, lists)
PLAN_BYTES_PER_VALUE = 300.0


class SweepTooLarge(ConfigError):
    """A sweep above a limit (points, memory, disk, time); the message names the numbers and
    the flag or keyword that raises the limit."""


def available_memory() -> float:
    """Bytes of memory available now (Linux MemAvailable), else the physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def free_disk(path) -> float:
    """Free bytes of the file system that holds path (or its nearest existing parent)."""
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return float(shutil.disk_usage(p).free)
    except OSError:
        return math.inf


def _quantity(value, kind: str, what: str) -> float | None:
    if value is None:
        return None
    v = units.parse(value, kind, what)
    if not v > 0:
        raise ConfigError(f"{what} must be > 0, got {value!r}")
    return float(v)


@dataclass(frozen=True)
class Limits:
    """None: the default (module doc)."""
    max_points: float | None = None
    max_memory: float | None = None      # bytes
    max_disk: float | None = None        # bytes
    max_hours: float | None = None

    @classmethod
    def of(cls, max_points=None, max_memory=None, max_disk=None, max_hours=None) -> Limits:
        """Limits from numbers or unit strings ("64 GB", "2 TB"); checked."""
        if max_points is not None:
            if isinstance(max_points, bool) or not isinstance(max_points, (int, float, str)):
                raise ConfigError(f"max_points must be a number, got {max_points!r}")
            try:
                max_points = float(max_points)
            except ValueError:
                raise ConfigError(f"max_points must be a number, got {max_points!r}") from None
            if not max_points >= 1:
                raise ConfigError(f"max_points must be >= 1, got {max_points!r}")
        if max_hours is not None:
            max_hours = _quantity(max_hours, "count", "max_hours")
        return cls(max_points, _quantity(max_memory, "bytes", "max_memory"),
                   _quantity(max_disk, "bytes", "max_disk"), max_hours)

    def points(self) -> float:
        return DEFAULT_MAX_POINTS if self.max_points is None else self.max_points

    def memory(self) -> float:
        return MEMORY_SHARE * available_memory() if self.max_memory is None else self.max_memory

    def disk(self, out) -> float:
        return free_disk(out) if self.max_disk is None else self.max_disk

    def hours(self) -> float:
        return DEFAULT_MAX_HOURS if self.max_hours is None else self.max_hours


def _bytes(x: float) -> str:
    return units.fmt(x, "B") if math.isfinite(x) else "unlimited"


def _raise_hint(cli: bool, flag: str) -> str:
    return f"--{flag}" if cli else f"{flag.replace('-', '_')}="


def grid_size(model, arch, grid) -> tuple[float, float]:
    """(points, grid values) of a raw grid spec without building any value: a list counts its
    entries, a {linspace/logspace = [a, b, n]} range n, anything else 1; a list of models or
    architectures is one more dimension. Integer fields may repeat after rounding (fewer
    points), so this is an upper bound."""
    n, values = 1.0, 0.0
    for x in (model, arch):
        if isinstance(x, (list, tuple)):
            n *= max(len(x), 1)
            values += len(x)
    for spec in (grid or {}).values():
        k = 1.0
        if isinstance(spec, (list, tuple)):
            k = float(len(spec))
        elif isinstance(spec, dict) and len(spec) == 1:
            args = next(iter(spec.values()))
            if isinstance(args, (list, tuple)) and len(args) == 3:
                c = args[2]
                if isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c):
                    k = max(float(c), 1.0)
        n *= max(k, 1.0)
        values += k
    return n, values


def check_grid_size(model, arch, grid, limits: Limits, cli: bool = False) -> None:
    """Refuse a grid whose point count (upper bound, grid_size) is above the limit, or whose
    values alone would not fit in memory, before any value is built."""
    n, values = grid_size(model, arch, grid)
    if n > limits.points():
        raise SweepTooLarge(
            f"sweep too large: {n:.3g} points > the limit of {limits.points():.3g} (raise it "
            f"with {_raise_hint(cli, 'max-points')}); {_about(n)}")
    need = values * PLAN_BYTES_PER_VALUE
    if need > limits.memory():
        raise SweepTooLarge(
            f"sweep grid too large: {values:.3g} grid values need about {_bytes(need)} of "
            f"memory to plan, more than {_bytes(limits.memory())} (raise it with "
            f"{_raise_hint(cli, 'max-memory')})")


def _about(n: float) -> str:
    """A line of context for a refused point count: its size on disk and time at best."""
    disk = n * 26 * DISK_BYTES_PER_VALUE[("parquet", "float64")]
    hours = n * max(KERNEL_S["host"] / max(os.cpu_count() or 1, 1), WRITE_S["parquet"]) / 3600
    return f"it would write about {_bytes(disk)} of parquet and take about {_hours(hours)}"


def _hours(h: float) -> str:
    if h < 1 / 60:
        return f"{h * 3600:.2g} s"
    if h < 1:
        return f"{h * 60:.2g} min"
    return f"{h:.3g} h"


@dataclass
class Estimate:
    points: int
    remaining: int          # points still to compute (a resumed sweep skips finished chunks)
    memory_bytes: float     # peak memory of the run
    disk_bytes: float       # bytes to be written (0 in memory)
    seconds: float
    out: str | None

    def describe(self) -> str:
        parts = [f"{self.points:,} points"]
        if self.remaining != self.points:
            parts.append(f"{self.remaining:,} to go")
        parts.append(f"about {_bytes(self.memory_bytes)} of memory")
        if self.out is not None:
            parts.append(f"about {_bytes(self.disk_bytes)} on disk")
        parts.append(f"about {_hours(self.seconds / 3600)}")
        return ", ".join(parts)


def estimate(plan, out=None, *, chunk_size: int | None = None, fmt: str | None = None,
             precision: str | None = None, threads: int | None = None,
             done_points: int = 0) -> Estimate:
    """Points, peak memory, disk and time of running plan (into out, or in memory)."""
    from .evaluate import result_buffer_bytes
    n = plan.n_points
    todo = max(n - int(done_points), 0)
    ncols = len(plan.result_columns)
    threads = max(int(threads or os.cpu_count() or 1), 1)
    kern = KERNEL_S["other" if (plan.a0[_pim_index()] > 0 or plan.has_aimc
                                or _sweeps_families(plan)) else "host"]
    if out is None:
        # every chunk's columns are kept, then concatenated into the Table: twice the values
        mem = 2.0 * todo * ncols * 8.0 + result_buffer_bytes(todo)
        disk = 0.0
        secs = todo * kern / threads
    else:
        cs = int(chunk_size or (1 << 19))
        fmt = fmt or "parquet"
        prec = precision or "float64"
        # two result buffers (compute one chunk while the other is written) and the chunk's
        # columns being encoded
        mem = 2.0 * result_buffer_bytes(min(cs, max(n, 1))) + 2.0 * min(cs, n) * ncols * 8.0
        disk = todo * ncols * DISK_BYTES_PER_VALUE.get((fmt, prec), 13.0)
        secs = todo * max(kern / threads, WRITE_S.get(fmt, WRITE_S["csv"]) * ncols / 26)
    return Estimate(n, todo, mem, disk, secs, None if out is None else str(out))


def _pim_index() -> int:
    from ..arch.schema import INDEX
    return INDEX["pim_banks"]


def _sweeps_families(plan) -> bool:
    """Whether some point may be a PIM system (pim_banks swept above 0)."""
    from ..arch.schema import INDEX
    a = INDEX["pim_banks"]
    on = (plan.ax_target == 0) & (plan.ax_index == a)
    return bool(on.any() and (plan.ax_values[on] > 0).any())


def check(est: Estimate, limits: Limits, cli: bool = False) -> None:
    """Refuse est above a limit; the message names the estimate and the limit."""
    h = _raise_hint
    if est.points > limits.points():
        raise SweepTooLarge(f"sweep too large: {est.points:.3g} points > the limit of "
                            f"{limits.points():.3g} (raise it with {h(cli, 'max-points')}); "
                            f"{est.describe()}")
    if est.memory_bytes > limits.memory():
        what = ("the limit" if limits.max_memory is not None
                else "the limit (half the memory available now)")
        tip = ""
        if est.out is None:
            tip = ", or write it in chunks with " + ("-o DIR" if cli else "out=DIR")
        raise SweepTooLarge(f"sweep needs about {_bytes(est.memory_bytes)} of memory"
                            f"{' (results kept in memory)' if est.out is None else ''}, more "
                            f"than {what} of {_bytes(limits.memory())} (raise it with "
                            f"{h(cli, 'max-memory')}{tip}); {est.describe()}")
    if est.out is not None:
        free = limits.disk(est.out)
        if est.disk_bytes > free:
            what = ("free on its file system" if limits.max_disk is None
                    else "the limit")
            raise SweepTooLarge(f"sweep would write about {_bytes(est.disk_bytes)} to "
                                f"{est.out}, more than the {_bytes(free)} {what} (fewer "
                                f"points or columns, --precision float32, or raise it with "
                                f"{h(cli, 'max-disk')}); {est.describe()}")
    if est.seconds > limits.hours() * 3600:
        raise SweepTooLarge(f"sweep would take about {_hours(est.seconds / 3600)}, more than "
                            f"the limit of {_hours(limits.hours())} (raise it with "
                            f"{h(cli, 'max-hours')}); {est.describe()}")


def describe_limits(limits: Limits, out=None) -> str:
    """The limits in force, as one line."""
    parts = [f"{limits.points():.3g} points", f"{_bytes(limits.memory())} of memory"]
    if out is not None:
        parts.append(f"{_bytes(limits.disk(out))} of disk"
                     + (" (free)" if limits.max_disk is None else ""))
    parts.append(_hours(limits.hours()))
    return ", ".join(parts)
