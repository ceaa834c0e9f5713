"""Predictor of the `gpu-kernel` validation group: single-kernel micro-benchmarks (GEMM, decode
attention), as written by experiments/measure/measure_gpu.py. Costs come from nmc.analysis.kernel.

Row encoding (models/measurements/README.md, "Kernel rows"):
- `model` is the kernel: `gemm` or `attention-decode`; `phase` = `kernel`; `devices` 1 or empty.
- gemm: `batch` = M (activation rows, i.e. tokens); `notes` starts with `N=<int>,K=<int>`
  (weight matrix K x N); `activations` = compute dtype, `weights` = weight dtype.
- attention-decode: `batch` = sequences (one query token each), `context` = KV length attended
  (the new token included); `notes` starts with `heads=<int>,kv_heads=<int>,head_dim=<int>`;
  `activations` = dtype of q and output, `kv` = KV-cache dtype.
- The shape is the part of `notes` before the first `;`; free text may follow the `;`.
- metric `latency_ms` (one call) or `tflops` (achieved TFLOP/s = FLOPs / time)."""
from __future__ import annotations

from ..analysis.kernel import attention_decode_time, gemm_time
from ..errors import ConfigError, NmcError
from .registry import Skip, predictor

KERNEL_SHAPE_KEYS = {"gemm": ("N", "K"), "attention-decode": ("heads", "kv_heads", "head_dim")}


def parse_shape(notes: str, keys: tuple, where: str = "row") -> dict:
    """`k=v,k=v` before the first ';' of notes -> {k: int}; exactly `keys`, each an integer >= 1."""
    head = (notes or "").split(";", 1)[0].strip()
    fmt = ",".join(f"{k}=<int>" for k in keys)
    if not head:
        raise ConfigError(f"{where}: notes must start with the kernel shape {fmt!r}")
    out = {}
    for item in head.split(","):
        k, sep, v = item.strip().partition("=")
        k, v = k.strip(), v.strip()
        if not sep or k not in keys or k in out:
            raise ConfigError(f"{where}: notes shape {head!r}: bad or repeated item {item.strip()!r}; "
                              f"expected {fmt!r}")
        try:
            out[k] = int(v)
        except ValueError:
            raise ConfigError(f"{where}: notes shape {head!r}: {k} = {v!r} is not an integer") from None
        if out[k] < 1:
            raise ConfigError(f"{where}: notes shape {head!r}: {k} must be >= 1, got {out[k]}")
    missing = [k for k in keys if k not in out]
    if missing:
        raise ConfigError(f"{where}: notes shape {head!r} lacks {', '.join(missing)}; expected {fmt!r}")
    return out


def format_shape(**dims) -> str:
    return ",".join(f"{k}={int(v)}" for k, v in dims.items())


def _int_col(row: dict, col: str, where: str) -> int:
    v = row.get(col)
    if not isinstance(v, int) or v < 1:
        raise ConfigError(f"{where}: column {col!r} must be an integer >= 1 for a "
                          f"{row.get('model')} row, got {v!r}")
    return v


def kernel_cost(row: dict, arch=None):
    """The nmc.analysis.kernel result for a gpu-kernel row."""
    where = row.get("where") or row.get("id") or "row"
    arch = arch or row.get("arch")
    if not arch:
        raise Skip(f"no preset for system {row.get('system')!r}")
    kernel = row.get("model")
    if kernel not in KERNEL_SHAPE_KEYS:
        raise Skip(f"kernel {kernel!r} is not one of {', '.join(KERNEL_SHAPE_KEYS)}")
    if row.get("devices") not in (None, 1):
        raise Skip(f"devices = {row['devices']}: kernel rows are single-device")
    shape = parse_shape(row.get("notes") or "", KERNEL_SHAPE_KEYS[kernel], where)
    act = (row.get("activations") or "bf16").lower()
    try:
        if kernel == "gemm":
            return gemm_time(arch, _int_col(row, "batch", where), shape["N"], shape["K"],
                             dtype=act, weights_dtype=(row.get("weights") or act).lower())
        return attention_decode_time(arch, _int_col(row, "batch", where), shape["heads"],
                                     shape["kv_heads"], shape["head_dim"],
                                     _int_col(row, "context", where), dtype=act,
                                     kv_dtype=(row.get("kv") or act).lower())
    except ConfigError:
        raise
    except NmcError as e:
        raise Skip(str(e)) from None


@predictor("gpu-kernel")
def predict_kernel(row: dict, arch=None) -> float:
    metric = row.get("metric")
    if metric not in ("latency_ms", "tflops"):
        raise Skip(f"metric {metric!r} is not predicted for kernel rows (latency_ms, tflops)")
    c = kernel_cost(row, arch)
    return c.time_s * 1e3 if metric == "latency_ms" else c.tflops
