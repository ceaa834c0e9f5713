"""Numbers of docs/bands.md: the worked example (decode, batch 1, context 2048, `nmc analyze
--band` on six model x preset pairs) and the batch-64 line, from nmc.analyze(band=True)."""
from __future__ import annotations

from ...analysis.inference import analyze
from . import block, fmt, quotes, source, table

DOC = "docs/bands.md"
CASES = [("llama-3-8b", "aimc-edge-projected"), ("llama-3.2-1b", "aimc-edge-projected"),
         ("llama-3.2-1b", "h100-sxm"), ("llama-3-8b", "h100-sxm"), ("llama-3.2-1b", "phone-lpddr5x"),
         ("llama-3-8b", "h100+hbm3-pim")]


def _drivers(info, field, skip=(), n=2, floor=0.05):
    return [d["param"] for d in info["drivers"].get(field, []) if d["swing"] >= floor
            and d["param"] not in skip][:n]


@source("bands", quick=True)
def _bands() -> dict:
    v = {"rows": []}
    for m, a in CASES:
        r = analyze(m, a, phase="decode", batch=1, context=2048, band=True)
        v["rows"].append((m, a, r))
        v[f"{m}_{a}".replace("-", "_").replace(".", "_").replace("+", "_")] = {
            "low": r.band["low"]["tokens_per_s"], "central": r.tokens_per_s,
            "high": r.band["high"]["tokens_per_s"]}
    r = analyze("llama-3-8b", "h100-sxm", phase="decode", batch=64, context=2048, band=True)
    v["b64"] = {"tok_low": r.band["low"]["tokens_per_s"], "tok": r.tokens_per_s,
                "tok_high": r.band["high"]["tokens_per_s"],
                "mj_low": 1e3 * r.band["low"]["energy_per_token_j"], "mj": 1e3 * r.energy_per_token_j,
                "mj_high": 1e3 * r.band["high"]["energy_per_token_j"]}
    return v


def _table(v) -> str:
    rows = []
    for m, a, r in v["rows"]:
        lo, hi = r.band["low"], r.band["high"]
        t = _drivers(r.band_info, "tokens_per_s")
        e = _drivers(r.band_info, "energy_per_token_j", skip=t, n=3)
        drv = ", ".join(f"`{p}`" for p in t) + ("; energy also " if t and e else "energy " if e else "") \
            + ", ".join(f"`{p}`" for p in e)
        rows.append([m, a, " / ".join(fmt(x, ".3R") for x in (lo["tokens_per_s"], r.tokens_per_s, hi["tokens_per_s"])),
                     " / ".join(fmt(1e3 * x, ".3R") for x in (lo["energy_per_token_j"], r.energy_per_token_j,
                                                               hi["energy_per_token_j"])),
                     drv or "–"])
    return table(["model", "arch", "tokens/s", "mJ/token", "driven by (swing ≥ 5 %, largest first)"], rows)


block(DOC, "bands_example", "bands", _table)
quotes(DOC,
       'r.band["high"]["tokens_per_s"] # {bands.llama_3_8b_aimc_edge_projected.low:.3R}, '
       '{bands.llama_3_8b_aimc_edge_projected.central:.3R}, {bands.llama_3_8b_aimc_edge_projected.high:.3R} d = r.to_dict()',
       "the H100's llama-3-8b band is {bands.b64.tok_low:.4R} / {bands.b64.tok:.4R} / {bands.b64.tok_high:.4R} "
       "tokens/s and {bands.b64.mj_low:.2R} / {bands.b64.mj:.2R} / {bands.b64.mj_high:.2R} mJ per token.",
       )
