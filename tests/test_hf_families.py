"""HuggingFace config.json by family (issue 17): every family against its published parameter
count (within 1 %) from a real config.json, and the family rules a total alone does not show
(multi-query KV cache, plain MLPs, tied embeddings, position tables), unknown model_type,
--assume and missing keys. Configs: tests/data/hf (provenance and the published counts with
their sources in tests/data/hf/SOURCES.md) and the bundled models/llm (models/llm/SOURCES.md)."""
import json
from pathlib import Path

import pytest

import nmc
from nmc.cli import main
from nmc.errors import ConfigError
from nmc.workload.families import SUPPORTED
from nmc.workload.model import from_config

HF = Path(__file__).parent / "data" / "hf"

# config (file in tests/data/hf, or a bundled model name), family it must be read as, published
# parameter count. Sources: tests/data/hf/SOURCES.md ("Published counts"); the bundled ones are
# tests/test_workload.py PUBLISHED (model cards / papers).
CASES = [
    ("llama-2-7b", "llama", 6.74e9),
    ("mistral-7b", "mistral", 7.24e9),
    ("qwen2-7b", "qwen2", 7.62e9),
    ("qwen3-8b.json", "qwen3", 8_190_735_360),
    ("mixtral-8x7b", "mixtral", 46.7e9),
    ("qwen1.5-moe-a2.7b-chat-gptq-int4.json", "qwen2_moe", 14_315_784_192),
    ("qwen3-30b-a3b.json", "qwen3_moe", 30_532_122_624),
    ("deepseek-v2-lite", "deepseek_v2", 15.7e9),
    ("deepseek-v3.json", "deepseek_v3", 671e9),
    ("gemma-7b.json", "gemma", 8_537_680_896),
    ("gemma-2-2b.json", "gemma2", 2_614_341_888),
    ("gemma-2-9b.json", "gemma2", 9_241_705_984),
    ("gemma-3-1b-it.json", "gemma3_text", 999_885_952),
    ("phi-3-mini-4k-instruct.json", "phi3", 3_821_079_552),
    ("opt-1.3b.json", "opt", 1_315_753_984),
    ("opt-6.7b.json", "opt", 6.7e9),
    ("bloom-560m.json", "bloom", 559_214_592),
    ("mpt-7b-instruct.json", "mpt", 6_649_286_656),
    ("gpt2-xl.json", "gpt2", 1_557_611_200),
    ("gpt-j-6b.json", "gptj", 6_053_381_344),
    ("pythia-6.9b-deduped.json", "gpt_neox", 6_857_302_016),
    ("pythia-12b-deduped.json", "gpt_neox", 11_846_072_320),
]
# Falcon checkpoints store the LM head as a second copy of the tied word embedding (vLLM PR
# #3590: "the [Falcon-7B] checkpoint has duplicated weights for word embeddings and LM head"):
# the published tensor totals count it, the model in memory does not.
FALCON_STORED = {"falcon-7b.json": 7_217_189_760, "falcon-40b.json": 41_835_970_560}


def load(cfg, **kw):
    return nmc.load_model(HF / cfg if cfg.endswith(".json") else cfg, **kw)


def test_every_family_is_covered():
    assert {fam for _, fam, _ in CASES} | {"falcon"} == set(SUPPORTED)


@pytest.mark.parametrize("cfg,family,published", CASES)
def test_param_count_matches_published(cfg, family, published):
    s = load(cfg)
    assert s.family == family
    assert s.params() == pytest.approx(published, rel=0.01)


@pytest.mark.parametrize("cfg", sorted(FALCON_STORED))
def test_falcon_count_is_the_checkpoint_less_its_lm_head_copy(cfg):
    s = load(cfg)
    assert s.family == "falcon" and s.tied
    assert s.params() + s.vocab * s.d_model == FALCON_STORED[cfg]


def test_exact_counts_where_the_source_counts_every_tensor():
    """keras-hub presets count the same tensors as transformers (tied heads once): exact."""
    for cfg, _, published in CASES:
        if isinstance(published, int) and cfg not in ("opt-1.3b.json", "gpt-j-6b.json"):
            assert load(cfg).params() == published, cfg
    # OPT: keras-hub's position table has max_position_embeddings rows, HF's 2 more (offset 2)
    assert load("opt-1.3b.json").params() == 1_315_753_984 + 2 * 2048


