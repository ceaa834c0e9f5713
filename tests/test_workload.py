"""Model configs -> parameter counts and operator tables, checked against hand-derived values."""
import json

import pytest

import nmc
from nmc.errors import ConfigError, ScenarioError
from nmc.paths import llm_dir

# published parameter counts (model cards / papers), in billions, and our tolerance
PUBLISHED = {
    "llama-2-7b": 6.74, "llama-2-13b": 13.02, "llama-2-70b": 68.98, "llama-3-8b": 8.03,
    "llama-3-70b": 70.55, "mistral-7b": 7.24, "mixtral-8x7b": 46.7, "qwen2-7b": 7.62,
    "qwen2-72b": 72.7, "gpt2": 0.1244, "gpt3-6.7b": 6.7, "gpt3-175b": 175.0, "llama-3.2-1b": 1.24,
    "qwen2-57b-a14b": 57.4,
    # Qwen3 model cards ("Number of Parameters: 0.6B / 8.2B / 32.8B / 30.5B / 235B"),
    # DeepSeek-V3 report ("671B total parameters"; R1 has V3's architecture)
    "qwen3-0.6b": 0.6, "qwen3-8b": 8.2, "qwen3-32b": 32.8, "qwen3-30b-a3b": 30.5,
    "qwen3-235b-a22b": 235.0, "deepseek-r1": 671.0,
}


def test_toy_param_count_by_hand(toy_llm):
    s = nmc.load_model(toy_llm)
    # per layer: qkv 64*(64+2*2*16)=8192, o 64*64=4096, mlp 3*64*128=24576, 2 norms 128
    per_layer = 8192 + 4096 + 24576 + 128
    assert s.params() == 2 * per_layer + 100 * 64 * 2 + 64
    assert s.kv_elems == 2 * 2 * 16
    assert s.matmul_params() == 2 * (8192 + 4096 + 24576) + 100 * 64


@pytest.mark.parametrize("name,billions", sorted(PUBLISHED.items()))
def test_bundled_param_counts_match_published(name, billions):
    p = nmc.load_model(name).params() / 1e9
    assert p == pytest.approx(billions, rel=0.01)


def test_qwen2_moe_sparse_layers(tmp_path):
    """Qwen2-57B-A14B: 57.4B total, 14.2B active (Qwen2 technical report, arXiv 2407.10671);
    decoder_sparse_step and mlp_only_layers pick the sparse layers as in HF Qwen2MoeDecoderLayer."""
    q = nmc.load_model("qwen2-57b-a14b")
    assert q.n_moe_layers == 28 and q.shared_ff == 20480 and q.d_ff_expert == 2560
    assert q.params(active=True) / 1e9 == pytest.approx(14.2, rel=0.01)
    cfg = json.loads((llm_dir() / "qwen2-57b-a14b.json").read_text())
    for extra, n_moe in (({"decoder_sparse_step": 2}, 14), ({"mlp_only_layers": [0, 27]}, 26),
                         ({"decoder_sparse_step": 2, "mlp_only_layers": [1, 2]}, 13)):
        p = tmp_path / "config.json"
        p.write_text(json.dumps({**cfg, **extra}))
        m = nmc.load_model(str(p))
        assert m.n_moe_layers == n_moe, extra
        assert m.params() < q.params()
    p.write_text(json.dumps({**cfg, "mlp_only_layers": "0,1"}))
    with pytest.raises(ConfigError, match="mlp_only_layers must be a list"):
        nmc.load_model(str(p))


def test_moe_active_params():
    mx = nmc.load_model("mixtral-8x7b")
    assert mx.params(active=True) / 1e9 == pytest.approx(12.9, rel=0.01)   # Mistral AI: 12.9B active
    ds = nmc.load_model("deepseek-v2-lite")
    assert ds.params() / 1e9 == pytest.approx(15.7, rel=0.01)               # DeepSeek-V2 paper
    # 2.4B active excluding the 0.21B embedding and 0.21B LM head matrices of 102400 x 2048
    assert (ds.params(active=True) - ds.embed_params()) / 1e9 == pytest.approx(2.45, rel=0.03)


def _gemm_flops(report):
    return sum(o["flops"] * o["count"] for o in report.ops if o["kind"] in ("gemm", "lm_head"))


@pytest.mark.parametrize("name", ["llama-2-7b", "llama-3-8b", "gpt2", "mixtral-8x7b",
                                  "deepseek-v2-lite", "qwen2-7b"])
@pytest.mark.parametrize("batch", [1, 7])
def test_decode_matmul_flops_are_two_per_param_per_token(name, batch, toy_arch):
    r = nmc.analyze(name, toy_arch, phase="decode", batch=batch, context=100)
    spec = nmc.load_model(name)
    assert _gemm_flops(r) == pytest.approx(2 * spec.matmul_params() * batch, rel=1e-12)


