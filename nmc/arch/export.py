"""Export-control metrics of a device (US BIS rule of October 2023, ECCN 3A090); the rules are
data here, with their sources.

TPP (total processing performance) = 2 x MacTOPS x bit length of the operation, the maximum
over the precisions the device supports, dense. Since a dense peak in TFLOP/s counts 2 FLOP per
MAC, TPP = peak_TFLOPS x bit length. Performance density PD = TPP / die area (mm2).

Sources: 15 CFR 774 Supp. 1, ECCN 3A090 as amended by the BIS interim final rule "Implementation
of Additional Export Controls: Certain Advanced Computing Items; Supercomputer and Semiconductor
End Use" (88 FR 73458, 25 Oct 2023), technical note on TPP and performance density; worked
figures in ../shared/data/pim_aimc.md."""
from __future__ import annotations

from .loader import Architecture, load_arch

# (peak parameter, bit length)
PRECISIONS = (("peak_fp32", 32), ("peak_bf16", 16), ("peak_fp16", 16), ("peak_fp8", 8),
              ("peak_int8", 8), ("peak_int4", 4))

THRESHOLDS = {
    "3A090.a": "TPP >= 4800, or TPP >= 1600 and PD >= 5.92",
    "3A090.b": "TPP >= 2400 and < 4800 with PD >= 1.6 and < 5.92, or TPP >= 1600 with PD >= 3.2 and < 5.92",
}
SOURCE = ("BIS interim final rule, 88 FR 73458 (25 Oct 2023), ECCN 3A090 and its technical notes "
          "(TPP = 2 x MacTOPS x bit length; PD = TPP / applicable die area)")


def tpp(arch) -> tuple[float, str]:
    """(TPP, the precision that sets it)."""
    a = load_arch(arch) if not isinstance(arch, Architecture) else arch
    best, which = 0.0, ""
    for key, bits in PRECISIONS:
        v = a[key] / 1e12 * bits
        if v > best:
            best, which = v, key.replace("peak_", "")
    return best, which


def performance_density(arch) -> float | None:
    a = load_arch(arch) if not isinstance(arch, Architecture) else arch
    area = a["die_area"]
    return tpp(a)[0] / area if area > 0 else None


def classify_values(t: float, pd: float | None) -> str:
    """The 3A090 paragraph a (TPP, PD) pair falls under (PD None: unknown die area)."""
    if t >= 4800:
        return "3A090.a"
    if pd is None:
        return "unknown (die area not known)" if t >= 1600 else "not controlled"
    if t >= 1600 and pd >= 5.92:
        return "3A090.a"
    if (2400 <= t < 4800 and 1.6 <= pd < 5.92) or (t >= 1600 and 3.2 <= pd < 5.92):
        return "3A090.b"
    return "not controlled"


def classify(arch) -> dict:
    a = load_arch(arch) if not isinstance(arch, Architecture) else arch
    t, which = tpp(a)
    pd = performance_density(a)
    return {"arch": a.name, "tpp": t, "tpp_precision": which, "die_area_mm2": a["die_area"] or None,
            "performance_density": pd, "class": classify_values(t, pd), "rule": SOURCE}
