"""Architecture parameters: one table that names every parameter, its section in the TOML,
its unit kind, default, allowed range and meaning. The kernel sees them as one flat float64
vector in this order (index = position); sweeps address them by name.

Families add their own blocks (see FAMILY_BLOCKS); the host block is shared by all."""
from __future__ import annotations

from dataclasses import dataclass

INF = float("inf")


@dataclass(frozen=True)
class Param:
    name: str
    section: str
    kind: str           # unit kind for nmc.units.parse
    default: float | None   # None = required
    lo: float
    hi: float
    doc: str
    lo_open: bool = False   # True: value must be > lo


def P(name, section, kind, default, lo, hi, doc, lo_open=False):
    return Param(name, section, kind, default, lo, hi, doc, lo_open)


HOST = [
    # compute
    P("peak_fp32", "compute", "flops", None, 0, INF, "FP32 peak of the vector units; also runs softmax/norm/elementwise", True),
    P("peak_bf16", "compute", "flops", None, 0, INF, "dense BF16 matrix-unit peak", True),
    P("peak_fp16", "compute", "flops", 0.0, 0, INF, "dense FP16 matrix peak (0: same as bf16)"),
    P("peak_fp8", "compute", "flops", 0.0, 0, INF, "dense FP8 matrix peak (0: unsupported, runs at the fp16 peak)"),
    P("peak_int8", "compute", "flops", 0.0, 0, INF, "dense INT8 matrix peak (0: unsupported, runs at the fp16 peak)"),
    P("peak_int4", "compute", "flops", 0.0, 0, INF, "dense INT4 matrix peak (0: unsupported, runs at the int8 peak)"),
    P("n_cores", "compute", "count", None, 1, 1e6, "SMs / AI cores GEMM tiles are spread over"),
    P("tile_m", "compute", "count", 128.0, 1, 4096, "GEMM thread-block tile rows (wave quantization)"),
    P("tile_n", "compute", "count", 128.0, 1, 4096, "GEMM thread-block tile columns"),
    P("mma_m", "compute", "count", 16.0, 1, 4096, "smallest M the matrix units process; M is padded to it"),
    # memory
    P("mem_capacity", "memory", "bytes", None, 0, INF, "device memory capacity", True),
    P("mem_bw", "memory", "bw", None, 0, INF, "peak device-memory bandwidth", True),
    P("sram_capacity", "memory", "bytes", 0.0, 0, INF, "last-level on-chip cache / SRAM"),
    P("sram_bw", "memory", "bw", 0.0, 0, INF, "its bandwidth (0: not modelled)"),
    # interconnect
    P("link_bw", "interconnect", "bw", 0.0, 0, INF, "scale-up link bandwidth per device, one direction"),
    P("link_latency", "interconnect", "time", 2e-6, 0, 1.0, "latency per collective step on the scale-up link"),
    P("devices_per_node", "interconnect", "count", 1.0, 1, 1e6, "devices joined by the scale-up link"),
    P("net_bw", "interconnect", "bw", 0.0, 0, INF, "scale-out network bandwidth per device, one direction"),
    P("net_latency", "interconnect", "time", 5e-6, 0, 1.0, "latency per step on the scale-out network"),
    # efficiency
    P("eff_compute", "efficiency", "fraction", 0.75, 0, 1, "best achievable fraction of matrix peak (large GEMMs)", True),
    P("eff_mem", "efficiency", "fraction", 0.85, 0, 1, "achievable fraction of mem_bw", True),
    P("eff_sram", "efficiency", "fraction", 0.8, 0, 1, "achievable fraction of sram_bw", True),
    P("eff_link", "efficiency", "fraction", 0.8, 0, 1, "achievable fraction of link/net bandwidth", True),
    P("kernel_overhead", "efficiency", "time", 4e-6, 0, 1.0, "per-kernel cost on the device, graphs or not: launch gap, memory-pipeline ramp and tail"),
    P("launch_overhead", "efficiency", "time", 0.0, 0, 1.0, "per-kernel host launch cost in eager mode (framework dispatch + driver launch); the larger of it and kernel_overhead applies; 0: not modelled"),
    P("mem_usable", "efficiency", "fraction", 0.9, 0, 1, "fraction of mem_capacity usable for weights, KV, activations", True),
    # energy
    P("e_flop_fp32", "energy", "energy_flop", 0.0, 0, INF, "energy per FP32 FLOP"),
    P("e_flop_bf16", "energy", "energy_flop", 0.0, 0, INF, "energy per BF16/FP16 FLOP"),
    P("e_flop_fp8", "energy", "energy_flop", 0.0, 0, INF, "energy per FP8/INT8/INT4 op"),
    P("e_mem", "energy", "energy_byte", 0.0, 0, INF, "energy per byte to/from device memory"),
    P("e_sram", "energy", "energy_byte", 0.0, 0, INF, "energy per byte to/from SRAM/L2"),
    P("e_link", "energy", "energy_byte", 0.0, 0, INF, "energy per byte over the link"),
    P("p_static", "energy", "power", 0.0, 0, INF, "static power charged for the whole time"),
    # information (not used by the cost kernel, used by nmc.arch.export and listings)
    P("tdp", "power", "power", 0.0, 0, INF, "board/module power"),
    P("die_area", "die", "area", 0.0, 0, INF, "die area in mm2 for export-control density"),
    # cost (not used by the cost kernel; nmc serve: cost per million tokens)
    P("price_per_hour", "cost", "price", 0.0, 0, INF, "rental price of one device-hour in USD (0: unknown)"),
]

# Blocks of the flat vector. Families append theirs here.
FAMILY_BLOCKS: dict[str, list[Param]] = {"host": HOST}
from .aimc_params import AIMC as _AIMC  # noqa: E402  (analog in-memory compute block)
FAMILY_BLOCKS["aimc"] = [Param(*t) for t in _AIMC]
from .pim_params import PIM as _PIM  # noqa: E402  (near-memory compute block)
FAMILY_BLOCKS["pim"] = [Param(*t) for t in _PIM]
TEXT_KEYS = {"memory": {"mem_type"}, "die": {"process"}}
TOP_KEYS = {"name", "family", "vendor", "year", "summary", "base"}
FAMILIES = ("gpu", "aimc", "pim")


def all_params() -> list[Param]:
    out = []
    for block in FAMILY_BLOCKS.values():
        out.extend(block)
    return out


PARAMS = all_params()
INDEX = {p.name: i for i, p in enumerate(PARAMS)}
BY_NAME = {p.name: p for p in PARAMS}
N_PARAMS = len(PARAMS)
SECTIONS = sorted({p.section for p in PARAMS} | set(TEXT_KEYS))
