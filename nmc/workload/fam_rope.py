"""Llama-like families: RMSNorm, rotary positions (no learned position table), gated MLP
(SwiGLU / GeGLU: gate, up, down). Llama, Mistral, Qwen2, Qwen3, Mixtral, Qwen2-MoE, Qwen3-MoE,
Gemma 1/2/3 (text), Phi-3 (fused qkv_proj and gate_up_proj: the same counts), DeepSeek-V2/V3.

Required keys: those that set a matrix shape and that transformers does not derive by a rule
(its default there is one checkpoint's number). Other keys take transformers' defaults, read in
src/transformers/models/<family>/configuration_<family>.py (docs/model.md, "Workload: configs
by family")."""
from __future__ import annotations

from dataclasses import dataclass

from .hfcfg import Cfg, build, head_dim_of, heads_divide

RULE = None     # default derived by transformers' rule (kv heads = heads, head_dim = d / heads)


@dataclass(frozen=True)
class Rules:
    tied: bool              # tie_word_embeddings default
    kv_default: object      # num_key_value_heads when omitted: RULE, or "required"
    head_dim: object        # head_dim when omitted: RULE, or "required"
    maxpos: int             # max_position_embeddings default
    norms: int = 2          # RMSNorm weights (d) per layer
    qk_norm: bool = False   # RMSNorm (head_dim) on q and on k: Qwen3, Gemma-3
    qkv_bias: str = "attention_bias"    # "always" | "attention_bias" | "qkv_bias" | "never"
    o_bias: bool = True     # attention_bias also biases o_proj
    moe: str = ""           # "" | "mixtral" (every layer) | "qwen" (decoder_sparse_step, ...)
    mlp_bias: bool = False  # the family reads mlp_bias (Llama)


REQ = "required"
RULES = {
    "llama": Rules(False, RULE, RULE, 2048, mlp_bias=True),
    "mistral": Rules(False, REQ, RULE, 4096 * 32, qkv_bias="never"),
    "qwen2": Rules(False, REQ, RULE, 32768, qkv_bias="always", o_bias=False),
    "qwen3": Rules(False, REQ, REQ, 32768, qk_norm=True),
    "mixtral": Rules(False, REQ, RULE, 4096 * 32, qkv_bias="never", moe="mixtral"),
    "qwen2_moe": Rules(False, REQ, RULE, 32768, qkv_bias="qkv_bias", o_bias=False, moe="qwen"),
    "qwen3_moe": Rules(False, REQ, RULE, 32768, qk_norm=True, moe="qwen"),
    "gemma": Rules(True, REQ, REQ, 8192),
    "gemma2": Rules(True, REQ, REQ, 8192, norms=4),
    "gemma3_text": Rules(True, REQ, REQ, 131072, norms=4, qk_norm=True),
    "phi3": Rules(False, RULE, RULE, 4096, qkv_bias="never"),
}


def _dense_width(c: Cfg, needed: bool) -> int:
    """intermediate_size: required when some layers are dense, else unused (0 if omitted)."""
    return c.integer("intermediate_size") if needed else \
        c.integer("intermediate_size", default=0, minimum=0)


def _moe(c: Cfg, r: Rules, L: int, d: int) -> tuple[dict, int, int]:
    """(moe dict, dense MLP width, extra params) for the MoE families."""
    if r.moe == "mixtral":
        ffe = c.integer("intermediate_size")
        moe = {"E": c.integer("num_local_experts"), "top_k": c.integer("num_experts_per_tok"),
               "ffe": ffe, "shared": 0, "n_moe": L}
        return moe, ffe, 0
    # Qwen2-MoE / Qwen3-MoE: layer i is sparse when (i + 1) % decoder_sparse_step == 0 and i is
    # not in mlp_only_layers (HF Qwen2MoeDecoderLayer); the others are dense MLPs.
    step = c.integer("decoder_sparse_step", default=1)
    mlp_only = set(c.int_list("mlp_only_layers"))
    n_moe = sum(1 for i in range(L) if (i + 1) % step == 0 and i not in mlp_only)
    moe = {"E": c.integer("num_experts"), "top_k": c.integer("num_experts_per_tok"),
           "ffe": c.integer("moe_intermediate_size"), "n_moe": n_moe, "shared": 0}
    extra = 0
    if c.family == "qwen2_moe":
        moe["shared"] = c.integer("shared_expert_intermediate_size")
        extra = n_moe * d               # shared_expert_gate: Linear(d, 1) per sparse layer
    ff = _dense_width(c, n_moe < L)
    return moe, ff, extra


