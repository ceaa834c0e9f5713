"""Scenario of one evaluation: phase, batch, lengths, tensor parallel degree and dtypes."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import ScenarioError

# dtype code -> (name, bytes per element). Codes are the kernel's dtype indices.
DTYPES = {"fp32": (0, 4.0), "bf16": (1, 2.0), "fp16": (2, 2.0), "fp8": (3, 1.0),
          "int8": (4, 1.0), "int4": (5, 0.5)}
PHASES = ("prefill", "decode", "generate")
# mapping policies (order = kernel code, nmc.engine.layout.MAPPING_NAMES); docs/nmc.md
MAPPINGS = ("host-only", "pim-gemv", "pim-attention", "pim-all-decode", "auto")


def dtype_code(name: str, what: str = "dtype") -> int:
    try:
        return DTYPES[name.lower()][0]
    except (KeyError, AttributeError):
        raise ScenarioError(f"{what}: unknown dtype {name!r}; allowed: {', '.join(DTYPES)}") from None


def _positive_int(name, v, minimum=1):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < minimum:
        raise ScenarioError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


@dataclass(frozen=True)
class Scenario:
    """phase: prefill (batch x prompt tokens), decode (one step, KV cache at `context`),
    generate (prompt, then `generate` new tokens).

    `context` for decode is the number of tokens already in the KV cache."""
    phase: str = "decode"
    batch: int = 1
    prompt: int = 512
    context: int = 2048
    generate: int = 128
    tp: int = 1
    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"
    mapping: str = "auto"

    def __post_init__(self):
        if self.mapping not in MAPPINGS:
            raise ScenarioError(f"mapping must be one of {', '.join(MAPPINGS)}, got {self.mapping!r}")
        if self.phase not in PHASES:
            raise ScenarioError(f"phase must be one of {', '.join(PHASES)}, got {self.phase!r}")
        for name, lo in (("batch", 1), ("prompt", 1), ("context", 0), ("generate", 1), ("tp", 1)):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name), lo))
        for name in ("weights", "activations", "kv"):
            dtype_code(getattr(self, name), name)
            object.__setattr__(self, name, getattr(self, name).lower())
        if self.activations in ("int4",):
            raise ScenarioError("activations cannot be int4; allowed: fp32, bf16, fp16, fp8, int8")

    def with_(self, **kw) -> "Scenario":
        return replace(self, **kw)

    def steps(self):
        """(new tokens per sequence q, cached tokens c) for the single-pass phases."""
        if self.phase == "prefill":
            return self.prompt, 0
        if self.phase == "decode":
            return 1, self.context
        raise ScenarioError("generate is evaluated as prefill + decode steps")
