"""GPT-style families: LayerNorm (weight and bias) instead of RMSNorm, a plain two-matrix MLP
(gated = False: GELU or ReLU), biases on most linears, learned or no position tables.
GPT-2, GPT-J, GPT-NeoX (Pythia), OPT, BLOOM, Falcon, MPT.

Required keys: those that set a matrix shape and that transformers does not derive by a rule;
the others take transformers' defaults (docs/model.md, "Workload: configs by family")."""
from __future__ import annotations

from .hfcfg import Cfg, build, head_dim_of


def _ln(d: int, bias: bool = True) -> int:
    """A LayerNorm's parameters: weight (and bias)."""
    return 2 * d if bias else d


def _dims(c: Cfg, d_keys=("hidden_size",), l_keys=("num_hidden_layers",),
          h_keys=("num_attention_heads",)):
    d = c.integer(*d_keys)
    L = c.integer(*l_keys)
    h = c.integer(*h_keys)
    return d, L, h, head_dim_of(c, d, h), c.integer("vocab_size")


def gpt2(c: Cfg, name: str):
    """GPT2LMHeadModel: Conv1D c_attn (3d) / c_proj / c_fc / c_proj with biases, ln_1, ln_2,
    ln_f, learned positions wpe (n_positions x d); n_inner null = 4 d; tied (PretrainedConfig
    default)."""
    d, L, h, hd, vocab = _dims(c, ("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"),
                               ("n_head", "num_attention_heads"))
    npos = c.integer("n_positions", "max_position_embeddings")
    ff = c.integer("n_inner", default=4 * d)
    extra = L * (3 * d + d + ff + d + 2 * _ln(d)) + _ln(d) + npos * d
    return build(c, name, L=L, d=d, h=h, hkv=h, hd=hd, vocab=vocab, ff=ff, gated=False,
                 tied=c.flag("tie_word_embeddings", True), maxpos=npos, extra=extra)


def gptj(c: Cfg, name: str):
    """GPTJForCausalLM: q/k/v/out without bias, fc_in/fc_out with bias, one ln_1 per layer
    (attention and MLP in parallel), rotary (no position table), an LM head with a bias,
    untied (GPTJConfig tie_word_embeddings=False)."""
    d, L, h, hd, vocab = _dims(c, ("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"),
                               ("n_head", "num_attention_heads"))
    ff = c.integer("n_inner", default=4 * d)
    extra = L * (ff + d + _ln(d)) + _ln(d) + vocab
    return build(c, name, L=L, d=d, h=h, hkv=h, hd=hd, vocab=vocab, ff=ff, gated=False,
                 tied=c.flag("tie_word_embeddings", False),
                 maxpos=c.integer("n_positions", "max_position_embeddings", default=2048),
                 extra=extra, norms=1)


def gpt_neox(c: Cfg, name: str):
    """GPTNeoXForCausalLM (Pythia, GPT-NeoX-20B): query_key_value and dense with bias
    (attention_bias, default true), dense_h_to_4h / dense_4h_to_h with bias, input and
    post-attention LayerNorms, rotary; embed_out untied (tie_word_embeddings default false)."""
    d, L, h, hd, vocab = _dims(c)
    ff = c.integer("intermediate_size")
    bias = c.flag("attention_bias", True)
    extra = L * ((4 * d if bias else 0) + ff + d + 2 * _ln(d)) + _ln(d)
    return build(c, name, L=L, d=d, h=h, hkv=h, hd=hd, vocab=vocab, ff=ff, gated=False,
                 tied=c.flag("tie_word_embeddings", False),
                 maxpos=c.integer("max_position_embeddings", default=2048), extra=extra)


def opt(c: Cfg, name: str):
    """OPTForCausalLM: q/k/v/out_proj and fc1/fc2 with bias (enable_bias), two LayerNorms per
    layer (layer_norm_elementwise_affine), a final LayerNorm when do_layer_norm_before,
    learned positions of max_position_embeddings + 2 rows (OPT's offset of 2), tied LM head.
    word_embed_proj_dim != hidden_size (OPT-350m): the embedding is vocab x word_embed_proj_dim
    with project_in / project_out (no bias) to and from the hidden size."""
    d, L, h, hd, vocab = _dims(c, ("hidden_size", "d_model"))
    ff = c.integer("ffn_dim")
    npos = c.integer("max_position_embeddings")
    de = c.integer("word_embed_proj_dim", default=d)
    bias = c.flag("enable_bias", True)
    affine = c.flag("layer_norm_elementwise_affine", True)
    ln = _ln(d) if affine else 0
    final_ln = c.flag("do_layer_norm_before", True) and not c.flag("_remove_final_layer_norm",
                                                                  False)
    extra = L * ((4 * d + ff + d if bias else 0) + 2 * ln) + (ln if final_ln else 0)
    extra += (npos + 2) * d + (2 * d * de if de != d else 0)
    return build(c, name, L=L, d=d, h=h, hkv=h, hd=hd, vocab=vocab, ff=ff, gated=False,
                 tied=c.flag("tie_word_embeddings", True), maxpos=npos, extra=extra,
                 d_embed=de if de != d else 0)


