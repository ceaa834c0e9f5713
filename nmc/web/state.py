"""What the explore page computes, without any web framework (so it is tested without one):

- `Inputs`: everything the page's controls set (model, up to four archs, the scenario, what-if
  overrides of preset parameters);
- `Session`: one browser tab's uploads, kept in its own folder inside the server's temporary
  folder (nothing is written anywhere else), and `Session.evaluate(inputs) -> Result`:
  `nmc.analyze` on each arch, and a batch x context (or prompt) grid through the sweep kernel;
- the exports of a Result: the summary CSV (the columns of `nmc compare --format csv`), the
  operator CSV, JSON, and the equivalent `nmc compare` command line.

User mistakes come back as the CLI's one line (`nmc: error: ...`), never as an exception."""
from __future__ import annotations

import math
import re
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..analysis.inference import Report, analyze
from ..arch.loader import Architecture, list_archs, load_arch
from ..arch.schema import BY_NAME, PARAMS, Param
from ..errors import NmcError
from ..report.summary import OP_COLS, compare_columns, summary_row
from ..report.tables import to_csv, to_json
from ..sweeps import sweep
from ..units import UNITS
from ..workload.model import ModelSpec, list_models, load_model
from ..workload.scenario import DTYPES

MAX_ARCHS = 4
MAX_UPLOAD = 1 << 20                      # bytes; a config.json or a preset is a few kB
DEFAULT_MODEL = "llama-3-8b"
DEFAULT_ARCHS = ("h100-sxm", "a100-80g-sxm", "h20", "h100+hbm3-pim")
HEAT_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)
HEAT_LENGTH = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
ACT_DTYPES = tuple(d for d in DTYPES if d != "int4")


def error_line(e: Exception) -> str:
    """The line the CLI prints for a user mistake (nmc/cli/__init__.py)."""
    return f"nmc: error: {e}"


# ---- what-if parameters: a display unit per parameter ---------------------------------------
PLAIN_KINDS = ("count", "fraction")
PREFERRED = {"flops": "FLOP/s", "bw": "B/s", "bytes": "B", "time": "s", "power": "W",
             "energy_flop": "J/FLOP", "energy_byte": "J/B", "energy": "J", "area": "mm2",
             "freq": "Hz"}


def display_unit(p: Param, value: float) -> tuple[str, float]:
    """(unit text, factor to SI) for showing `value` of parameter p: the decimal prefix that puts
    it in [1, 1000). The unit text is one nmc.units.parse accepts, so `f"{v} {unit}"` is also
    what the command line's --set takes."""
    if p.kind in PLAIN_KINDS or p.kind not in PREFERRED:
        return "", 1.0
    base = PREFERRED[p.kind]
    table = UNITS[p.kind]
    cands = sorted(((f, u) for u, f in table.items() if u.endswith(base) and u[:-len(base)]
                    in ("", "k", "M", "G", "T", "P", "m", "u", "n", "p", "f")), reverse=True)
    if not cands:
        return "", 1.0
    if value and math.isfinite(value):
        for f, u in cands:
            if abs(value) >= f * 0.9995:
                return u, f
        return cands[-1][1], cands[-1][0]
    # zero: the unit of a typical value of this kind
    typical = {"flops": 1e12, "bw": 1e9, "bytes": 1e9, "time": 1e-6, "power": 1.0,
               "energy_flop": 1e-12, "energy_byte": 1e-12, "energy": 1e-12}.get(p.kind, 1.0)
    return display_unit(p, typical)


@dataclass(frozen=True)
class Slider:
    """A what-if slider: its range and step in the display unit."""
    name: str
    unit: str
    factor: float
    start: float
    end: float
    step: float
    value: float
    integer: bool
    doc: str


def slider_for(name: str, archs: list[Architecture]) -> Slider:
    """The slider of one preset parameter, starting at the first arch's value, ranging from
    0 (or the schema's lower bound) to 4x the largest value among the archs (within the schema's
    range)."""
    p = BY_NAME.get(name)
    if p is None:
        raise NmcError(f"unknown parameter {name!r}; see docs/arch_schema.md")
    vals = [a[name] for a in archs] or [p.default or 0.0]
    v0 = vals[0]
    unit, f = display_unit(p, max(vals, key=abs) or v0)
    integer = p.kind == "count"
    hi_si = max(abs(v) for v in vals) * 4 or {"count": 64.0, "fraction": 1.0}.get(p.kind, 1000 * f)
    hi_si = min(hi_si, p.hi)
    if p.kind == "fraction":
        hi_si = p.hi
    lo_si = max(p.lo, 0.0)
    start, end = lo_si / f, hi_si / f
    if integer:
        start, end = math.floor(start), max(math.ceil(end), math.floor(start) + 1)
        step = 1.0
    else:
        step = float(f"{(end - start) / 400:.1g}") or (end - start) / 400
    if p.lo_open and start <= p.lo / f:
        start += step
    value = min(max(v0 / f, start), end)
    return Slider(name, unit, f, start, end, step, round_value(value), integer, p.doc)