def test_decode_attention_flops_and_kv_bytes_by_hand(toy_llm, toy_arch):
    r = nmc.analyze(toy_llm, toy_arch, phase="decode", batch=3, context=10)
    ops = {o["name"]: o for o in r.ops}
    # each of 3 sequences: 4 heads x 16 dims x (10 cached + 1 new) keys, 2 FLOP per MAC
    assert ops["attn_score"]["flops"] == 2 * 3 * 4 * 16 * 11
    assert ops["attn_context"]["flops"] == 2 * 3 * 4 * 16 * 11
    # keys: 3 seqs x 11 positions x 2 kv heads x 16 x 2 bytes; values likewise
    assert ops["attn_score"]["kv_read_bytes"] == 3 * 11 * 2 * 16 * 2
    assert ops["attn_context"]["kv_read_bytes"] == 3 * 11 * 2 * 16 * 2
    assert ops["attn_score"]["kv_write_bytes"] == 3 * 1 * 64 * 2
    # cache footprint: 3 seqs x 11 tokens x 2 layers x 64 elems x 2 B
    assert r.results["kv_bytes"] == 3 * 11 * 2 * 64 * 2


def test_prefill_attention_is_causal(toy_llm, toy_arch):
    r = nmc.analyze(toy_llm, toy_arch, phase="prefill", batch=1, prompt=8)
    score = next(o for o in r.ops if o["name"] == "attn_score")
    assert score["flops"] == 2 * 4 * 16 * (8 * 9 / 2)


def test_weight_bytes_follow_dtype(toy_arch):
    spec = nmc.load_model("llama-2-7b")
    for dt, nbytes in (("bf16", 2), ("int8", 1), ("int4", 0.5), ("fp32", 4)):
        r = nmc.analyze("llama-2-7b", toy_arch, batch=1, context=0, weights=dt)
        assert r.results["weight_bytes"] == pytest.approx(spec.params() * nbytes)
        streamed = sum(o["weight_bytes"] * o["count"] for o in r.ops
                       if o["kind"] in ("gemm", "lm_head"))
        assert streamed == pytest.approx(spec.matmul_params() * nbytes, rel=1e-12)


def test_tp_splits_weights_and_adds_allreduce(toy_arch):
    r1 = nmc.analyze("llama-2-7b", toy_arch, batch=1)
    r4 = nmc.analyze("llama-2-7b", toy_arch, batch=1, tp=4)
    assert r4.results["weight_bytes"] == pytest.approx(r1.results["weight_bytes"] / 4)
    ar = next(o for o in r4.ops if o["name"] == "tp_allreduce")
    assert ar["count"] == 2 * 32
    assert ar["comm_bytes"] == 4096 * 2
    assert "tp_allreduce" not in {o["name"] for o in r1.ops}


def test_moe_expected_distinct_experts(toy_arch):
    # one token picks exactly top_k = 2 experts of 8; weight traffic = 2 experts
    r = nmc.analyze("mixtral-8x7b", toy_arch, batch=1)
    up = next(o for o in r.ops if o["name"] == "expert_up")
    assert up["groups"] == pytest.approx(2.0)
    # many tokens touch (nearly) all experts: 8 * (1 - (6/8)^64)
    r = nmc.analyze("mixtral-8x7b", toy_arch, batch=64)
    up = next(o for o in r.ops if o["name"] == "expert_up")
    assert up["groups"] == pytest.approx(8 * (1 - 0.75 ** 64))


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        nmc.load_model("no-such-model")
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        nmc.load_model(bad)
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    with pytest.raises(ConfigError, match="missing key 'num_hidden_layers'"):
        nmc.load_model(bad)
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                               "num_attention_heads": 4, "num_key_value_heads": 3,
                               "vocab_size": 10}))
    with pytest.raises(ConfigError, match="multiple of"):
        nmc.load_model(bad)
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": -5}))
    with pytest.raises(ConfigError, match="hidden_size"):
        nmc.load_model(bad)


def test_hf_config_directory_and_roundtrip(tmp_path):
    src = nmc.load_model("llama-3-8b")
    d = tmp_path / "my-llama"
    d.mkdir()
    from nmc.paths import llm_dir
    (d / "config.json").write_text((llm_dir() / "llama-3-8b.json").read_text())
    spec = nmc.load_model(d)
    assert spec.name == "my-llama"
    assert spec.params() == src.params()
    assert nmc.load_model(d / "config.json").to_dict()["params_total"] == src.params()


@pytest.mark.parametrize("kw,msg", [
    (dict(batch=0), "batch"), (dict(phase="train"), "phase"), (dict(weights="int3"), "dtype"),
    (dict(tp=3), "divide"), (dict(context=-1), "context"), (dict(activations="int4"), "activations"),
])
def test_scenario_errors(kw, msg, toy_arch):
    with pytest.raises(ScenarioError, match=msg):
        nmc.analyze("llama-2-7b", toy_arch, **kw)
