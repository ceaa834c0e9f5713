"""Predict the published training figures (models/measurements/training.csv) with nmc.train.

`predict(row)` is the `training` predictor of nmc.validation (so `nmc validate --group training`
runs it); `rows()` returns the published-vs-modelled table of docs/training.md, with every
assumption a row needs spelled out and every row the model cannot express listed with why.

Settings not given by the sources are fixed here once, the same for every row of a source, and
never tuned per row: they are listed in ASSUMPTIONS and in docs/training.md."""
from __future__ import annotations

import re

from ..analysis.training import train
from ..errors import NmcError
from ..workload.model import ModelSpec, from_config
from . import measurements
from .registry import Skip, predictor

# DeepSeek-V3 (671B total, 37B active): the HF config.json keys that shape the model, as in
# deepseek-ai/DeepSeek-V3 config.json and inference/configs/config_671B.json (two copies seen in
# the code index agree). The multi-token-prediction module is not part of the 61 layers.
DEEPSEEK_V3 = {
    "model_type": "deepseek_v3", "vocab_size": 129280, "hidden_size": 7168,
    "intermediate_size": 18432, "moe_intermediate_size": 2048, "num_hidden_layers": 61,
    "num_attention_heads": 128, "num_key_value_heads": 128, "q_lora_rank": 1536,
    "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8,
    "first_k_dense_replace": 3, "max_position_embeddings": 163840,
    "tie_word_embeddings": False, "hidden_act": "silu",
}

ASSUMPTIONS = {
    "megatron": "GPT with vocab 51,200 and seq 2048 (paper, Sec. 5.1); fp16 GEMMs; unfused "
                "attention (2021, before FlashAttention); full activation "
                "recomputation and FLOPs counted as the paper does (96 B s l h^2 (1 + s/6h + "
                "V/16lh)); no ZeRO (zero=0), micro-batch 1, no interleaving (vpp=1): the paper's "
                "per-run micro-batch and interleaving degree are not in Table 1",
    "megatron-ptdp": "Table 2 gives only t*p: t = 8 (one DGX node), p = t*p/8; micro-batch 1 "
                     "(Table 2); otherwise as Table 1",
    "megatron-zero3": "DeepSpeed ZeRO-3 with t = p = 1 and the table's micro-batch",
    "llama3": "micro-batch 1, batch/DP micro-batches per step, the least recomputation that "
              "fits memory (none, selective, full: the paper does not say), "
              "distributed optimizer (zero=1), interleaved 1F1B with vpp=2 (Meta describes an "
              "interleaved schedule but gives no degree); model FLOPs with causal attention",
    "deepseek": "pp16, ep64, dp128, no TP; fp8 GEMMs; seq 4096; global batch 15,360 sequences "
                "(the final batch of the ramp, paper Sec. 4.2); micro-batch 1; the least "
                "recomputation that fits; zero=1; 1F1B with vpp=2 standing in for DualPipe, "
                "whose overlap of the expert all-to-all with compute (paper Sec. 3.2.1) is "
                "modelled with overlap_ep=True",
}


def _gpt(h: int, L: int, heads: int, vocab: int = 51200, seq: int = 2048, name="gpt") -> ModelSpec:
    return from_config({"model_type": "gpt2", "n_embd": h, "n_layer": L, "n_head": heads,
                        "vocab_size": vocab, "n_positions": seq}, name=name, where=name)


def _megatron_dims(text: str):
    m = re.search(r"h=(\d+), L=(\d+), heads=(\d+)", text or "")
    return tuple(int(x) for x in m.groups()) if m else None


# the 175B and 529.6B models of Table 2 (dimensions from Table 1 / GPT-3)
_TABLE2_DIMS = {"gpt3-175b": (12288, 96, 96), "GPT-529.6B (Megatron)": (20480, 105, 128)}


def megatron_flops(B: int, s: int, L: int, h: int, V: int) -> float:
    """FLOPs per step as Narayanan et al. (2021) count them (with full recomputation)."""
    return 96.0 * B * s * L * h * h * (1 + s / (6.0 * h) + V / (16.0 * L * h))


def _run(spec, row, **kw):
    try:
        return train(spec, row["arch"], **kw)
    except NmcError as e:
        raise Skip(str(e)) from None


