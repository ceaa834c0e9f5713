"""Near-memory (PIM) figures derived from a preset, and the host-vs-PIM crossover batch.

Everything here reads the numba kernels (nmc/engine/pim.py) or nmc.analyze reports; no cost
equation is re-implemented. Command line: `nmc pim` (nmc/cli/pim.py)."""
from __future__ import annotations

import math

from ..arch.loader import load_arch
from ..errors import ConfigError
from .inference import analyze

GEMV_KINDS = ("gemm", "lm_head")


def pim_roof(arch):
    """(effective internal bandwidth with whole rows, PIM 16-bit compute peak) of a PIM system,
    from the numba kernels (docs/nmc.md); None without PIM units. The roofline charts (PNG and
    the explore page) draw it as the PIM engine's roof."""
    if arch.values.get("pim_banks", 0.0) <= 0:
        return None
    from ..engine import pim as k
    v = arch.vector()
    return float(k.pim_internal_bw(v, arch["pim_page"])), float(k.pim_units(v) * arch["pim_unit_flops"])


def pim_figures(arch, weights_bytes: float = 2.0, act_bytes: float = 2.0) -> dict:
    """Derived figures of a PIM preset (SI units): units, external and internal bandwidth,
    activation overhead, PIM compute, batch reuse of one weight burst and the internal ridge."""
    from ..engine import pim as k

    a = load_arch(arch)
    if a["pim_banks"] <= 0:
        raise ConfigError(f"{a.name} has no PIM units (pim_banks = 0)")
    v = a.vector()
    page = a["pim_page"]
    units = float(k.pim_units(v))
    peak_bw = float(k.pim_peak_bw(v))
    eff_bw = float(k.pim_internal_bw(v, page))
    u, nb, t_seg = k.pim_segment(v, page)
    ref = 1.0 - a["pim_refresh"]
    t_timing = float(k.pim_segment_timing(v, page)[2])
    timing_bw = units * u / t_timing * ref
    # each limit alone (inf where not set): the activation window and the power budget
    slot = float(k.pim_act_slot(v))
    faw_bw = units * u / (units / float(k.pim_domains(v)) * slot) * ref if slot > 0 else math.inf
    e_seg = u * a["pim_e_bank"] + page * a["pim_e_act"]
    power_bw = (a["pim_power"] * a["pim_devices"] * u / e_seg * ref
                if a["pim_power"] > 0 and e_seg > 0 else math.inf)
    limits = {"timing": timing_bw, "activation window": faw_bw, "power": power_bw}
    flops = units * a["pim_unit_flops"]
    ext = float(k.pim_ext_bw(v))
    lost = a["pim_devices"] * a["pim_capacity"] * a["pim_capacity_loss"]
    return {
        "arch": a.name, "units": units, "banks": units * a["pim_banks_per_unit"],
        "external_bw": ext, "internal_peak_bw": peak_bw, "internal_eff_bw": eff_bw,
        "internal_timing_bw": timing_bw, "activation_limit_bw": faw_bw,
        "power_limit_bw": power_bw, "limited_by": min(limits, key=limits.get),
        "internal_over_external": eff_bw / ext, "internal_over_host": eff_bw / a["mem_bw"],
        "row_efficiency": eff_bw / peak_bw, "bursts_per_activation": float(nb),
        "segment_time_s": float(t_seg), "pim_flops": flops,
        "pim_ridge_flop_per_byte": flops / eff_bw,
        "batch_reuse": float(k.pim_reuse(v, weights_bytes, act_bytes)),
        "capacity_lost": lost, "usable_capacity": float(k.usable_capacity(v)),
        "pim_static_power": a["pim_devices"] * a["pim_p_static"],
        "host_mem_bw": a["mem_bw"], "host_peak_bf16": a["peak_bf16"],
    }


def _gemv_time(rep) -> tuple[float, str]:
    t = sum(o["time_s"] for o in rep.ops if o["kind"] in GEMV_KINDS)
    big = max((o for o in rep.ops if o["kind"] in GEMV_KINDS), key=lambda o: o["time_s"])
    return t, big["bound"]


def crossover(model, arch, batches=None, context: int = 4096, **kw) -> dict:
    """Weight-GEMM time per decode step on the host (host-only) and on the PIM units
    (pim-gemv) for each batch; the crossover is the first batch where the host is faster.
    `reason` says what bounds the PIM GEMVs there: 'compute' (PIM FLOP/s) or 'memory' (weight
    re-reads: the buffer holds `batch_reuse` vectors, so weights stream ceil(b/reuse) times)."""
    batches = list(batches or [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256])
    rows = []
    cross = None
    for b in batches:
        h = analyze(model, arch, phase="decode", batch=b, context=context, mapping="host-only", **kw)
        p = analyze(model, arch, phase="decode", batch=b, context=context, mapping="pim-gemv", **kw)
        th, bh = _gemv_time(h)
        tp, bp = _gemv_time(p)
        rows.append({"batch": b, "host_gemm_s": th, "host_bound": bh, "pim_gemm_s": tp,
                     "pim_bound": bp, "pim_speedup": th / tp if tp > 0 else math.inf,
                     "host_tokens_per_s": h.tokens_per_s, "pim_gemv_tokens_per_s": p.tokens_per_s})
        if cross is None and tp >= th:
            cross = rows[-1]
    return {"rows": rows, "crossover_batch": None if cross is None else cross["batch"],
            "reason": None if cross is None else cross["pim_bound"]}
