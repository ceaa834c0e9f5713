"""Export-control design questions (docs/policy.md): the TPP of near-memory units and the best
design under a TPP / density cap, evaluated with one sweep. The metrics and thresholds
themselves are data in nmc.arch.export."""
from __future__ import annotations

import numpy as np

from ..arch.export import PRECISIONS, classify_values, tpp
from ..arch.loader import Architecture, load_arch
from ..errors import ScenarioError
from ..sweeps import sweep
from ..units import parse

HOST_PEAKS = tuple(k for k, _ in PRECISIONS)
PIM_PRECISIONS = (("pim_unit_flops", 16), ("pim_unit_flops_int8", 8), ("pim_unit_flops_fp32", 32))


def pim_tpp(arch) -> float:
    """TPP of the near-memory (PIM) units of an architecture: units x unit rate x bit length,
    the maximum over the unit's precisions (0 without PIM). The rule aggregates over the
    processing units of one integrated circuit; PIM units sit on the DRAM dies, so whether they
    add to the host's TPP is a reading of the rule (docs/policy.md): best_design_under_cap
    counts them by default (the conservative reading)."""
    a = load_arch(arch) if not isinstance(arch, Architecture) else arch
    if a["pim_banks"] <= 0:
        return 0.0
    from ..engine.pim import pim_units
    units = float(pim_units(a.vector()))
    return max(units * a[k] / 1e12 * bits for k, bits in PIM_PRECISIONS)


