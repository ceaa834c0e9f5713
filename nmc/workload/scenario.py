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
# runtime modes (order = kernel code, nmc.engine.layout.RUNTIME_NAMES); docs/model.md
RUNTIMES = ("eager", "graphs", "fused")
# Weight-only int8/int4 GEMMs de-quantize every weight they read: ALU work per weight of each
# kernel family (docs/model.md, "Weight-only quantization"). "fused": Marlin / TensorRT-LLM /
# AWQ-class kernels that stream quantized weights at the memory roofline (Marlin: 3.87x of the
# ideal 4x over FP16 at batch 1, Frantar et al. 2024); "torch": PyTorch's weight-only kernels as
# gpt-fast runs them (tinygemm int4, int8 dequant + GEMM), 3.2 FP32-op equivalents per weight,
# from gpt-fast's A100 achieved bandwidths (bf16 1397.31, int8 1069.20, int4 862.69 GB/s): both
# int8 and int4 give 3.2 (see docs/model.md for the derivation).
DEQUANT_KERNELS = {"fused": 0.0, "torch": 3.2}


def dtype_code(name: str, what: str = "dtype") -> int:
    try:
        return DTYPES[name.lower()][0]
    except (KeyError, AttributeError):
        raise ScenarioError(f"{what}: unknown dtype {name!r}; allowed: {', '.join(DTYPES)}") from None


# largest accepted value of each integer field: far above any real scenario, low enough that
# no loop over them (a generate phase prices every one of its decode steps) runs for hours
INT_LIMITS = {"batch": 10 ** 9, "prompt": 10 ** 9, "context": 10 ** 9, "generate": 10 ** 6,
              "tp": 10 ** 6}


def _positive_int(name, v, minimum=1):
    hi = INT_LIMITS.get(name, 10 ** 12)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (
            float("inf"), float("-inf")) or v != int(v) or not minimum <= v <= hi:
        raise ScenarioError(f"{name} must be an integer from {minimum} to {hi:.0e}, got {v!r}"
                            .replace("e+0", "e").replace("e+", "e"))
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
    runtime: str = "graphs"
    dequant: str | float = "fused"      # a kernel family (DEQUANT_KERNELS) or ops per weight
    ep: int = 1                          # expert parallelism (data-parallel attention)

    def __post_init__(self):
        dq = self.dequant
        ok = dq in DEQUANT_KERNELS if isinstance(dq, str) else (
            isinstance(dq, (int, float)) and not isinstance(dq, bool) and 0 <= dq < 1e3)
        if not ok:
            raise ScenarioError(f"dequant must be one of {', '.join(DEQUANT_KERNELS)} or ALU ops "
                                f"per weight in [0, 1000), got {dq!r}")
        if self.runtime not in RUNTIMES:
            raise ScenarioError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.mapping not in MAPPINGS:
            raise ScenarioError(f"mapping must be one of {', '.join(MAPPINGS)}, got {self.mapping!r}")
        if self.phase not in PHASES:
            raise ScenarioError(f"phase must be one of {', '.join(PHASES)}, got {self.phase!r}")
        for name, lo in (("batch", 1), ("prompt", 1), ("context", 0), ("generate", 1), ("tp", 1),
                         ("ep", 1)):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name), lo))
        for name in ("weights", "activations", "kv"):
            dtype_code(getattr(self, name), name)
            object.__setattr__(self, name, getattr(self, name).lower())
        if self.activations in ("int4",):
            raise ScenarioError("activations cannot be int4; allowed: fp32, bf16, fp16, fp8, int8")

    @property
    def dequant_ops(self) -> float:
        """ALU ops per de-quantized weight of the dequant setting."""
        dq = self.dequant
        return DEQUANT_KERNELS[dq] if isinstance(dq, str) else float(dq)

    def with_(self, **kw) -> "Scenario":
        return replace(self, **kw)

    def steps(self):
        """(new tokens per sequence q, cached tokens c) for the single-pass phases."""
        if self.phase == "prefill":
            return self.prompt, 0
        if self.phase == "decode":
            return 1, self.context
        raise ScenarioError("generate is evaluated as prefill + decode steps")
