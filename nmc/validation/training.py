"""Predict the published training figures (models/measurements/training.csv) with nmc.train.

`predict(row)` is the `training` predictor of nmc.validation (so `nmc validate --group training`
runs it); `rows()` returns the published-vs-modelled table of docs/training.md, with every
assumption a row needs spelled out and every row the model cannot express listed with why.

One predictor for every source: the layout comes from the row's columns (devices, tp, pp, dp,
ep, cp, vpp, micro_batch, batch = global batch in sequences, context = sequence length, zero,
recompute, fp8, activations), the model from `model` (a bundled preset, or its dimensions
written as h=, L=, heads= [kv_heads=, ff=, vocab=, gated=] in the text), the kernels from
`runtime` and the sharding mode from `framework`. A setting no column gives is filled from
ASSUMPTIONS, the same for every row it applies to, never tuned per row."""
from __future__ import annotations

import re

from ..analysis.training import train
from ..arch.loader import load_arch
from ..errors import NmcError
from ..workload.model import ModelSpec, from_config, load_model
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
INLINE_MODELS = {"deepseek-v3": DEEPSEEK_V3}

# Settings a row does not give, filled the same way for every row they apply to.
ASSUMPTIONS = {
    "micro_batch": "1 where the row does not state it (Megatron-LM Table 1, Llama 3).",
    "vpp": "1 (no interleaving) where the row does not state it, except the two sources below.",
    "zero": "1 where the row does not state it: the distributed optimizer (ZeRO-1) that "
            "Megatron-Core/NeMo recipes and Llama 3's FSDP-style sharding of optimizer states use; "
            "rows that run without it say zero=0.",
    "recompute": "the least recomputation that fits memory (none, selective, full) where the row "
                 "does not state it: NeMo, Megatron-Bridge, DGX-Cloud and Llama 3 tables do not.",
    "dtype": "bf16 unless `activations` says fp16; fp8 = 1: FP8 linear GEMMs with scales known "
             "before the cast (Transformer Engine delayed scaling, DeepSeek's per-tile scaling); "
             "fp8 = 2: per-tensor current scaling (an extra amax pass per cast).",
    "runtime 'unfused attention'": "score, softmax and context as three kernels over the full "
                                   "s x s matrix (Megatron-LM and DeepSpeed in 2021, before "
                                   "FlashAttention); every other row uses fused attention.",
    "framework 'HYBRID_SHARD' / 'sharded within a node'": "ZeRO shards span one node "
        "(devices_per_node / tp ranks) and are replicated across nodes (PyTorch FSDP "
        "HYBRID_SHARD; InternLM zero1 = 8).",
    "framework 'Meta internal 4D parallelism'": "interleaved 1F1B with vpp = 2 (Llama 3 paper, "
        "Sec. 3.3.2, describes an interleaved schedule but gives no degree).",
    "framework 'DeepSeek HAI-LLM'": "vpp = 2 standing in for DualPipe, whose overlap of the expert "
        "all-to-all with compute (report Sec. 3.2.1) is modelled with overlap_ep = True.",
    "unit 'Megatron formula'": "the published TFLOP/s count 96 B s l h^2 (1 + s/6h + V/16lh) "
        "per step (Narayanan et al. 2021; InternLM uses the same formula): modelled TFLOP/s = "
        "that count / modelled step time. Other tflops_per_gpu rows count model FLOPs with "
        "causal attention.",
    "unit 'tokens='": "gpu_hours rows: the tokens trained, written in `unit` (DeepSeek-V3: "
        "14.8e12 pre-training, 1e12 per trillion).",
}

_DIM = re.compile(r"\b(h|L|heads|kv_heads|ff|vocab|gated)=(\d+)")


def _dims(text: str) -> dict:
    return {k: int(v) for k, v in _DIM.findall(text or "")}


