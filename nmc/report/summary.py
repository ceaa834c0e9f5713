"""The rows of `nmc analyze` / `nmc compare`: one summary row per report and the per-operator
columns. Shared by the command line and the explore page (nmc/web), so a CSV exported from the
page has the columns `nmc compare --format csv` prints."""
from __future__ import annotations

from ..analysis import aimc

SUMMARY_COLS = ["model", "arch", "phase", "batch", "tp", "latency_ms", "tokens_per_s",
                "ttft_ms", "tpot_ms", "energy_per_token_mj", "memory_gb", "fits", "max_batch",
                "bound", "compute", "memory", "latency", "comm"]
OP_COLS = ["name", "kind", "phase", "count", "M", "N", "K", "flops", "dram_bytes", "intensity",
           "t_compute_s", "t_memory_s", "t_latency_s", "t_comm_s", "time_s", "share", "bound",
           "engine"]
PIM_COLS = ["mapping", "pim_share", "gemm_on", "attn_on"]


def summary_row(r) -> dict:
    d = r.results
    sh = r.bound_shares
    return {"model": r.model.name, "arch": r.arch.name, "phase": r.scenario.phase,
            "batch": r.scenario.batch, "tp": r.scenario.tp,
            "latency_ms": d["latency_s"] * 1e3, "tokens_per_s": d["tokens_per_s"],
            "ttft_ms": None if d["ttft_s"] is None else d["ttft_s"] * 1e3,
            "tpot_ms": None if d["tpot_s"] is None else d["tpot_s"] * 1e3,
            "energy_per_token_mj": d["energy_per_token_j"] * 1e3,
            "memory_gb": d["memory_bytes"] / 1e9, "fits": bool(d["fits"]),
            "max_batch": int(d["max_batch"]), "bound": r.bound, **sh, **pim_cols(r),
            **aimc.summary_cols(r)}


def pim_cols(r) -> dict:
    """PIM systems (docs/nmc.md): mapping policy, share of time on the PIM units, and where
    the weight GEMMs and the attention ran (host / pim)."""
    if r.arch["pim_banks"] <= 0:
        return {}
    tot = sum(o["time_s"] for o in r.ops) or 1.0

    def where(kinds):
        e = {o["engine"] for o in r.ops if o["kind"] in kinds}
        return "/".join(sorted(e)) if e else ""
    return {"mapping": r.scenario.mapping,
            "pim_share": sum(o["time_s"] for o in r.ops if o["engine"] == "pim") / tot,
            "gemm_on": where(("gemm", "lm_head")), "attn_on": where(("attn_score", "attn_context"))}


def compare_columns(rows: list[dict]) -> list[str]:
    """The columns `nmc compare` prints for these summary rows: the common ones, then the PIM
    and AIMC ones when some row is of that family."""
    pim = any("pim_share" in r for r in rows)
    has_aimc = any("aimc_chips" in r for r in rows)
    return SUMMARY_COLS + (PIM_COLS if pim else []) + (aimc.AIMC_COLS if has_aimc else [])