def best_design_under_cap(model, tpp_cap: float, *, pd_cap: float | None = None,
                          arch="h100+hbm3-pim", compute=None, mem_bw=None, pim=(0, 1, 2, 4),
                          cores=("fixed", "scaled"), die_area=None, pim_counts: bool = True,
                          batch: int = 64,
                          context: int = 2048, tp: int = 1, weights: str = "bf16",
                          kv: str = "bf16", prompt: int = 2048, ttft_max: float | None = None,
                          top: int | None = 10) -> dict:
    """Decode tokens/s of a grid of designs derived from `arch`, under an export-control cap.

    Grid (one nmc.sweep call, the same kernel as nmc.analyze):
      compute  -- fractions s of the base preset's TPP; every precision's peak becomes
                  min(base peak, s x TPP_base / bit length), so the design's host TPP is
                  s x TPP_base; default 12 fractions 0.02..1 plus the fractions that put each
                  design exactly under the TPP cap (and under the density cap);
      cores    -- how the compute is cut: "fixed" keeps the base core (SM) count and lowers
                  the rate per core, "scaled" fuses off cores (n_cores x s, rate per core
                  kept); both by default. Matters for small GEMMs (wave quantization);
      mem_bw   -- device-memory bandwidths (B/s or "4 TB/s"); default base x 0.5, 1, 1.5, 2,
                  2.5 (a PIM preset's pin rate pim_io_rate moves with it);
      pim      -- multipliers of the preset's PIM unit rate pim_unit_flops; 0 = PIM unused
                  (mapping host-only). Ignored for presets without PIM.
    Constraint: TPP (host, plus PIM when pim_counts) < tpp_cap, and PD = TPP / die area <
    pd_cap when given (die area: `die_area` in mm2, default the preset's), and the time to first
    token of one `prompt`-token request (prefill, batch 1; column ttft_s) <= ttft_max when given:
    without it the search happily trades away all host compute, which decode does not need but
    prefill does.
    Returns {"best": row, "rows": feasible rows best first (top of them), "reference": the base
    preset's own row, "n_points", "n_feasible", "assumptions"}."""
    base = load_arch(arch) if not isinstance(arch, Architecture) else arch
    if not (isinstance(tpp_cap, (int, float)) and tpp_cap > 0):
        raise ScenarioError(f"tpp_cap must be a positive number, got {tpp_cap!r}")
    if pd_cap is not None and not (isinstance(pd_cap, (int, float)) and pd_cap > 0):
        raise ScenarioError(f"pd_cap must be a positive number or None, got {pd_cap!r}")
    area = float(die_area) if die_area is not None else float(base["die_area"])
    if pd_cap is not None and area <= 0:
        raise ScenarioError(f"pd_cap needs a die area but {base.name} has die_area = 0; "
                            f"pass die_area=<mm2> (CLI: --die-area)")
    t_host = tpp(base)[0]
    has_pim = base["pim_banks"] > 0
    pim = [float(m) for m in (pim if has_pim else (0,))]
    if any(m < 0 for m in pim):
        raise ScenarioError(f"pim multipliers must be >= 0, got {pim}")
    t_pim1 = pim_tpp(base) if has_pim else 0.0

    def pim_t(m):
        return t_pim1 * m if pim_counts else 0.0

    if compute is None:
        fr = set(np.round(np.geomspace(0.02, 1.0, 12), 6).tolist())
        for m in pim:
            room = tpp_cap - pim_t(m)
            if pd_cap is not None:
                room = min(room, pd_cap * area - pim_t(m))
            if room > 0:
                fr.add(min(1.0, room / t_host * (1 - 1e-9)))
        compute = sorted(fr)
    compute = [float(s) for s in compute]
    if not compute or any(s <= 0 for s in compute):
        raise ScenarioError(f"compute fractions must be > 0, got {compute}")
    bws = ([base["mem_bw"] * f for f in (0.5, 1.0, 1.5, 2.0, 2.5)] if mem_bw is None else
           [parse(b, "bw") if isinstance(b, str) else float(b) for b in mem_bw])
    if not bws or any(b <= 0 for b in bws):
        raise ScenarioError(f"mem_bw values must be > 0, got {mem_bw}")
    # a design at fraction s of the base TPP caps every precision at s x TPP_base / bits: the
    # narrow formats are cut first, the FP32 vector units (softmax, norms) only when they too
    # would exceed the cap (as NVIDIA's H20 keeps 44 of the H100's 67 FP32 TFLOPS)
    bits = dict(PRECISIONS)
    if not cores or any(c not in ("fixed", "scaled") for c in cores):
        raise ScenarioError(f"cores must name 'fixed' and/or 'scaled', got {cores!r}")
    variants = [(s, c) for s in compute for c in dict.fromkeys(cores)]
    peaks = [tuple(min(base[k], s * t_host * 1e12 / bits[k]) for k in HOST_PEAKS)
             + ((base["n_cores"] if c == "fixed" else max(1.0, round(base["n_cores"] * s))),)
             for s, c in variants]
    grid = {",".join(HOST_PEAKS + ("n_cores",)): peaks}
    if has_pim:
        grid["mem_bw,pim_io_rate"] = [(b, base["pim_io_rate"] * b / base["mem_bw"]) for b in bws]
        nz = [m for m in pim if m > 0] or [1.0]
        grid["pim_unit_flops"] = [base["pim_unit_flops"] * m for m in nz]
        grid["mapping"] = (["host-only"] if 0.0 in pim else []) + (["auto"] if any(pim) else [])
    else:
        grid["mem_bw"] = bws
    if ttft_max is not None and not (isinstance(ttft_max, (int, float)) and ttft_max > 0):
        raise ScenarioError(f"ttft_max must be a positive time in seconds or None, got {ttft_max!r}")
    t = sweep(model=model, arch=base, grid=grid, phase="decode", batch=batch, context=context,
              tp=tp, weights=weights, kv=kv)
    # the same grid (same point order) in prefill: time to first token of one request
    ttft = sweep(model=model, arch=base, grid=grid, phase="prefill", batch=1, prompt=prompt,
                 tp=tp, weights=weights, kv=kv)["latency_s"]
    n = len(t["tokens_per_s"])
    maps = t["mapping"] if has_pim else ["auto"] * n
    bounds = t["bound"]
    rows, seen = [], set()
    for i in range(n):
        pk = np.array([float(t[k][i]) for k in HOST_PEAKS + ("n_cores",)])
        s, c = variants[int(np.argmin([np.abs(pk - np.array(p)).sum() for p in peaks]))]
        host_only = maps[i] == "host-only"
        m = 0.0 if (host_only or not has_pim) else float(t["pim_unit_flops"][i]) / base["pim_unit_flops"]
        key = (round(s, 12), c, float(t["mem_bw"][i]), m)
        if key in seen:
            continue
        seen.add(key)
        total = t_host * s + pim_t(m)
        pd = total / area if area > 0 else None
        ok = (total < tpp_cap and (pd_cap is None or (pd is not None and pd < pd_cap))
              and (ttft_max is None or float(ttft[i]) <= ttft_max))
        rows.append({"compute_fraction": s, "cores": c, "n_cores": int(t["n_cores"][i]),
                     "peak_bf16_tflops": float(t["peak_bf16"][i]) / 1e12,
                     "mem_bw_tb_s": float(t["mem_bw"][i]) / 1e12, "pim_multiplier": m,
                     "pim_tflops": (t_pim1 / 16 * m if has_pim else 0.0),
                     "tpp_host": t_host * s, "tpp_pim": t_pim1 * m, "tpp": total,
                     "performance_density": pd, "class": classify_values(total, pd),
                     "tokens_per_s": float(t["tokens_per_s"][i]), "ttft_s": float(ttft[i]),
                     "fits": bool(t["fits"][i]), "bound": bounds[i], "feasible": ok and bool(t["fits"][i])})
    ref = next((r for r in rows if abs(r["compute_fraction"] - 1) < 1e-9 and r["cores"] == cores[0]
                and abs(r["mem_bw_tb_s"] * 1e12 - base["mem_bw"]) < 1e3
                and r["pim_multiplier"] == (1.0 if has_pim and 1.0 in pim else 0.0)), None)
    feas = [r for r in rows if r["feasible"]]
    feas.sort(key=lambda r: (-r["tokens_per_s"], r["tpp"], r["mem_bw_tb_s"], r["pim_multiplier"]))
    name = getattr(model, "name", str(model))        # a ModelSpec or a name/path
    return {"model": name, "arch": base.name, "tpp_cap": tpp_cap, "pd_cap": pd_cap,
            "best": feas[0] if feas else None, "rows": feas[:top] if top else feas,
            "reference": ref, "n_points": len(rows), "n_feasible": len(feas),
            "all_rows": rows,
            "ttft_max": ttft_max,
            "assumptions": {"batch": batch, "context": context, "tp": tp, "weights": weights,
                            "prompt": prompt,
                            "kv": kv, "die_area_mm2": area, "pim_counts_in_tpp": pim_counts,
                            "tpp_base_host": t_host, "tpp_pim_per_multiplier": t_pim1}}