def model_spec(row: dict) -> ModelSpec:
    """The row's model: an inline config (INLINE_MODELS), a bundled preset, or the dimensions
    written in the `model` text (h=, L=, heads= required; kv_heads=, ff=, vocab=, gated=
    optional: GPT-style plain MLP with ff = 4h and learned positions unless gated=1)."""
    name = (row.get("model") or "").strip()
    if name in INLINE_MODELS:
        return from_config(INLINE_MODELS[name], name=name, where=f"INLINE_MODELS[{name!r}]")
    dims = _dims(name)
    if {"h", "L", "heads"} <= dims.keys():
        if "vocab" not in dims:
            raise Skip(f"model {name!r}: vocab= not given")
        seq = row.get("context") or 2048
        h, L, heads = dims["h"], dims["L"], dims["heads"]
        ff = dims.get("ff", 4 * h)
        if dims.get("gated"):
            cfg = {"model_type": "llama", "hidden_size": h, "num_hidden_layers": L,
                   "num_attention_heads": heads,
                   "num_key_value_heads": dims.get("kv_heads", heads),
                   "intermediate_size": ff, "vocab_size": dims["vocab"],
                   "max_position_embeddings": seq}
        else:
            cfg = {"model_type": "gpt2", "n_embd": h, "n_layer": L, "n_head": heads,
                   "n_inner": ff, "vocab_size": dims["vocab"], "n_positions": seq}
        return from_config(cfg, name=f"{h}x{L}", where=f"model column of {row['id']}")
    try:
        return load_model(name)
    except NmcError:
        raise Skip(f"model {name!r}: not a bundled preset and no dimensions (h=, L=, heads=, "
                   f"vocab=) in the model column") from None


def megatron_flops(B: int, s: int, L: int, h: int, V: int) -> float:
    """FLOPs per step as Narayanan et al. (2021) count them (with full recomputation)."""
    return 96.0 * B * s * L * h * h * (1 + s / (6.0 * h) + V / (16.0 * L * h))


def _framework(row) -> str:
    return row.get("framework") or ""