def test_falcon_7b_multi_query_kv_cache(toy_arch):
    s = load("falcon-7b.json")
    assert (s.n_heads, s.n_kv_heads, s.d_qk) == (71, 1, 64)
    assert s.kv_elems == 2 * 1 * 64                    # K and V of one head per layer and token
    assert s.kv_bytes_per_token(2.0) == 2 * 32 * 1 * 64 * 2
    # read as Llama (multi_query ignored) it had 71 K/V heads: a 71x larger cache
    assert s.kv_elems * 71 == 2 * 71 * 64
    r = nmc.analyze(s, toy_arch, phase="decode", batch=4, context=1000, kv="bf16")
    assert r.results["kv_bytes"] == 4 * 1001 * 32 * 128 * 2
    # the weight footprint holds every parameter, LayerNorms included (bf16: 2 B each)
    assert r.results["weight_bytes"] == 2 * 6_921_720_704


def test_extra_params_reach_the_weight_footprint(toy_arch):
    """Biases, norms and learned positions (GPT-2 XL: wpe 1024 x 1600) are weights in memory
    but no GEMM: weight_bytes counts them, the streamed GEMM weights do not."""
    s = load("gpt2-xl.json")
    r = nmc.analyze(s, toy_arch, phase="decode", batch=1, context=100, weights="int8")
    assert r.results["weight_bytes"] == s.params() == 1_557_611_200
    streamed = sum(o["weight_bytes"] * o["count"] for o in r.ops if o["kind"] in ("gemm", "lm_head"))
    assert streamed == s.matmul_params() == s.params() - s.extra_params
    assert s.extra_params >= 1024 * 1600


def test_falcon_new_decoder_and_remote_code_names():
    s = load("falcon-40b.json")                        # model_type "RefinedWeb", n_head_kv 8
    assert (s.n_kv_heads, s.kv_elems) == (8, 2 * 8 * 64)
    assert s.q_out == (128 + 2 * 8) * 64
    # the same checkpoint after transformers' convert_custom_code_checkpoint.py
    raw = json.loads((HF / "falcon-40b.json").read_text())
    conv = {k: v for k, v in raw.items() if k != "auto_map"}
    conv.update(model_type="falcon", num_attention_heads=conv.pop("n_head"),
                num_hidden_layers=conv.pop("n_layer"), num_kv_heads=conv.pop("n_head_kv"),
                new_decoder_architecture=True)
    c = from_config(conv, name="falcon-40b")
    assert (c.params(), c.kv_elems) == (s.params(), s.kv_elems)
    # one LayerNorm (weight + bias) per layer fewer with num_ln_in_parallel_attn = 1
    one = from_config({**conv, "num_ln_in_parallel_attn": 1})
    assert s.params() - one.params() == 60 * 2 * 8192


def test_opt_plain_relu_mlp_and_position_offset():
    s = load("opt-6.7b.json")
    assert not s.gated
    assert s.dense_mlp_params() == 2 * 4096 * 16384
    raw = json.loads((HF / "opt-6.7b.json").read_text())
    longer = from_config({**raw, "max_position_embeddings": 4096})
    assert longer.params() - s.params() == 2048 * 4096     # the learned position table


def test_opt_word_embed_proj_dim():
    """OPT-350m-style project_in / project_out (derived by hand, no real config at hand):
    word_embed_proj_dim 512 makes the embedding and tied head vocab x 512 and adds two
    512 x 2048 projections; the LM head GEMM is still priced at vocab x hidden."""
    raw = json.loads((HF / "opt-1.3b.json").read_text())
    s = load("opt-1.3b.json")
    p = from_config({**raw, "word_embed_proj_dim": 512})
    assert p.params() - s.params() == 50272 * (512 - 2048) + 2 * 2048 * 512
    assert p.embed_params() == 50272 * 512 and p.matmul_params() == s.matmul_params()


def test_gemma_ties_embeddings_by_default():
    s = load("gemma-7b.json")
    raw = json.loads((HF / "gemma-7b.json").read_text())
    assert "tie_word_embeddings" not in raw and s.tied
    untied = from_config({**raw, "tie_word_embeddings": False})
    assert untied.params() - s.params() == 256000 * 3072
    assert untied.params() / 1e9 == pytest.approx(9.32, abs=0.005)   # the old Llama-path count


def test_mpt_alibi_means_no_position_table_and_no_bias():
    raw = json.loads((HF / "mpt-7b-instruct.json").read_text())
    s = load("mpt-7b-instruct.json")
    learned = from_config({**raw, "attn_config": {"alibi": False}})
    assert learned.params() - s.params() == 2048 * 4096
    biased = from_config({**raw, "no_bias": False})
    # Wqkv 3d, out_proj d, up 4d, down d per layer; LayerNorm biases (2 per layer + norm_f)
    d = 4096
    assert biased.params() - s.params() == 32 * (3 * d + d + 4 * d + d + 2 * d) + d


