"""HuggingFace config.json -> ModelSpec: the dimensions the operator model needs.

Supported: Llama 2/3, Mistral, Qwen2 (and other Llama-like configs), Mixtral and Qwen2-MoE
(experts, top-k, shared experts), DeepSeek-V2/V3 (MoE with shared experts, dense first layers,
multi-head latent attention), GPT-2 style (n_embd/n_layer/n_head keys, learned positions,
plain GELU MLP, biases, tied embeddings)."""
from __future__ import annotations

import json
from dataclasses import dataclass, asdict
from pathlib import Path

from ..errors import ConfigError
from ..paths import llm_dir


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str                 # llama | gpt2 | moe | mla-moe ...
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_qk: int                   # per-head dim of q.k (MLA: latent + rope dims, see docs/model.md)
    d_v: int                    # per-head dim of the value/context
    kv_elems: int               # KV-cache elements per token per layer (all kv heads)
    kv_shared: bool             # MLA: one latent cache shared by all heads (replicated under TP)
    q_out: int                  # output width of the fused attention-input projection (q, k, v)
    kvb_k: int                  # MLA up-projection (K, N); 0 if none
    kvb_n: int
    o_k: int                    # input width of the output projection
    d_ff: int                   # dense MLP intermediate size
    gated: bool                 # SwiGLU-style (3 matrices) vs plain (2)
    n_experts: int
    top_k: int
    d_ff_expert: int
    shared_ff: int              # total intermediate width of the always-active shared experts
    n_moe_layers: int
    vocab: int
    tied: bool
    max_positions: int
    extra_params: int = 0       # biases, norms and learned positions (counted, no GEMM time)
    source: str = ""

    @property
    def n_dense_layers(self) -> int:
        return self.n_layers - self.n_moe_layers

    # --- parameter counts -------------------------------------------------------------------
    def attn_params(self) -> int:
        return self.d_model * self.q_out + self.kvb_k * self.kvb_n + self.o_k * self.d_model

    def dense_mlp_params(self) -> int:
        return (3 if self.gated else 2) * self.d_model * self.d_ff

    def expert_params(self) -> int:
        return (3 if self.gated else 2) * self.d_model * self.d_ff_expert

    def moe_layer_params(self, active: bool) -> int:
        e = self.top_k if active else self.n_experts
        return (self.d_model * self.n_experts + e * self.expert_params()
                + (3 if self.gated else 2) * self.d_model * self.shared_ff)

    def embed_params(self) -> int:
        return self.vocab * self.d_model

    def lm_head_params(self) -> int:
        return 0 if self.tied else self.vocab * self.d_model

    def params(self, active: bool = False) -> int:
        """Total (or active per token, for MoE) parameter count, embeddings included."""
        layers = self.n_layers * self.attn_params()
        layers += self.n_dense_layers * self.dense_mlp_params()
        layers += self.n_moe_layers * self.moe_layer_params(active)
        return layers + self.embed_params() + self.lm_head_params() + self.extra_params

    def matmul_params(self) -> int:
        """Parameters that take part in a matmul for each token (active experts only):
        everything but the embedding lookup, norms and biases; the LM head counts (tied or not)."""
        return (self.params(active=True) - self.embed_params() - self.lm_head_params()
                - self.extra_params + self.vocab * self.d_model)

    def kv_bytes_per_token(self, kv_bytes: float) -> float:
        return self.n_layers * self.kv_elems * kv_bytes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params_total"] = self.params()
        d["params_active"] = self.params(active=True)
        return d


def _get(cfg: dict, where: str, *keys, default=None, required=True):
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    if required and default is None:
        raise ConfigError(f"{where}: missing key {keys[0]!r}")
    return default


