"""Fit an architecture's named efficiency/overhead parameters to measurements
(bounded least squares on log error, scipy), with uncertainties, before/after error, and a new
preset TOML that `--arch` accepts (docs/validation.md)."""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from ..arch.loader import Architecture, load_arch
from ..arch.schema import BY_NAME
from ..errors import ConfigError
from ..paths import output_file, write_error
from . import runner  # noqa: F401  (every predictor registered)
from .registry import PREDICTORS, Skip

DEFAULT_PARAMS = ("eff_compute", "eff_mem", "kernel_overhead")


def _residuals(arch: Architecture, rows, names, x):
    a = arch.with_(**dict(zip(names, x)))
    res = []
    for r in rows:
        pred = PREDICTORS[r["group"]](r, arch=a)
        res.append(math.log(pred / r["value"]))
    return np.array(res)


def _usable(arch: Architecture, rows) -> tuple[list, list]:
    use, skipped = [], []
    for r in rows:
        fn = PREDICTORS.get(r["group"])
        if fn is None:
            skipped.append((r["id"], f"no predictor for group {r['group']}"))
            continue
        try:
            fn(r, arch=arch)
        except Skip as e:
            skipped.append((r["id"], str(e)))
            continue
        except TypeError:
            skipped.append((r["id"], f"group {r['group']} predictor takes no arch override"))
            continue
        use.append(r)
    return use, skipped


def calibrate(arch, rows, params=DEFAULT_PARAMS) -> dict:
    """Fit `params` of `arch` to `rows` (measurement dicts). Returns fitted values, standard
    errors, and the error before and after."""
    arch = load_arch(arch)
    for p in params:
        if p not in BY_NAME:
            raise ConfigError(f"calibrate: unknown parameter {p!r}")
    # rows for this architecture (an empty arch column means "the one being calibrated")
    rows = [dict(r, arch=arch.name) for r in rows if r.get("arch") in (None, "", arch.name)]
    use, skipped = _usable(arch, rows)
    if len(use) < len(params):
        raise ConfigError(f"calibrate: {len(use)} usable rows for {len(params)} parameters "
                          f"(skipped: {skipped[:3]})")
    x0 = np.array([arch[p] for p in params])
    lo = np.array([max(BY_NAME[p].lo, 1e-12) for p in params])
    hi = np.array([min(BY_NAME[p].hi, 1e3) for p in params])
    x0 = np.clip(x0, lo * (1 + 1e-9), hi)
    scale = np.abs(x0) + 1e-30
    fit = least_squares(lambda z: _residuals(arch, use, params, z * scale), x0 / scale,
                        bounds=(lo / scale, hi / scale), method="trf")
    x = fit.x * scale
    before = _residuals(arch, use, params, x0)
    after = fit.fun
    dof = max(len(use) - len(params), 1)
    s2 = float(after @ after) / dof
    try:
        cov = np.linalg.pinv(fit.jac.T @ fit.jac) * s2
        se = np.sqrt(np.clip(np.diag(cov), 0, None)) * scale
    except np.linalg.LinAlgError:
        se = np.full(len(params), np.nan)
    ape = lambda r: statistics.median(abs(math.exp(v) - 1) for v in r)  # noqa: E731
    return {"arch": arch, "params": list(params), "x0": x0.tolist(), "x": x.tolist(),
            "stderr": se.tolist(), "n": len(use), "skipped": skipped,
            "median_ape_before": ape(before), "median_ape_after": ape(after),
            "at_bound": [bool(np.isclose(v, l) or np.isclose(v, h)) for v, l, h in zip(x, lo, hi)]}


def write_preset(result: dict, path, data_name: str) -> Path:
    arch = result["arch"]
    p = Path(path)
    name = p.stem
    lines = [f'base = "{arch.path}"', f'name = "{name}"',
             f'summary = "{arch.name} calibrated by nmc calibrate on {data_name} ({result["n"]} rows)"', ""]
    by_sec: dict[str, list[str]] = {}
    for k, v in zip(result["params"], result["x"]):
        by_sec.setdefault(BY_NAME[k].section, []).append(f"{k} = {v!r}")
    for sec, items in by_sec.items():
        lines += [f"[{sec}]", *items, ""]
    lines.append("[sources]")
    for k, se in zip(result["params"], result["stderr"]):
        lines.append(f'{k} = {{ ref = "fitted by nmc calibrate to {data_name} ({result["n"]} rows), '
                     f'std. error {se:.3g}", confidence = "estimate" }}')
    p = output_file(p)
    try:
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as e:
        raise write_error(p, e) from None
    load_arch(p)  # the file must load
    return p
