"""Published measurements (models/measurements/*.csv): loading and checking rows."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import ConfigError
from ..paths import measurements_dir, read_text
from ..workload.scenario import MAPPINGS

COLUMNS = ("id", "group", "system", "arch", "baseline", "mapping", "devices", "model", "weights",
           "activations", "kv", "phase", "batch", "prompt", "context", "output", "tp", "pp", "dp",
           "ep", "cp", "vpp", "micro_batch", "zero", "recompute", "fp8", "framework", "runtime",
           "dequant", "concurrency",
           "request_rate", "requests", "dataset", "metric", "value", "unit", "kind", "split", "source",
           "quote", "notes")
REQUIRED = ("id", "group", "metric", "value", "kind", "split", "source")
GROUPS = ("gpu-decode", "gpu-prefill", "gpu-serving", "training", "pim", "aimc", "gpu-kernel")
KINDS = ("measured", "vendor-published", "measured-here")
SPLITS = ("calibration", "evaluation")
INT_COLS = ("devices", "batch", "prompt", "context", "output", "tp", "pp", "dp", "ep", "cp", "vpp",
            "micro_batch", "zero", "fp8", "concurrency", "requests")
FLOAT_COLS = ("request_rate",)      # requests/s; "inf" = all requests at once


def load(paths=None, invalid: list | None = None) -> list[dict]:
    """Rows of every CSV given (default: all bundled files), with ints/floats parsed.
    A file that cannot be read (missing, not UTF-8, without the required columns) is an error
    naming it. A bad row (an empty required field, a bad value) is an error naming file, line
    and column, unless `invalid` is a list: then the row is left out and
    {"id", "group", "reason", "where"} appended to it (`nmc validate --data` reports them with
    the rows it could not predict)."""
    if paths is None:
        paths = sorted(measurements_dir().glob("*.csv"))
    rows, seen = [], {}
    for path in map(Path, paths):
        text = read_text(path, "measurement CSV")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing_cols = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing_cols:
            raise ConfigError(f"{path}: missing column(s) {', '.join(missing_cols)} "
                              f"(required: {', '.join(REQUIRED)})")
        try:
            for line, raw in enumerate(reader, start=2):
                try:
                    rows.append(_check(raw, f"{path}:{line}", seen))
                except ConfigError as e:
                    if invalid is None:
                        raise
                    invalid.append({"id": (raw.get("id") or "").strip() or f"{path.name}:{line}",
                                    "group": (raw.get("group") or "").strip(),
                                    "reason": f"invalid row: {e}", "where": f"{path}:{line}"})
        except csv.Error as e:
            raise ConfigError(f"{path}: malformed CSV ({e})") from None
    return rows


def _check(raw: dict, where: str, seen: dict) -> dict:
    row = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k is not None}
    for c in REQUIRED:
        if not row.get(c):
            raise ConfigError(f"{where}: empty required field {c!r}")
    if row["id"] in seen:
        raise ConfigError(f"{where}: duplicate id {row['id']!r} (first at {seen[row['id']]})")
    seen[row["id"]] = where
    if row["group"] not in GROUPS:
        raise ConfigError(f"{where}: group {row['group']!r} not one of {', '.join(GROUPS)}")
    if row["kind"] not in KINDS:
        raise ConfigError(f"{where}: kind {row['kind']!r} not one of {', '.join(KINDS)}")
    if row["split"] not in SPLITS:
        raise ConfigError(f"{where}: split {row['split']!r} not one of {', '.join(SPLITS)}")
    try:
        row["value"] = float(row["value"])
    except ValueError:
        raise ConfigError(f"{where}: value {row['value']!r} is not a number") from None
    if not row["value"] > 0:
        raise ConfigError(f"{where}: value must be > 0, got {row['value']}")
    for c in INT_COLS:
        v = row.get(c) or ""
        if v == "":
            row[c] = None
            continue
        try:
            row[c] = int(float(v))
        except ValueError:
            row[c] = v          # e.g. "16M tokens/step": kept as text, the predictor decides
    for c in FLOAT_COLS:
        v = row.get(c) or ""
        if v == "":
            row[c] = None
            continue
        try:
            row[c] = float(v)
        except ValueError:
            raise ConfigError(f"{where}: {c} {v!r} is not a number (or inf)") from None
        if not row[c] > 0:
            raise ConfigError(f"{where}: {c} must be > 0, got {v}")
    m = row.get("mapping") or ""
    if m and m not in MAPPINGS:
        raise ConfigError(f"{where}: mapping {m!r} not one of {', '.join(MAPPINGS)}")
    row["where"] = where
    return row