def test_moe_active_counts_match_model_cards():
    assert load("qwen3-30b-a3b.json").params(active=True) / 1e9 == pytest.approx(3.3, rel=0.02)
    assert load("qwen1.5-moe-a2.7b-chat-gptq-int4.json").params(active=True) / 1e9 == \
        pytest.approx(2.7, rel=0.01)
    assert load("deepseek-v3.json").params(active=True) / 1e9 == pytest.approx(37, rel=0.02)


def _write(tmp_path, cfg, name="config.json"):
    p = tmp_path / name
    p.write_text(json.dumps(cfg))
    return p


LLAMA_LIKE = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100}


def test_unknown_model_type_is_refused_with_the_supported_list(tmp_path):
    p = _write(tmp_path, {"model_type": "jamba", **LLAMA_LIKE})
    with pytest.raises(ConfigError) as e:
        nmc.load_model(p)
    msg = str(e.value)
    assert str(p) in msg and "'jamba' is not a supported family" in msg
    assert "falcon" in msg and "gpt_neox" in msg and "--assume" in msg
    p = _write(tmp_path, dict(LLAMA_LIKE))
    with pytest.raises(ConfigError, match="has no model_type"):
        nmc.load_model(p)


def test_assume_reads_with_a_family_and_warns(tmp_path, toy_arch, toy_llm):
    p = _write(tmp_path, {"model_type": "jamba", **LLAMA_LIKE})
    s = nmc.load_model(p, assume="llama")
    ref = nmc.load_model(toy_llm)                       # the same dims as a llama config
    assert s.family == "llama" and s.params() == ref.params()
    assert len(s.warnings) == 1 and "--assume llama" in s.warnings[0] and "jamba" in s.warnings[0]
    assert nmc.load_model(toy_llm, assume="falcon").warnings == ()   # known model_type: unused
    r = nmc.analyze(s, toy_arch)
    assert r.warnings[0] == s.warnings[0] and r.to_dict()["warnings"][0] == s.warnings[0]
    with pytest.raises(ConfigError, match="not a supported family"):
        nmc.load_model(p, assume="llama2")


def test_cli_assume(capsys, tmp_path, toy_arch):
    p = str(_write(tmp_path, {"model_type": "jamba", **LLAMA_LIKE}))
    assert main(["analyze", "--model", p, "--arch", toy_arch, "--assume", "llama"]) == 0
    out = capsys.readouterr()
    assert "warning: " in out.out and "--assume llama" in out.out
    assert main(["compare", "--model", p, "--arch", toy_arch, "--assume", "llama"]) == 0
    assert "nmc: warning:" in capsys.readouterr().err
    assert main(["analyze", "--model", p, "--arch", toy_arch]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'jamba' is not a supported family" in err
    assert main(["analyze", "--model", p, "--arch", toy_arch, "--assume", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--assume 'nope'" in err and "bloom" in err


def test_missing_key_names_file_key_and_family(tmp_path):
    raw = json.loads((HF / "bloom-560m.json").read_text())
    del raw["n_layer"]
    p = _write(tmp_path, raw, "bloom.json")
    with pytest.raises(ConfigError) as e:
        nmc.load_model(p)
    assert str(e.value) == (f"{p}: missing key 'n_layer' (required by the bloom family; "
                            f"also accepted: 'num_hidden_layers')")
    raw = json.loads((HF / "qwen3-8b.json").read_text())
    del raw["head_dim"]                                 # transformers' default 128 is Qwen3-8B's
    with pytest.raises(ConfigError, match="missing key 'head_dim' .required by the qwen3 family"):
        nmc.load_model(_write(tmp_path, raw))


@pytest.mark.parametrize("key,value,msg", [
    ("n_layer", 2.5, "'n_layer' must be an integer"), ("n_layer", "24", "must be an integer"),
    ("n_layer", True, "must be an integer"), ("bias", "yes", "'bias' must be true or false"),
    ("n_head_kv", 3, "multiple of the number of key/value heads"),
])
def test_bad_values_are_config_errors(tmp_path, key, value, msg):
    raw = json.loads((HF / "falcon-40b.json").read_text())
    with pytest.raises(ConfigError, match=msg):
        nmc.load_model(_write(tmp_path, {**raw, key: value}))
