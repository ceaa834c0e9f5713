"""ModelSpec: the dimensions of one decoder-only LLM that the operator model needs, and its
parameter counts. Built from a HuggingFace config.json by nmc/workload/model.py."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str                 # the config family it was read as: llama, mixtral, falcon, ...
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int             # 1 for multi-query attention (Falcon-7B) and for MLA
    d_qk: int                   # per-head dim of q.k (MLA: latent + rope dims, see docs/model.md)
    d_v: int                    # per-head dim of the value/context
    kv_elems: int               # KV-cache elements per token per layer (all kv heads)
    kv_shared: bool             # MLA: one latent cache shared by all heads (replicated under TP)
    q_out: int                  # output width of the fused attention-input projection (q, k, v)
    kvb_k: int                  # MLA up-projection (K, N); 0 if none
    kvb_n: int
    o_k: int                    # input width of the output projection
    d_ff: int                   # dense MLP intermediate size
    gated: bool                 # SwiGLU/GeGLU (3 matrices) vs plain up/act/down (2)
    n_experts: int
    top_k: int
    d_ff_expert: int
    shared_ff: int              # total intermediate width of the always-active shared experts
    n_moe_layers: int
    vocab: int
    tied: bool
    max_positions: int
    extra_params: int = 0       # biases, norms, learned positions, small projections (no GEMM time)
    mla_dqk: int = 0            # MLA, non-absorbed form (prefill, training): per-head q.k dim
    mla_dv: int = 0             #   (nope + rope) and value dim
    q_rep: int = 0              # columns of q_out replicated under TP (MLA's down-projections)
    d_embed: int = 0            # width of the token embedding / LM head when it is not d_model
                                # (OPT-350m's word_embed_proj_dim); 0 = d_model
    qk_norm: bool = False       # RMSNorm over head_dim on every query and key head before RoPE
                                # (Qwen3, Gemma-3): kernels of their own (ops.build_ops)
    norms: int = 2              # norm layers (d wide) per decoder layer: 2 (pre-attention, pre-
                                # MLP); 1 with attention and MLP in parallel from one norm (GPT-J,
                                # Falcon-7B); 4 with Gemma-2/3's post-norms
    source: str = ""
    warnings: tuple = ()        # how the config was read, when it needed a guess (--assume)

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
        return self.vocab * (self.d_embed or self.d_model)

    def lm_head_params(self) -> int:
        return 0 if self.tied else self.embed_params()

    def params(self, active: bool = False) -> int:
        """Total (or active per token, for MoE) parameter count, embeddings included."""
        layers = self.n_layers * self.attn_params()
        layers += self.n_dense_layers * self.dense_mlp_params()
        layers += self.n_moe_layers * self.moe_layer_params(active)
        return layers + self.embed_params() + self.lm_head_params() + self.extra_params

    def matmul_params(self) -> int:
        """Parameters that take part in a matmul for each token (active experts only), as the
        operator table prices them: everything but the embedding lookup, norms, biases and the
        other extra_params; the LM head counts (tied or not) as vocab x d_model."""
        return (self.params(active=True) - self.embed_params() - self.lm_head_params()
                - self.extra_params + self.vocab * self.d_model)

    def tp_error(self, tp: int) -> str | None:
        """Why tensor parallelism over tp devices cannot split this model's matrices evenly
        (Megatron's and vLLM's rules), or None: tp must divide the attention heads and every
        MLP width (dense, expert, shared expert); the KV heads are split (tp divides them) or
        replicated (they divide tp). A matrix split unevenly would have fractional sizes."""
        if tp <= 1:
            return None
        if self.n_heads % tp:
            return (f"tp={tp} must divide the number of attention heads ({self.n_heads}) of "
                    f"{self.name}")
        if not self.kv_shared and self.n_kv_heads % tp and tp % self.n_kv_heads:
            return (f"tp={tp} must divide the {self.n_kv_heads} KV heads of {self.name} or be a "
                    f"multiple of them (replicated KV heads)")
        widths = []
        if self.n_dense_layers > 0:
            widths.append(("MLP width (intermediate_size)", self.d_ff))
        if self.n_moe_layers > 0:
            widths.append(("expert MLP width", self.d_ff_expert))
            if self.shared_ff:
                widths.append(("shared-expert MLP width", self.shared_ff))
        for what, w in widths:
            if w % tp:
                return f"tp={tp} must divide the {what} {w} of {self.name}"
        return None

    def kv_bytes_per_token(self, kv_bytes: float) -> float:
        return self.n_layers * self.kv_elems * kv_bytes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        d["params_total"] = self.params()
        d["params_active"] = self.params(active=True)
        return d