def llama_like(c: Cfg, name: str):
    r = RULES[c.family]
    d = c.integer("hidden_size")
    L = c.integer("num_hidden_layers")
    h = c.integer("num_attention_heads")
    vocab = c.integer("vocab_size")
    hkv = c.integer("num_key_value_heads") if r.kv_default == REQ else \
        c.integer("num_key_value_heads", default=h)
    heads_divide(c, h, hkv)
    hd = c.integer("head_dim") if r.head_dim == REQ else c.integer("head_dim", default=None)
    if hd is None:
        hd = head_dim_of(c, d, h)
    tied = c.flag("tie_word_embeddings", r.tied)
    maxpos = c.integer("max_position_embeddings", default=r.maxpos)

    # norms: r.norms RMSNorm weights per layer, the final norm; q/k norms of head_dim
    extra = L * r.norms * d + d + (L * 2 * hd if r.qk_norm else 0)
    rule = r.qkv_bias
    qkv_bias = rule == "always" or (rule == "attention_bias" and c.flag("attention_bias", False)) \
        or (rule == "qkv_bias" and c.flag("qkv_bias", True))
    if qkv_bias:
        extra += L * (h * hd + 2 * hkv * hd)
    if r.o_bias and rule == "attention_bias" and qkv_bias:
        extra += L * d
    moe, ff = {}, None
    if r.moe:
        moe, ff, more = _moe(c, r, L, d)
        extra += more
    else:
        ff = c.integer("intermediate_size")
    if r.mlp_bias and c.flag("mlp_bias", False):
        extra += (L - moe.get("n_moe", 0)) * (2 * ff + d)
    return build(c, name, L=L, d=d, h=h, hkv=hkv, hd=hd, vocab=vocab, ff=ff, gated=True,
                 tied=tied, maxpos=maxpos, extra=extra, moe=moe, qk_norm=r.qk_norm,
                 norms=r.norms)


def deepseek(c: Cfg, name: str):
    """DeepSeek-V2/V3: multi-head latent attention (MLA) and fine-grained MoE with shared
    experts; the first first_k_dense_replace layers (and those off moe_layer_freq) are dense.
    The multi-token-prediction module of V3 (num_nextn_predict_layers) is not counted: it is
    not one of the num_hidden_layers layers that serve a token."""
    d = c.integer("hidden_size")
    L = c.integer("num_hidden_layers")
    h = c.integer("num_attention_heads")
    vocab = c.integer("vocab_size")
    kv_lora = c.integer("kv_lora_rank")
    rope = c.integer("qk_rope_head_dim")
    nope = c.integer("qk_nope_head_dim")
    dv = c.integer("v_head_dim")
    q_lora = c.nullable_int("q_lora_rank")
    extra = L * 2 * d + d + L * kv_lora            # RMSNorms; kv_a_layernorm
    if q_lora:
        # q: d -> q_lora (q_a_proj) -> h*(nope+rope) (q_b_proj), with q_a_layernorm
        q_params = d * q_lora + q_lora * h * (nope + rope)
        extra += L * q_lora
    else:
        q_params = d * h * (nope + rope)
    # the fused input projection (q or q down, then kv down: latent + rope key) as one matrix
    # of width q_params // d; the remainder of that division is counted here
    extra += L * (q_params % d)
    if c.flag("attention_bias", False):            # q_a_proj, kv_a_proj_with_mqa, o_proj
        extra += L * ((q_lora or 0) + kv_lora + rope + d)
    mla = {"d_qk": kv_lora + rope, "d_v": kv_lora, "kv_elems": kv_lora + rope,
           "kvb_k": kv_lora, "kvb_n": h * (nope + dv),       # absorbed: attention in latent space
           "mla_dqk": nope + rope, "mla_dv": dv,               # non-absorbed (prefill, training)
           "q_rep": (q_lora or 0) + kv_lora + rope}            # q_a, kv_a: replicated under TP
    first_dense = c.integer("first_k_dense_replace", minimum=0)
    freq = c.integer("moe_layer_freq", default=1)
    n_moe = sum(1 for i in range(L) if i >= first_dense and i % freq == 0)
    E = c.integer("n_routed_experts")
    ffe = c.integer("moe_intermediate_size")
    moe = {"E": E, "top_k": c.integer("num_experts_per_tok"), "ffe": ffe, "n_moe": n_moe,
           "shared": (c.nullable_int("n_shared_experts", minimum=0) or 0) * ffe}
    if c.family == "deepseek_v3":
        extra += n_moe * E                         # the router's e_score_correction_bias
    ff = _dense_width(c, n_moe < L)
    return build(c, name, L=L, d=d, h=h, hkv=h, hd=nope + rope, vocab=vocab, ff=ff, gated=True,
                 tied=c.flag("tie_word_embeddings", False),
                 maxpos=c.integer("max_position_embeddings", default={
                     "deepseek_v2": 2048, "deepseek_v3": 4096}[c.family]),
                 extra=extra, q_out=q_params // d + kv_lora + rope, o_k=h * dv, moe=moe, mla=mla)