def round_value(v: float) -> float:
    """Six significant digits: a slider value written on the command line reads back the same."""
    return float(f"{v:.6g}")


def override_text(value: float, unit: str) -> str | float:
    """The value as nmc.analyze(**overrides) and the CLI's --set take it."""
    return f"{value:.6g} {unit}" if unit else float(f"{value:.6g}")


def what_if_params() -> list[str]:
    """Every numeric preset parameter (host block, then the PIM and AIMC blocks)."""
    return [p.name for p in PARAMS]


# ---- inputs and results ----------------------------------------------------------------------
@dataclass
class Inputs:
    model: str = DEFAULT_MODEL
    archs: tuple[str, ...] = DEFAULT_ARCHS
    phase: str = "decode"
    batch: int = 1
    prompt: int = 512
    context: int = 2048
    generate: int = 128
    tp: int = 1
    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"
    mapping: str = "auto"
    overrides: dict[str, tuple[float, str]] = field(default_factory=dict)  # name -> (value, unit)

    def scenario(self) -> dict:
        return dict(phase=self.phase, batch=int(self.batch), prompt=int(self.prompt),
                    context=int(self.context), generate=int(self.generate), tp=int(self.tp),
                    weights=self.weights, activations=self.activations, kv=self.kv,
                    mapping=self.mapping)

    def override_kw(self) -> dict:
        return {k: override_text(v, u) for k, (v, u) in self.overrides.items()}

    def arch_list(self) -> list[str]:
        out = []
        for a in self.archs:
            if a and a not in out:
                out.append(a)
        return out[:MAX_ARCHS]


@dataclass
class Result:
    inputs: Inputs
    reports: list[Report]
    errors: list[str]                       # one line per arch (or grid) that failed
    rows: list[dict]                        # summary rows (nmc compare's)
    ops: list[dict]                         # operator rows, "arch" first
    heat: dict | None                       # the batch x length grid, see Session.heatmap
    command: str
    seconds: dict[str, float]


def length_axis(phase: str) -> str:
    """The heatmap's second axis: the KV-cache context for a decode step, else the prompt."""
    return "context" if phase == "decode" else "prompt"


