"""Numbers of docs/nmc.md section 6: H100 SXM vs H100 + HBM3-PIM, llama-2-70b decode at
context 4096 (bf16, tp 1 and tp 2), with and without the PIM limits of sections 2a and 5a
(the stacks' power budget, the capacity the units take, their static power)."""
from __future__ import annotations

from ...analysis.inference import analyze
from ..summary import pim_cols
from . import block, fmt, quotes, source, table

DOC = "docs/nmc.md"
BATCHES = (1, 4, 16, 64, 256)
NO_LIMITS = {"pim_power": 0, "pim_capacity_loss": 0, "pim_p_static": 0}


def _bound(r) -> str:
    b = r.bound
    if b == "compute" and any(o["engine"] == "pim" and o["bound"] == "compute" and o["share"] > 0.3
                              for o in r.ops):
        return "compute (PIM)"
    return b


@source("nmc_pim", quick=True)
def _nmc_pim() -> dict:
    kw = {"phase": "decode", "context": 4096}
    rows = []
    for b in BATCHES:
        g = analyze("llama-2-70b", "h100-sxm", batch=b, **kw)
        p = analyze("llama-2-70b", "h100+hbm3-pim", batch=b, **kw)
        q = analyze("llama-2-70b", "h100+hbm3-pim", batch=b, **kw, **NO_LIMITS)
        rows.append((b, g, p, q))
    v = {"rows": rows}
    g, p, q = rows[0][1:]
    v["b1_speedup"], v["b1_speedup_free"] = p.tokens_per_s / g.tokens_per_s, q.tokens_per_s / g.tokens_per_s
    v["power_cost"] = 100 * (1 - v["b1_speedup"] / v["b1_speedup_free"])
    for b in (1, 16):
        g2 = analyze("llama-2-70b", "h100-sxm", batch=b, tp=2, **kw)
        p2 = analyze("llama-2-70b", "h100+hbm3-pim", batch=b, tp=2, **kw)
        q2 = analyze("llama-2-70b", "h100+hbm3-pim", batch=b, tp=2, **kw, **NO_LIMITS)
        v[f"tp2_b{b}"] = {"gpu": g2.tokens_per_s, "pim": p2.tokens_per_s, "free": q2.tokens_per_s,
                          "speedup": p2.tokens_per_s / g2.tokens_per_s,
                          "speedup_free": q2.tokens_per_s / g2.tokens_per_s}
    return v


def _table(v) -> str:
    out = []
    for b, g, p, q in v["rows"]:
        c = pim_cols(p)
        sp = p.tokens_per_s / g.tokens_per_s
        out.append([str(b), fmt(g.tokens_per_s, ".4R"), g.bound, fmt(p.tokens_per_s, ".4R"), _bound(p),
                    (f"**{sp:.2g}×**" if b == 1 else f"{sp:.3g}×"),
                    f"{fmt(q.tokens_per_s, '.4R')}, {q.tokens_per_s / g.tokens_per_s:.3g}×",
                    c["gemm_on"], c["attn_on"], f"{c['pim_share']:.2f}"])
    return table(["batch", "h100-sxm tokens/s", "bound", "h100+hbm3-pim tokens/s (auto)", "bound", "speedup",
                  "without the limits (§2a, §5a)", "weight GEMMs on", "attention on", "PIM share of time"], out)


block(DOC, "pim_70b", "nmc_pim", _table)
quotes(DOC,
       "(AttAcc's 16× → 9×, §2a) costs {nmc_pim.power_cost:.0f} % of the batch-1 speed-up;",
       "left usable: {nmc_pim.tp2_b1.gpu:.3S} → {nmc_pim.tp2_b1.pim:.3S} tokens/s at batch 1 "
       "({nmc_pim.tp2_b1.speedup:.2S}×; {nmc_pim.tp2_b1.free:.3S} and {nmc_pim.tp2_b1.speedup_free:.2S}× without "
       "the limits), {nmc_pim.tp2_b16.gpu:.3S} → {nmc_pim.tp2_b16.pim:.3S} at batch 16.",
       )