def _int(cfg, where, *keys, default=None, required=True, minimum=1):
    v = _get(cfg, where, *keys, default=default, required=required)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v < minimum:
        raise ConfigError(f"{where}: key {keys[0]!r} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def from_config(cfg: dict, name: str = "model", where: str = "config") -> ModelSpec:
    """Build a ModelSpec from a parsed HuggingFace config dict."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    mt = str(cfg.get("model_type", "")).lower()
    if mt in ("gpt2",) or "n_embd" in cfg:
        return _gpt2(cfg, name, where)
    d = _int(cfg, where, "hidden_size")
    L = _int(cfg, where, "num_hidden_layers")
    h = _int(cfg, where, "num_attention_heads")
    hkv = _int(cfg, where, "num_key_value_heads", default=h)
    if h % hkv:
        raise ConfigError(f"{where}: num_attention_heads ({h}) must be a multiple of "
                          f"num_key_value_heads ({hkv})")
    vocab = _int(cfg, where, "vocab_size")
    ff = _int(cfg, where, "intermediate_size", default=4 * d)
    tied = bool(cfg.get("tie_word_embeddings", False))
    maxpos = _int(cfg, where, "max_position_embeddings", default=4096)
    hd = _int(cfg, where, "head_dim", default=d // h)
    act = str(cfg.get("hidden_act", "silu")).lower()
    gated = act in ("silu", "swish", "swiglu", "gelu_pytorch_tanh") or mt in (
        "llama", "mistral", "qwen2", "mixtral", "qwen2_moe", "deepseek_v2", "deepseek_v3", "gemma")
    extra = L * 2 * d + d  # two RMSNorms per layer + final norm
    if cfg.get("attention_bias") or mt in ("qwen2", "qwen2_moe"):
        extra += L * (h * hd + 2 * hkv * hd)  # q, k, v biases

    # attention
    kvb_k = kvb_n = 0
    kv_shared = False
    kv_lora = cfg.get("kv_lora_rank")
    if kv_lora:
        kv_lora = _int(cfg, where, "kv_lora_rank")
        rope = _int(cfg, where, "qk_rope_head_dim")
        nope = _int(cfg, where, "qk_nope_head_dim")
        dv = _int(cfg, where, "v_head_dim")
        q_lora = cfg.get("q_lora_rank")
        if q_lora:
            # q: d -> q_lora -> h*(nope+rope); folded into q_out as its two matrices' widths
            q_w = int(q_lora) + 0
            q_params = d * int(q_lora) + int(q_lora) * h * (nope + rope)
            extra += L * int(q_lora)
        else:
            q_w = h * (nope + rope)
            q_params = d * q_w
        # fused input projection: q (or q down), kv down (latent + rope key)
        q_out = (q_params // d) + kv_lora + rope
        kvb_k, kvb_n = kv_lora, h * (nope + dv)
        o_k = h * dv
        d_qk, d_v = kv_lora + rope, kv_lora     # attention in latent space (weights absorbed)
        kv_elems, hkv, kv_shared = kv_lora + rope, 1, True
        extra += L * kv_lora
    else:
        q_out = h * hd + 2 * hkv * hd
        o_k = h * hd
        d_qk = d_v = hd
        kv_elems = 2 * hkv * hd

    # mixture of experts
    E = int(cfg.get("num_local_experts") or cfg.get("n_routed_experts") or cfg.get("num_experts") or 0)
    top_k = int(cfg.get("num_experts_per_tok") or 0)
    ffe = shared = n_moe = 0
    family = "llama"
    if E > 1:
        if top_k < 1 or top_k > E:
            raise ConfigError(f"{where}: num_experts_per_tok must be in 1..{E}, got {top_k}")
        ffe = int(cfg.get("moe_intermediate_size") or ff)
        if "n_shared_experts" in cfg and cfg["n_shared_experts"]:
            shared = int(cfg["n_shared_experts"]) * ffe
        elif cfg.get("shared_expert_intermediate_size"):
            shared = int(cfg["shared_expert_intermediate_size"])
        # which layers are sparse: DeepSeek (first_k_dense_replace, moe_layer_freq), Qwen2-MoE
        # (layer i is sparse when (i+1) % decoder_sparse_step == 0 and i not in mlp_only_layers)
        first_dense = int(cfg.get("first_k_dense_replace") or 0)
        freq = int(cfg.get("moe_layer_freq") or 1)
        step = int(cfg.get("decoder_sparse_step") or 1)
        mlp_only = cfg.get("mlp_only_layers") or []
        if not isinstance(mlp_only, list) or not all(isinstance(i, int) for i in mlp_only):
            raise ConfigError(f"{where}: mlp_only_layers must be a list of layer indices")
        mlp_only = set(mlp_only)
        n_moe = sum(1 for i in range(L) if i >= first_dense and i % freq == 0
                    and (i + 1) % step == 0 and i not in mlp_only)
        family = "moe"
    else:
        E = top_k = 0
    if kv_lora:
        family = "mla-" + family
    return ModelSpec(name=name, family=family, n_layers=L, d_model=d, n_heads=h, n_kv_heads=hkv,
                     d_qk=d_qk, d_v=d_v, kv_elems=kv_elems, kv_shared=kv_shared, q_out=q_out,
                     kvb_k=kvb_k, kvb_n=kvb_n, o_k=o_k, d_ff=ff, gated=gated, n_experts=E,
                     top_k=top_k, d_ff_expert=ffe, shared_ff=shared, n_moe_layers=n_moe,
                     vocab=vocab, tied=tied, max_positions=maxpos, extra_params=extra,
                     source=where)


def _gpt2(cfg, name, where) -> ModelSpec:
    d = _int(cfg, where, "n_embd", "hidden_size")
    L = _int(cfg, where, "n_layer", "num_hidden_layers")
    h = _int(cfg, where, "n_head", "num_attention_heads")
    vocab = _int(cfg, where, "vocab_size")
    npos = _int(cfg, where, "n_positions", "max_position_embeddings", default=1024)
    ff = _int(cfg, where, "n_inner", default=4 * d)
    hd = d // h
    # biases: qkv 3d, o d, fc ff, proj d; layernorms 2 x 2d per layer + final 2d; learned positions
    extra = L * (3 * d + d + ff + d + 4 * d) + 2 * d + npos * d
    tied = bool(cfg.get("tie_word_embeddings", True))
    return ModelSpec(name=name, family="gpt2", n_layers=L, d_model=d, n_heads=h, n_kv_heads=h,
                     d_qk=hd, d_v=hd, kv_elems=2 * d, kv_shared=False, q_out=3 * d, kvb_k=0,
                     kvb_n=0, o_k=d, d_ff=ff, gated=False, n_experts=0, top_k=0, d_ff_expert=0,
                     shared_ff=0, n_moe_layers=0, vocab=vocab, tied=tied, max_positions=npos,
                     extra_params=extra, source=where)


def list_models() -> list[str]:
    return sorted(p.stem for p in llm_dir().glob("*.json"))


def load_model(name_or_path) -> ModelSpec:
    """A bundled model name (see `nmc list models`) or the path of a HuggingFace config.json."""
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    s = str(name_or_path)
    p = Path(s)
    if not (p.suffix == ".json" or p.exists()):
        p = llm_dir() / f"{s}.json"
        if not p.exists():
            raise ConfigError(f"unknown model {s!r}: not a file and not a bundled model "
                              f"(bundled: {', '.join(list_models())})")
        name = s
    else:
        if p.is_dir():
            p = p / "config.json"
        if not p.exists():
            raise ConfigError(f"{s}: file not found")
        name = p.stem if p.name != "config.json" else p.parent.name
    try:
        cfg = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not valid JSON (not UTF-8 text)") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror})") from None
    return from_config(cfg, name=name, where=str(p))
