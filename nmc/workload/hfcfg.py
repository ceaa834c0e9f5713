"""Reading one HuggingFace config.json for one family: required keys (a ConfigError naming the
file, the key and the family), transformers' defaults for the others, and the assembly of a
ModelSpec from the per-layer counts a family loader works out (nmc/workload/fam_*.py)."""
from __future__ import annotations

import math

from ..errors import ConfigError
from .spec import ModelSpec

_ABSENT = object()


class Cfg:
    """A parsed config.json seen through one family's rules. A key given as null counts as
    omitted (transformers then applies its default), except through nullable()."""

    def __init__(self, raw: dict, where: str, family: str):
        self.raw, self.where, self.family = raw, where, family

    def _find(self, keys):
        for k in keys:
            v = self.raw.get(k)
            if v is not None:
                return k, v
        return keys[0], None

    def _missing(self, keys) -> ConfigError:
        alt = f"; also accepted: {', '.join(repr(k) for k in keys[1:])}" if len(keys) > 1 else ""
        return ConfigError(f"{self.where}: missing key {keys[0]!r} (required by the "
                           f"{self.family} family{alt})")

    def integer(self, *keys, default=_ABSENT, minimum: int = 1):
        """An integer-valued number >= minimum; `default` (may be None) when omitted, else the
        key is required."""
        k, v = self._find(keys)
        if v is None:
            if default is _ABSENT:
                raise self._missing(keys)
            return default
        return self._check_int(k, v, minimum)

    def nullable_int(self, key: str, minimum: int = 1):
        """A key that must be present but may be null (e.g. DeepSeek's q_lora_rank)."""
        if key not in self.raw:
            raise self._missing((key,))
        v = self.raw[key]
        return None if v is None else self._check_int(key, v, minimum)

    def _check_int(self, k, v, minimum):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or int(v) != v or v < minimum:
            raise ConfigError(f"{self.where}: key {k!r} must be an integer >= {minimum}, "
                              f"got {v!r}")
        return int(v)

    def flag(self, key: str, default: bool) -> bool:
        v = self.raw.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise ConfigError(f"{self.where}: key {key!r} must be true or false, got {v!r}")
        return v

    def text(self, key: str, default: str) -> str:
        v = self.raw.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise ConfigError(f"{self.where}: key {key!r} must be a string, got {v!r}")
        return v

    def section(self, key: str) -> Cfg:
        """A nested object (MPT's attn_config, ffn_config); {} when omitted."""
        v = self.raw.get(key)
        if v is None:
            v = {}
        if not isinstance(v, dict):
            raise ConfigError(f"{self.where}: key {key!r} must be an object, got {v!r}")
        return Cfg(v, f"{self.where} [{key}]", self.family)

    def int_list(self, key: str) -> list[int]:
        v = self.raw.get(key)
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                              for i in v):
            raise ConfigError(f"{self.where}: {key} must be a list of layer indices, got {v!r}")
        return v


def heads_divide(c: Cfg, h: int, hkv: int) -> None:
    if h % hkv:
        raise ConfigError(f"{c.where}: the number of attention heads ({h}) must be a multiple "
                          f"of the number of key/value heads ({hkv})")


def head_dim_of(c: Cfg, d: int, h: int) -> int:
    """hidden_size / heads, for families without a head_dim key."""
    if d % h:
        raise ConfigError(f"{c.where}: hidden size ({d}) must be a multiple of the number of "
                          f"attention heads ({h})")
    return d // h


def build(c: Cfg, name: str, *, L: int, d: int, h: int, hkv: int, hd: int, vocab: int, ff: int,
          gated: bool, tied: bool, maxpos: int, extra: int, q_out: int | None = None,
          o_k: int | None = None, d_embed: int = 0, moe: dict | None = None,
          mla: dict | None = None, qk_norm: bool = False, norms: int = 2) -> ModelSpec:
    """Assemble the spec. Attention is q/k/v/o of h query heads and hkv key/value heads of hd
    (q_out = h*hd + 2*hkv*hd unless given, e.g. for MLA); moe = dict(E, top_k, ffe, shared,
    n_moe); mla = dict(d_qk, d_v, kv_elems, kvb_k, kvb_n) replaces the per-head KV cache."""
    heads_divide(c, h, hkv)
    moe = moe or {}
    E = moe.get("E", 0)
    if E > 1 and not 1 <= moe["top_k"] <= E:
        raise ConfigError(f"{c.where}: num_experts_per_tok must be in 1..{E}, got {moe['top_k']}")
    if mla:
        att = {"d_qk": mla["d_qk"], "d_v": mla["d_v"], "kv_elems": mla["kv_elems"],
               "kv_shared": True, "kvb_k": mla["kvb_k"], "kvb_n": mla["kvb_n"],
               "mla_dqk": mla["mla_dqk"], "mla_dv": mla["mla_dv"], "q_rep": mla["q_rep"]}
        hkv = 1
    else:
        att = {"d_qk": hd, "d_v": hd, "kv_elems": 2 * hkv * hd, "kv_shared": False,
               "kvb_k": 0, "kvb_n": 0}
    if E <= 1:
        moe = {}
    return ModelSpec(
        name=name, family=c.family, n_layers=L, d_model=d, n_heads=h, n_kv_heads=hkv,
        q_out=h * hd + 2 * hkv * hd if q_out is None else q_out,
        o_k=h * hd if o_k is None else o_k, d_ff=ff, gated=gated,
        n_experts=moe.get("E", 0), top_k=moe.get("top_k", 0), d_ff_expert=moe.get("ffe", 0),
        shared_ff=moe.get("shared", 0), n_moe_layers=moe.get("n_moe", 0), vocab=vocab,
        tied=tied, max_positions=maxpos, extra_params=extra, d_embed=d_embed, source=c.where,
        qk_norm=bool(qk_norm and not mla), norms=norms, **att)
