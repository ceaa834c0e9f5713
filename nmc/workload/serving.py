"""Serving workloads: request lengths, arrival processes and traces (the request generator of
the serving simulator: an interval generator times a length generator, or a trace).

Lengths (prompt and output tokens), `lengths(spec)`:
  512                                   fixed
  "uniform:128:1024"                    uniform integers in [128, 1024]
  "lognormal:mean=800,median=500"       lognormal with that mean and median (mean >= median),
  "lognormal:800:500[:max]"             optionally clipped to max; rounded, at least 1
  "trace:chat" / "trace:PATH"           resampled (with replacement) from a trace's column
  or a Lengths object / a dict {"kind": ..., ...}.

Arrivals, `requests(...)`: Poisson at `rate` requests/s (rate = inf: all at time 0); a closed
loop of `concurrency` users, each sending its next request when the previous one completes
(arrival times are then made by the simulator); or the arrival times of a trace.

Traces are CSV files with a header and the columns arrival_s, prompt_tokens, output_tokens
(times non-decreasing, lengths integers >= 1). Bundled traces (models/traces/, made by
experiments/make_traces.py; shapes in docs/serving.md): chat, summarization, reasoning."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ScenarioError
from ..paths import output_file, read_text, traces_dir

TRACE_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens")
KINDS = ("fixed", "uniform", "lognormal", "trace")


@dataclass(frozen=True)
class Lengths:
    """A length distribution. fixed: a; uniform: integers in [a, b]; lognormal: mean a,
    median b, clipped to hi (0: no clip); trace: the values of `column` in trace `path`."""
    kind: str
    a: float = 0.0
    b: float = 0.0
    hi: float = 0.0
    path: str = ""
    column: str = ""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "fixed":
            return np.full(n, int(self.a), dtype=np.int64)
        if self.kind == "uniform":
            return rng.integers(int(self.a), int(self.b) + 1, size=n).astype(np.int64)
        if self.kind == "lognormal":
            mu = math.log(self.b)
            sigma = math.sqrt(2.0 * math.log(self.a / self.b))
            x = np.rint(rng.lognormal(mu, sigma, size=n))
            if self.hi > 0:
                x = np.minimum(x, self.hi)
            return np.maximum(x, 1).astype(np.int64)
        col = load_trace(self.path)[self.column]
        return col[rng.integers(0, col.shape[0], size=n)]

    def mean(self) -> float:
        if self.kind == "fixed":
            return float(self.a)
        if self.kind == "uniform":
            return 0.5 * (self.a + self.b)
        if self.kind == "lognormal":
            return float(self.a)
        return float(load_trace(self.path)[self.column].mean())

    def max(self) -> int:
        """Largest length the distribution can produce (lognormal without clip: its 99.99th
        percentile, a bound for sizing only)."""
        if self.kind == "fixed":
            return int(self.a)
        if self.kind == "uniform":
            return int(self.b)
        if self.kind == "lognormal":
            if self.hi > 0:
                return int(self.hi)
            sigma = math.sqrt(2.0 * math.log(self.a / self.b))
            return int(math.ceil(self.b * math.exp(3.72 * sigma)))
        return int(load_trace(self.path)[self.column].max())

    def describe(self) -> str:
        if self.kind == "fixed":
            return str(int(self.a))
        if self.kind == "uniform":
            return f"uniform:{int(self.a)}:{int(self.b)}"
        if self.kind == "lognormal":
            return (f"lognormal:mean={self.a:g},median={self.b:g}"
                    + (f",max={self.hi:g}" if self.hi > 0 else ""))
        return f"trace:{self.path}:{self.column}"


def _num(text, what):
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise ScenarioError(f"{what}: {text!r} is not a number") from None
    return v


def lengths(spec, what: str = "length", column: str = "prompt_tokens") -> Lengths:
    """A Lengths from a number, a text spec, a dict or a Lengths (module doc)."""
    if isinstance(spec, Lengths):
        ln = spec
    elif isinstance(spec, bool):
        raise ScenarioError(f"{what}: expected a length or a distribution, got {spec!r}")
    elif isinstance(spec, (int, float, np.integer, np.floating)):
        ln = Lengths("fixed", float(spec))
    elif isinstance(spec, dict):
        d = dict(spec)
        kind = d.pop("kind", None)
        if kind == "fixed":
            ln = Lengths("fixed", _num(d.get("value", d.get("a")), what))
        elif kind == "uniform":
            ln = Lengths("uniform", _num(d.get("lo"), what), _num(d.get("hi"), what))
        elif kind == "lognormal":
            ln = Lengths("lognormal", _num(d.get("mean"), what), _num(d.get("median"), what),
                         _num(d.get("max", 0), what))
        elif kind == "trace":
            ln = Lengths("trace", path=str(resolve_trace(d.get("trace", ""))),
                         column=d.get("column", column))
        else:
            raise ScenarioError(f"{what}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    elif isinstance(spec, str):
        text = spec.strip()
        head, _, rest = text.partition(":")
        head = head.strip().lower()
        if head in ("uniform", "lognormal"):
            parts = [p.strip() for p in rest.replace(",", ":").split(":") if p.strip()]
            named = {}
            plain = []
            for p in parts:
                if "=" in p:
                    k, v = p.split("=", 1)
                    named[k.strip().lower()] = _num(v, what)
                else:
                    plain.append(_num(p, what))
            if head == "uniform":
                vals = plain + [named.get("lo"), named.get("hi")]
                vals = [v for v in vals if v is not None]
                if len(vals) != 2:
                    raise ScenarioError(f"{what}: expected uniform:LO:HI, got {text!r}")
                ln = Lengths("uniform", vals[0], vals[1])
            else:
                mean = named.get("mean", plain[0] if plain else None)
                median = named.get("median", plain[1] if len(plain) > 1 else None)
                hi = named.get("max", plain[2] if len(plain) > 2 else 0.0)
                if mean is None or median is None:
                    raise ScenarioError(f"{what}: expected lognormal:mean=M,median=D[,max=X], "
                                        f"got {text!r}")
                ln = Lengths("lognormal", mean, median, hi)
        elif head == "trace":
            ln = Lengths("trace", path=str(resolve_trace(rest)), column=column)
        elif head == "fixed":
            ln = Lengths("fixed", _num(rest, what))
        else:
            ln = Lengths("fixed", _num(text, what))
    else:
        raise ScenarioError(f"{what}: expected a length or a distribution, got {spec!r}")
    _check_lengths(ln, what)
    return ln


def _check_lengths(ln: Lengths, what: str) -> None:
    if ln.kind == "fixed" and not (ln.a >= 1 and ln.a == int(ln.a)):
        raise ScenarioError(f"{what} must be an integer >= 1, got {ln.a:g}")
    if ln.kind == "uniform" and not (1 <= ln.a <= ln.b):
        raise ScenarioError(f"{what}: uniform needs 1 <= LO <= HI, got {ln.a:g}, {ln.b:g}")
    if ln.kind == "lognormal":
        if not (ln.b >= 1 and ln.a >= ln.b):
            raise ScenarioError(f"{what}: lognormal needs mean >= median >= 1, got mean "
                                f"{ln.a:g}, median {ln.b:g}")
        if ln.hi < 0 or (0 < ln.hi < 1):
            raise ScenarioError(f"{what}: lognormal max must be >= 1, got {ln.hi:g}")


# ---- traces --------------------------------------------------------------------------------
def list_traces() -> list[str]:
    return sorted(p.stem for p in traces_dir().glob("*.csv"))


def resolve_trace(name_or_path) -> Path:
    s = str(name_or_path).strip()
    p = Path(s)
    if p.suffix == ".csv" or p.exists():
        if not p.exists():
            raise ConfigError(f"{s}: trace file not found")
        return p
    p = traces_dir() / f"{s}.csv"
    if not p.exists():
        raise ConfigError(f"unknown trace {s!r}: not a file and not a bundled trace (bundled: "
                          f"{', '.join(list_traces())})")
    return p


_TRACES: dict[str, dict] = {}


def load_trace(path) -> dict[str, np.ndarray]:
    """{arrival_s, prompt_tokens, output_tokens} of a trace CSV. A bad row is an error naming
    the file and line: a missing or non-numeric value, a length that is not an integer >= 1,
    a negative or decreasing arrival time."""
    path = resolve_trace(path)
    key = str(path.resolve())
    if key in _TRACES:
        return _TRACES[key]
    f = io.StringIO(read_text(path, "trace CSV"), newline="")
    arr, pr, out = [], [], []
    with f:
        kept = [(i, text) for i, text in enumerate(f, start=1)
                if not text.lstrip().startswith("#")]        # comment lines keep their numbers
        rows = zip((i for i, _ in kept), csv.reader(text for _, text in kept))
        header = next(rows, (0, None))[1]
        if header is None:
            raise ConfigError(f"{path}: empty trace (expected a header {','.join(TRACE_COLUMNS)})")
        header = [h.strip() for h in header]
        missing = [c for c in TRACE_COLUMNS if c not in header]
        if missing:
            raise ConfigError(f"{path}: missing column(s) {', '.join(missing)} (a trace has "
                              f"{', '.join(TRACE_COLUMNS)})")
        idx = [header.index(c) for c in TRACE_COLUMNS]
        last = -math.inf
        for line, row in rows:
            if not row or all(not c.strip() for c in row):
                continue
            where = f"{path}:{line}"
            try:
                vals = [row[i].strip() for i in idx]
            except IndexError:
                raise ConfigError(f"{where}: expected {len(header)} columns, got {len(row)}") from None
            try:
                t = float(vals[0])
            except ValueError:
                raise ConfigError(f"{where}: arrival_s {vals[0]!r} is not a number") from None
            if not t >= 0 or math.isinf(t):
                raise ConfigError(f"{where}: arrival_s must be a time >= 0, got {vals[0]}")
            if t < last:
                raise ConfigError(f"{where}: arrival times must not decrease ({t:g} after "
                                  f"{last:g}); sort the trace by arrival_s")
            last = t
            lens = []
            for c, v in zip(TRACE_COLUMNS[1:], vals[1:]):
                try:
                    x = float(v)
                except ValueError:
                    raise ConfigError(f"{where}: {c} {v!r} is not a number") from None
                if x < 1 or x != int(x):
                    raise ConfigError(f"{where}: {c} must be an integer >= 1, got {v}")
                lens.append(int(x))
            arr.append(t)
            pr.append(lens[0])
            out.append(lens[1])
    if not arr:
        raise ConfigError(f"{path}: no requests")
    tr = {"arrival_s": np.array(arr), "prompt_tokens": np.array(pr, dtype=np.int64),
          "output_tokens": np.array(out, dtype=np.int64), "path": str(path)}
    _TRACES[key] = tr
    return tr


# ---- requests ------------------------------------------------------------------------------
@dataclass
class Requests:
    """What the simulator serves: arrival times (s; for a closed loop only the first
    `concurrency` are set, the simulator makes the rest), prompt and output lengths."""
    arrival: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    concurrency: int = 0            # > 0: closed loop
    think_s: float = 0.0
    describe: dict | None = None

    @property
    def n(self) -> int:
        return int(self.prompt.shape[0])


def check_rate(rate) -> float:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise ScenarioError(f"rate must be a number of requests/s, got {rate!r}") from None
    if not r > 0:
        raise ScenarioError(f"rate must be > 0 requests/s, got {rate!r}")
    return r


def requests(n: int | None = None, *, rate=None, concurrency: int | None = None,
             prompt=512, output=128, trace=None, think_s: float = 0.0,
             seed: int = 0) -> Requests:
    """Make the request stream (module doc). With a trace: its arrival times and lengths as
    they are (n: the first n rows, repeated if n is larger, times shifted by the trace's span);
    with a trace and a rate or a concurrency: the trace's lengths, resampled with replacement,
    under Poisson or closed-loop arrivals."""
    rng = np.random.default_rng(seed)
    if rate is not None and concurrency is not None:
        raise ScenarioError("give either rate (open loop) or concurrency (closed loop), not both")
    if concurrency is not None:
        if isinstance(concurrency, bool) or int(concurrency) != concurrency or concurrency < 1:
            raise ScenarioError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        concurrency = int(concurrency)
    if rate is not None:
        rate = check_rate(rate)
    if think_s < 0:
        raise ScenarioError(f"think time must be >= 0 s, got {think_s}")
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise ScenarioError(f"n_requests must be an integer >= 1, got {n!r}")
    desc = {}
    if trace is not None:
        tr = load_trace(trace)
        desc["trace"] = Path(tr["path"]).stem
        if rate is None and concurrency is None:
            m = tr["arrival_s"].shape[0]
            n = int(n or m)
            idx = np.arange(n) % m
            span = tr["arrival_s"][-1] - tr["arrival_s"][0]
            gap = span / max(m - 1, 1)
            arrival = tr["arrival_s"][idx] + (np.arange(n) // m) * (span + gap)
            arrival = arrival - arrival[0]
            desc["arrivals"] = "trace"
            return Requests(arrival.astype(np.float64), tr["prompt_tokens"][idx].copy(),
                            tr["output_tokens"][idx].copy(), 0, 0.0, desc)
        n = int(n or tr["arrival_s"].shape[0])
        pick = rng.integers(0, tr["arrival_s"].shape[0], size=n)
        p = tr["prompt_tokens"][pick].copy()
        o = tr["output_tokens"][pick].copy()
        desc["lengths"] = "resampled from the trace"
    else:
        n = int(n or 1000)
        pl = lengths(prompt, "prompt", "prompt_tokens")
        ol = lengths(output, "output", "output_tokens")
        p = pl.sample(n, rng)
        o = ol.sample(n, rng)
        desc["prompt"] = pl.describe()
        desc["output"] = ol.describe()
    if concurrency is not None:
        arrival = np.full(n, np.inf)
        arrival[:min(concurrency, n)] = 0.0
        desc["arrivals"] = f"closed loop, {concurrency} users"
        return Requests(arrival, p, o, concurrency, float(think_s), desc)
    if rate is None:
        raise ScenarioError("give a rate (requests/s), a concurrency (closed loop) or a trace")
    if math.isinf(rate):
        arrival = np.zeros(n)
        desc["arrivals"] = "all at time 0"
    else:
        arrival = np.cumsum(rng.exponential(1.0 / rate, size=n))
        desc["arrivals"] = f"Poisson, {rate:g} requests/s"
    return Requests(arrival, p, o, 0, 0.0, desc)


# ---- synthetic traces (experiments/make_traces.py writes the bundled ones) -----------------
SYNTHETIC = {
    # name: (prompt lognormal mean, median, max), (output mean, median, max), rate (req/s)
    "chat": ((600, 300, 4096), (250, 180, 2048), 2.0),
    "summarization": ((3000, 2400, 16000), (220, 180, 1024), 0.5),
    "reasoning": ((400, 250, 4096), (4000, 2800, 32000), 0.5),
}


def synthetic_trace(kind: str, n: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """A synthetic trace of n requests: Poisson arrivals and lognormal lengths with the
    parameters of SYNTHETIC[kind] (docs/serving.md, "Bundled traces")."""
    if kind not in SYNTHETIC:
        raise ScenarioError(f"synthetic trace kind must be one of {', '.join(SYNTHETIC)}")
    (pm, pd, px), (om, od, ox), rate = SYNTHETIC[kind]
    rng = np.random.default_rng(seed)
    arrival = np.round(np.cumsum(rng.exponential(1.0 / rate, size=n)), 3)
    p = Lengths("lognormal", pm, pd, px).sample(n, rng)
    o = Lengths("lognormal", om, od, ox).sample(n, rng)
    return {"arrival_s": arrival, "prompt_tokens": p, "output_tokens": o}


def write_trace(path, tr: dict, comment: str = "") -> None:
    path = output_file(path)
    with open(path, "w", newline="") as f:
        for line in comment.splitlines():
            f.write(f"# {line}\n")
        w = csv.writer(f)
        w.writerow(TRACE_COLUMNS)
        for t, p, o in zip(tr["arrival_s"], tr["prompt_tokens"], tr["output_tokens"]):
            w.writerow([f"{t:.3f}", int(p), int(o)])