def layout(row: dict, spec: ModelSpec) -> dict:
    """nmc.train keywords from the row's columns (and ASSUMPTIONS where a column is empty)."""
    missing = [c for c in ("devices", "batch", "context", "tp", "pp") if row.get(c) is None]
    if missing:
        raise Skip(f"layout columns not given: {', '.join(missing)}")
    for c in ("devices", "batch", "context", "tp", "pp", "dp", "ep", "cp", "vpp", "micro_batch",
              "zero", "fp8"):
        if isinstance(row.get(c), str):
            raise Skip(f"column {c} is not an integer: {row[c]!r}")
    devices, tp, pp = row["devices"], row["tp"], row["pp"]
    cp = row.get("cp") or 1
    dp = row.get("dp") or devices // (tp * pp * cp)
    if tp * pp * dp * cp != devices:
        raise Skip(f"tp*pp*dp*cp = {tp}*{pp}*{dp}*{cp} = {tp * pp * dp * cp} is not the "
                   f"{devices} devices")
    fw = _framework(row)
    kw = {"devices": devices, "tp": tp, "pp": pp, "dp": dp, "cp": cp, "ep": row.get("ep") or 1,
          "global_batch": row["batch"], "seq": row["context"],
          "micro_batch": row.get("micro_batch") or 1, "zero": 1, "vpp": row.get("vpp") or 1}
    if row.get("zero") is not None:
        kw["zero"] = row["zero"]
    fp8 = row.get("fp8") or 0
    if fp8:
        kw["dtype"] = "fp8"
        kw["fp8_recipe"] = "current" if fp8 == 2 else "delayed"
    else:
        kw["dtype"] = "fp16" if row.get("activations") == "fp16" else "bf16"
    if "unfused attention" in (row.get("runtime") or ""):
        kw["attention"] = "unfused"
    if "HYBRID_SHARD" in fw or "sharded within a node" in fw:
        dpn = int(load_arch(row["arch"])["devices_per_node"])
        kw["zero_group"] = max(dpn // tp, 1)
    if fw.startswith("Meta internal 4D parallelism") and not row.get("vpp"):
        kw["vpp"] = 2
    if fw.startswith("DeepSeek HAI-LLM"):
        kw["overlap_ep"] = True
        if not row.get("vpp"):
            kw["vpp"] = 2
    if kw["vpp"] > 1 and kw["pp"] == 1:
        kw["vpp"] = 1
    return kw


def _run(spec, row, **kw):
    try:
        return train(spec, row["arch"], **kw)
    except NmcError as e:
        raise Skip(str(e)) from None


def _fit(spec, row, kw, tokens=None):
    """Train with the row's recomputation, or the least that fits where it gives none."""
    if row.get("recompute"):
        if row["recompute"] not in ("none", "selective", "full"):
            raise Skip(f"recompute {row['recompute']!r} (a fraction of the layers checkpointed) "
                       f"is not modelled: none, selective (attention core) or full")
        r = _run(spec, row, recompute=row["recompute"], tokens=tokens, **kw)
        if not r.fits:
            raise Skip("does not fit: " + r.reason)
        return r
    for rc in ("none", "selective", "full"):
        r = _run(spec, row, recompute=rc, tokens=tokens, **kw)
        if r.fits:
            return r
    raise Skip("does not fit even with full recomputation: " + r.reason)


_TOKENS = re.compile(r"tokens=([0-9.eE+]+)")


@predictor("training")
def predict(row: dict) -> float:
    return _predict(row)[0]


def _predict(row: dict):
    """(modelled value in the row's metric, the TrainReport it came from)."""
    if not row.get("arch"):
        raise Skip(f"no preset for system {row.get('system')!r}")
    spec = model_spec(row)
    kw = layout(row, spec)
    metric = row["metric"]
    unit = row.get("unit") or ""
    tokens = None
    if metric in ("gpu_hours", "time_to_train_min"):
        m = _TOKENS.search(unit)
        if not m:
            raise Skip(f"{metric}: the tokens trained are not given (unit has no tokens=)")
        tokens = float(m.group(1))
    if metric not in ("tokens_per_s_per_gpu", "step_time_s", "gpu_hours", "time_to_train_min",
                      "tflops_per_gpu"):
        raise Skip(f"metric {metric!r} is not a training output")
    r = _fit(spec, row, kw, tokens)
    d = r.to_dict()
    if metric == "tokens_per_s_per_gpu":
        return d["tokens_per_s_per_device"], r
    if metric == "step_time_s":
        return d["step_time_s"], r
    if metric == "gpu_hours":
        return d["device_hours"], r
    if metric == "time_to_train_min":
        return d["time_to_train_s"] / 60.0, r
    if "Megatron formula" in unit:
        fl = megatron_flops(kw["global_batch"], kw["seq"], spec.n_layers, spec.d_model,
                            spec.vocab)
        return fl / (r.step_time_s * kw["devices"]) / 1e12, r
    return d["model_tflops_per_device"], r


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
               "modelled": None, "error": None, "split": row["split"], "note": "",
               "recompute": None, "bottleneck": None}
        try:
            p, r = _predict(row)
            rec["modelled"] = float(p)
            rec["error"] = float(p) / row["value"] - 1.0
            rec["recompute"] = r.config.recompute
            rec["bottleneck"] = r.bottleneck()
        except Skip as e:
            rec["note"] = str(e)
        out.append(rec)
    return out


def markdown(res=None) -> str:
    """The published-vs-modelled table as Markdown (docs/training.md)."""
    res = rows() if res is None else res
    out = ["| id | split | arch | devices | metric | published | modelled | error | recompute |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        mod = f"{r['modelled']:.4g}" if r["modelled"] is not None else "not modelled"
        err = f"{r['error']:+.1%}" if r["error"] is not None else r["note"]
        out.append(f"| {r['id']} | {r['split'][:4]} | {r['arch']} | {r['devices']} | "
                   f"{r['metric']} | {r['published']:.4g} | {mod} | {err} | "
                   f"{r.get('recompute') or ''} |")
    for split in ("all", "evaluation"):
        done = sorted(abs(r["error"]) for r in res if r["error"] is not None
                      and (split == "all" or r["split"] == split))
        if done:
            n = len(done)
            med = done[n // 2] if n % 2 else 0.5 * (done[n // 2 - 1] + done[n // 2])
            out.append("")
            out.append(f"{split} rows: {n} modelled, median absolute error {med:.1%}"
                       + (f"; {len(res) - n} not modelled." if split == "all" else "."))
    return "\n".join(out)
