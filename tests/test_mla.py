"""Multi-head latent attention (docs/model.md, "MLA"): the absorbed form in decode, the
non-absorbed form of the checkpoint in prefill and training, and the down-projections
replicated under tensor parallelism. Dimensions of deepseek-v2-lite (config.json): 16 heads,
kv_lora_rank 512, qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128, no q_lora."""
import pytest

import nmc

H, LORA, NOPE, ROPE, DV, D = 16, 512, 128, 64, 128, 2048


def _ops(**kw):
    return {o["name"]: o for o in nmc.analyze("deepseek-v2-lite", "h100-sxm", **kw).ops}


def test_decode_attends_in_the_latent_space():
    b, c = 3, 999
    o = _ops(phase="decode", batch=b, context=c)
    pairs = c + 1                                   # one new token over c + 1 positions
    assert o["attn_score"]["flops"] == 2 * b * H * (LORA + ROPE) * pairs
    assert o["attn_context"]["flops"] == 2 * b * H * LORA * pairs
    # the shared latent cache (kv_lora + rope per token and layer) is read once
    assert o["attn_score"]["kv_read_bytes"] == b * pairs * (LORA + ROPE) * 2
    assert o["kv_up_proj"]["M"] == b                # absorbed into the new tokens' queries


def test_prefill_attends_per_head_as_the_checkpoint():
    b, p = 2, 512
    o = _ops(phase="prefill", batch=b, prompt=p)
    pairs = p * (p + 1) / 2                         # causal pairs per sequence and head
    assert o["attn_score"]["flops"] == pytest.approx(2 * b * H * (NOPE + ROPE) * pairs)
    assert o["attn_context"]["flops"] == pytest.approx(2 * b * H * DV * pairs)
    # kv_b_proj expands every token's latent into per-head keys (nope) and values
    assert (o["kv_up_proj"]["M"], o["kv_up_proj"]["N"], o["kv_up_proj"]["K"]) == \
        (b * p, H * (NOPE + DV), LORA)
    absorbed = 2 * H * ((LORA + ROPE) + LORA)
    expanded = 2 * H * ((NOPE + ROPE) + DV)
    assert absorbed / expanded == pytest.approx(3.4)     # the "about 3.4x"


def test_down_projections_are_replicated_under_tp():
    spec = nmc.load_model("deepseek-v2-lite")
    rep = LORA + ROPE                               # kv_a_proj_with_mqa (no q_lora here)
    assert spec.q_rep == rep
    for tp in (1, 2, 4):
        o = nmc.analyze("deepseek-v2-lite", "h100-sxm", phase="decode", tp=tp).ops
        qkv = next(x for x in o if x["name"] == "qkv_proj")
        assert qkv["N"] == (spec.q_out - rep) / tp + rep


def test_training_flops_use_the_expanded_form():
    """Model FLOPs of a training step: 3 x (2 x active matmul parameters per token + the
    attention core 2 x heads x (192 + 128) per causal pair and layer), forward + backward at 2x:
    the expanded form, not the absorbed 2 x heads x (576 + 512)."""
    spec = nmc.load_model("deepseek-v2-lite")
    b, seq = 8, 2048
    r = nmc.train(spec, "h100-sxm", devices=8, dp=8, global_batch=b, seq=seq).results
    pairs = seq * (seq + 1) / 2
    attn = spec.n_layers * 2 * H * ((NOPE + ROPE) + DV) * pairs * b
    expected = 3 * (2 * spec.matmul_params() * b * seq + attn)
    assert r["model_flops_per_step"] == pytest.approx(expected, rel=1e-9)