def _megatron(row: dict) -> float:
    rid = row["id"]
    notes = row.get("notes") or ""
    seq = row.get("context") or 2048
    B = row["batch"]
    if rid.startswith("megatron-t1-"):
        dims = _megatron_dims(row["model"])
        tp, pp, mb, zero = row["tp"], row["pp"], 1, 0
    else:
        dims = _TABLE2_DIMS.get(row["model"])
        m = re.search(r"t\*p = (\d+)", notes)
        mbm = re.search(r"microbatch (\d+)", notes)
        if not dims or not m:
            raise Skip("model or model-parallel size not given")
        tp_pp = int(m.group(1))
        mb = int(mbm.group(1)) if mbm else 1
        if "zero3" in rid:
            if tp_pp != 1:
                raise Skip(f"ZeRO-3 run with t*p = {tp_pp}: the split into t and p is not given")
            tp, pp, zero = 1, 1, 3
        else:
            tp, pp, zero = 8, tp_pp // 8, 0
    h, L, heads = dims
    spec = _gpt(h, L, heads, seq=seq, name=f"gpt-{h}x{L}")
    r = _run(spec, row, devices=row["devices"], tp=tp, pp=pp, micro_batch=mb, global_batch=B,
             seq=seq, recompute="full", zero=zero, dtype="fp16", attention="unfused")
    if not r.fits:
        raise Skip("does not fit: " + r.reason)
    return megatron_flops(B, seq, L, h, 51200) / (r.step_time_s * row["devices"]) / 1e12


def _least_recompute(spec, row, **kw):
    """The source does not say how much it recomputes: take the least that fits memory."""
    for rc in ("none", "selective", "full"):
        r = _run(spec, row, recompute=rc, **kw)
        if r.fits:
            return r
    raise Skip("does not fit even with full recomputation: " + r.reason)


def _llama3(row: dict) -> float:
    if "CP 16" in (row.get("notes") or ""):
        raise Skip("context parallelism (CP 16) is not modelled")
    r = _least_recompute(row["model"], row, devices=row["devices"], tp=row["tp"], pp=row["pp"],
                         micro_batch=1, global_batch=row["batch"], seq=row["context"], zero=1,
                         vpp=2, dtype="bf16")
    return r.results["model_tflops_per_device"]


def _deepseek(row: dict) -> float:
    rid = row["id"]
    if rid == "deepseekv3-pretrain-gpuhours":
        tokens = 14.8e12
    elif rid == "deepseekv3-per-1t-tokens-gpuhours":
        tokens = 1e12
    else:
        raise Skip("context extension, post-training and totals mix sequence lengths and RL "
                   "workloads the training-step model does not express")
    spec = from_config(DEEPSEEK_V3, name="deepseek-v3", where="DEEPSEEK_V3")
    r = _least_recompute(spec, row, devices=2048, tp=1, pp=16, ep=64, micro_batch=1,
                         global_batch=15360, seq=4096, zero=1, vpp=2, dtype="fp8", tokens=tokens,
                         overlap_ep=True)
    return r.to_dict()["device_hours"]


@predictor("training")
def predict(row: dict) -> float:
    rid = row["id"]
    if not row.get("arch"):
        raise Skip(f"no preset for system {row.get('system')!r}")
    if rid.startswith("megatron-"):
        return _megatron(row)
    if rid.startswith("llama3-"):
        return _llama3(row)
    if rid.startswith("deepseekv3-"):
        return _deepseek(row)
    if rid.startswith("mlperf-"):
        raise Skip("MLPerf GPT-3 time-to-train: the token count to the target log-perplexity and "
                   "the parallel layout are not in the published row")
    raise Skip("no training predictor for this source")


def rows(data=None) -> list[dict]:
    """Published vs modelled for every training row: id, metric, published, modelled, error
    (modelled / published - 1), or the reason a row is not modelled."""
    src = measurements.load(data) if data else measurements.load()
    out = []
    for row in src:
        if row["group"] != "training":
            continue
        rec = {"id": row["id"], "arch": row.get("arch"), "devices": row.get("devices"),
               "model": row.get("model"), "metric": row["metric"], "published": row["value"],
               "modelled": None, "error": None, "split": row["split"], "note": ""}
        try:
            p = float(predict(row))
            rec["modelled"] = p
            rec["error"] = p / row["value"] - 1.0
        except Skip as e:
            rec["note"] = str(e)
        out.append(rec)
    return out


def markdown(res=None) -> str:
    """The published-vs-modelled table as Markdown (docs/training.md)."""
    res = rows() if res is None else res
    out = ["| id | arch | devices | metric | published | modelled | error |",
           "|---|---|---|---|---|---|---|"]
    for r in res:
        mod = f"{r['modelled']:.4g}" if r["modelled"] is not None else "not modelled"
        err = f"{r['error']:+.1%}" if r["error"] is not None else r["note"]
        out.append(f"| {r['id']} | {r['arch']} | {r['devices']} | {r['metric']} | "
                   f"{r['published']:.4g} | {mod} | {err} |")
    done = [abs(r["error"]) for r in res if r["error"] is not None]
    if done:
        done.sort()
        med = done[len(done) // 2] if len(done) % 2 else 0.5 * (done[len(done) // 2 - 1]
                                                                 + done[len(done) // 2])
        out.append("")
        out.append(f"{len(done)} rows modelled, median absolute error {med:.1%}; "
                   f"{len(res) - len(done)} not modelled.")
    return "\n".join(out)