def bloom(c: Cfg, name: str):
    """BloomForCausalLM: query_key_value / dense / dense_h_to_4h (4 d, fixed) / dense_4h_to_h
    with bias, two LayerNorms per layer, word_embeddings_layernorm after the embedding, ln_f,
    ALiBi (no position table), tied."""
    d, L, h, hd, vocab = _dims(c, ("hidden_size", "n_embed"), ("n_layer", "num_hidden_layers"),
                               ("n_head", "num_attention_heads"))
    ff = 4 * d
    extra = L * (3 * d + d + ff + d + 2 * _ln(d)) + _ln(d) + _ln(d)
    return build(c, name, L=L, d=d, h=h, hkv=h, hd=hd, vocab=vocab, ff=ff, gated=False,
                 tied=c.flag("tie_word_embeddings", True),
                 maxpos=c.integer("seq_length", default=2048), extra=extra)


FALCON_RW_TYPES = ("RefinedWeb", "RefinedWebModel")


def falcon(c: Cfg, name: str):
    """FalconForCausalLM and the remote-code RWForCausalLM ("RefinedWeb", "RefinedWebModel").
    Old decoder (Falcon-7B): multi_query (default true) = one K/V head, one input_layernorm
    when parallel_attn (else two). New decoder (Falcon-40B/180B): num_kv_heads K/V heads and
    two LayerNorms (ln_attn, ln_mlp). A remote-code config with n_head_kv is the new decoder
    (transformers' convert_custom_code_checkpoint.py). Linears have biases only when `bias`.
    Tied (PretrainedConfig default)."""
    d, L, h, hd, vocab = _dims(c, ("hidden_size", "n_embed"), ("num_hidden_layers", "n_layer"),
                               ("num_attention_heads", "n_head"))
    remote = c.raw.get("model_type") in FALCON_RW_TYPES
    new = c.flag("new_decoder_architecture", remote and "n_head_kv" in c.raw)
    if new:
        hkv = c.integer("num_kv_heads", "n_head_kv", default=h)
    elif c.flag("multi_query", True):
        hkv = 1
    else:
        hkv = h
    ff = c.integer("ffn_hidden_size", default=4 * d)
    # FalconDecoderLayer: two LayerNorms (input + post-attention, or ln_attn + ln_mlp) unless
    # attention and MLP run in parallel from one input_layernorm
    n_ln = c.integer("num_ln_in_parallel_attn", default=2 if new else 1)
    lns = 2 if n_ln == 2 or not c.flag("parallel_attn", True) else 1
    bias = c.flag("bias", False)
    q_out = h * hd + 2 * hkv * hd
    extra = L * ((q_out + d + ff + d if bias else 0) + lns * _ln(d)) + _ln(d)
    return build(c, name, L=L, d=d, h=h, hkv=hkv, hd=hd, vocab=vocab, ff=ff, gated=False,
                 tied=c.flag("tie_word_embeddings", True),
                 maxpos=c.integer("max_position_embeddings", default=2048), extra=extra,
                 norms=lns)


def mpt(c: Cfg, name: str):
    """MPTForCausalLM (HF MptConfig / MosaicML remote code): Wqkv, out_proj, up_proj,
    down_proj; no_bias (default true) removes every bias, LayerNorm biases included; norm_1,
    norm_2, norm_f; ALiBi (attn_config.alibi, default true) and then no position table
    (a learned wpe of max_seq_len rows only with learned_pos_emb and neither alibi nor rope);
    MLP width expansion_ratio x d_model; tied (MptConfig tie_word_embeddings=True)."""
    d, L, h, hd, vocab = _dims(c, ("d_model", "hidden_size"), ("n_layers", "num_hidden_layers"),
                               ("n_heads", "num_attention_heads"))
    att = c.section("attn_config")
    kind = att.text("attn_type", "multihead_attention")
    hkv = {"multiquery_attention": 1,
           "grouped_query_attention": att.integer("kv_n_heads", default=1)}.get(kind, h)
    ffn = c.section("ffn_config")
    ff = ffn.integer("ffn_hidden_size", default=c.integer("expansion_ratio", default=4) * d)
    gated = ffn.text("ffn_type", "mptmlp") == "mptglu"
    bias = not c.flag("no_bias", True)
    maxpos = c.integer("max_seq_len", default=2048)
    q_out = h * hd + 2 * hkv * hd
    extra = L * 2 * _ln(d, bias) + _ln(d, bias)
    if bias:
        extra += L * (q_out + d + ff * (2 if gated else 1) + d)
    if att.flag("qk_ln", False):
        extra += L * (_ln(d, bias) + _ln(hkv * hd, bias))
    if c.flag("learned_pos_emb", True) and not att.flag("alibi", True) \
            and not att.flag("rope", False):
        extra += maxpos * d
    return build(c, name, L=L, d=d, h=h, hkv=hkv, hd=hd, vocab=vocab, ff=ff, gated=gated,
                 tied=c.flag("tie_word_embeddings", True), maxpos=maxpos, extra=extra)