class Session:
    """One browser tab: its uploads (in its own folder under `root`) and its evaluations."""

    def __init__(self, root: str | Path | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="session-", dir=root))
        self.models: dict[str, ModelSpec] = {}      # option label -> spec
        self.archs: dict[str, Architecture] = {}
        self.files: dict[str, str] = {}             # option label -> file name (command line)
        self._n = 0
        self._loaded: dict[tuple, object] = {}      # bundled presets/configs, parsed once
        self._heat_key = None
        self._heat = None

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # options of the pickers
    def model_options(self) -> list[str]:
        return list_models() + list(self.models)

    def arch_options(self) -> list[str]:
        return list_archs() + list(self.archs)

    # uploads
    def upload(self, kind: str, filename: str, data: bytes) -> str:
        """Store an uploaded config.json (kind "model") or preset TOML (kind "arch") in this
        session's folder and load it; returns its label in the picker. Raises NmcError with the
        message the CLI gives for the same file given by its bare name."""
        name = safe_name(filename, ".json" if kind == "model" else ".toml")
        if data is None or len(data) == 0:
            raise NmcError(f"{name}: empty file")
        if len(data) > MAX_UPLOAD:
            raise NmcError(f"{name}: {len(data)} bytes is too large for a "
                           f"{'config' if kind == 'model' else 'preset'} (limit {MAX_UPLOAD} bytes)")
        self._n += 1
        folder = self.dir / f"upload-{self._n}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        try:
            if kind == "model":
                obj = load_model(str(path))
                stem = Path(name).stem if name != "config.json" else "config"
                obj = replace(obj, name=stem, source=name)
                label = self._label(stem, self.models, list_models())
                self.models[label] = obj
            else:
                obj = load_arch(str(path))
                obj.path = name
                label = self._label(obj.name, self.archs, list_archs())
                self.archs[label] = obj
        except NmcError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise NmcError(str(e).replace(str(path), name)) from None
        self.files[label] = name
        return label

    @staticmethod
    def _label(stem: str, taken: dict, bundled: list[str]) -> str:
        label, k = f"{stem} (uploaded)", 2
        while label in taken or label in bundled:
            label, k = f"{stem} (uploaded {k})", k + 1
        return label

    def model(self, label: str) -> ModelSpec:
        if label in self.models:
            return self.models[label]
        key = ("model", label)
        if key not in self._loaded:
            self._loaded[key] = load_model(label)
        return self._loaded[key]

    def arch(self, label: str) -> Architecture:
        if label in self.archs:
            return self.archs[label]
        key = ("arch", label)
        if key not in self._loaded:
            self._loaded[key] = load_arch(label)
        return self._loaded[key]

    # evaluation
    def evaluate(self, inputs: Inputs, heat: bool = True) -> Result:
        t0 = time.perf_counter()
        errors, reports = [], []
        archs = inputs.arch_list()
        try:
            model = self.model(inputs.model)
        except NmcError as e:
            model = None
            errors.append(error_line(e))
        if model is not None:
            for label in archs:
                try:
                    reports.append(analyze(model, self.arch(label), **inputs.scenario(),
                                           **inputs.override_kw()))
                except NmcError as e:
                    errors.append(error_line(e))
        t1 = time.perf_counter()
        rows = [summary_row(r) for r in reports]
        ops = [{"arch": r.arch.name, **o} for r in reports for o in r.ops]
        grid = None
        if heat and reports:
            # the grid does not depend on the batch and the length it spans: kept between
            # changes of those two
            axis = length_axis(inputs.phase)
            sc = {k: v for k, v in inputs.scenario().items() if k not in ("batch", axis)}
            key = (inputs.model, tuple(r.arch.name for r in reports), tuple(sorted(sc.items())),
                   tuple(sorted(inputs.override_kw().items())), id(model),
                   tuple(id(self.arch(a)) for a in archs))
            if key == self._heat_key:
                grid = self._heat
            else:
                try:
                    grid = self.heatmap(model, [r.arch for r in reports], inputs)
                    self._heat_key, self._heat = key, grid
                except NmcError as e:
                    errors.append(error_line(e))
        t2 = time.perf_counter()
        errors = list(dict.fromkeys(errors))                # the same line once
        return Result(inputs, reports, errors, rows, ops, grid, self.command_line(inputs),
                      {"analyze": t1 - t0, "sweep": t2 - t1})

    def heatmap(self, model: ModelSpec, archs: list[Architecture], inputs: Inputs) -> dict:
        """tokens/s, latency, energy per token, fits and bound over batch x context (decode)
        or batch x prompt (prefill, generate) for each arch, from one nmc.sweep call."""
        axis = length_axis(inputs.phase)
        lengths = [v for v in HEAT_LENGTH if v <= model.max_positions] or [HEAT_LENGTH[0]]
        sc = inputs.scenario()
        sc.pop("batch")
        sc.pop(axis)
        # one thread: for a few hundred points, starting the thread pool costs more than it saves
        t = sweep(model, archs, grid={"batch": list(HEAT_BATCH), axis: lengths}, threads=1, **sc)
        n_b, n_l = len(HEAT_BATCH), len(lengths)
        out = {"axis": axis, "batch": list(HEAT_BATCH), "length": lengths, "arch": [], "cells": []}
        for i, a in enumerate(archs):            # arch is the slowest grid dimension
            sl = slice(i * n_b * n_l, (i + 1) * n_b * n_l)
            out["arch"].append(a.name)
            out["cells"].append({
                "batch": t["batch"][sl].astype(int).tolist(),
                "length": t[axis][sl].astype(int).tolist(),
                "tokens_per_s": t["tokens_per_s"][sl].tolist(),
                "latency_ms": (t["latency_s"][sl] * 1e3).tolist(),
                "energy_per_token_mj": (t["energy_per_token_j"][sl] * 1e3).tolist(),
                "fits": t["fits"][sl].astype(bool).tolist(),
                "bound": list(t["bound"][sl]),
            })
        return out

    # exports
    def command_line(self, inputs: Inputs) -> str:
        """`nmc compare ...` giving the page's summary table (with --format csv: the summary
        CSV export). Uploaded files appear under their file names."""
        def arg(label, files):
            return self.files.get(label, label)
        sc = inputs.scenario()
        argv = ["nmc", "compare", "--model", arg(inputs.model, self.files),
                "--arch", ",".join(arg(a, self.files) for a in inputs.arch_list()),
                "--phase", sc["phase"], "--batch", str(sc["batch"])]
        if sc["phase"] == "decode":
            argv += ["--context", str(sc["context"])]
        else:
            argv += ["--prompt", str(sc["prompt"])]
        if sc["phase"] == "generate":
            argv += ["--generate", str(sc["generate"])]
        if sc["tp"] != 1:
            argv += ["--tp", str(sc["tp"])]
        for k in ("weights", "activations", "kv"):
            if sc[k] != "bf16":
                argv += [f"--{k}", sc[k]]
        if sc["mapping"] != "auto":
            argv += ["--mapping", sc["mapping"]]
        for k, v in inputs.override_kw().items():
            argv += ["--set", f"{k}={v}"]
        return " ".join(shlex.quote(a) for a in argv)


def summary_csv(res: Result) -> str:
    return to_csv(res.rows, compare_columns(res.rows)) if res.rows else ""


def ops_csv(res: Result) -> str:
    return to_csv(res.ops, ["arch"] + OP_COLS) if res.ops else ""


def result_json(res: Result) -> str:
    return to_json({"command": res.command, "inputs": {**res.inputs.scenario(),
                    "model": res.inputs.model, "archs": res.inputs.arch_list(),
                    "set": res.inputs.override_kw()},
                    "errors": res.errors, "summary": res.rows,
                    "reports": [r.to_dict() for r in res.reports], "heatmap": res.heat})


_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(filename: str, suffix: str) -> str:
    """A plain file name (no folders, no odd characters) for an upload."""
    name = _SAFE.sub("_", Path(str(filename or "")).name).strip("._") or f"upload{suffix}"
    return name[:100]

