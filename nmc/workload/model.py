"""HuggingFace config.json -> ModelSpec: the dimensions the operator model needs.

Each supported model_type is read by its family's rules (nmc/workload/families.py: Llama,
Mistral, Qwen2/3, Mixtral, Qwen2/3-MoE, DeepSeek-V2/V3, Gemma 1/2/3, Phi-3, Falcon, OPT, BLOOM,
MPT, GPT-2, GPT-J, GPT-NeoX): its own keys, transformers' defaults for omitted ones, its biases,
norms and position tables. An unknown model_type is an error unless the caller names a family
to assume (then the spec carries a warning). Keys and defaults: docs/model.md, "Workload:
configs by family"."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..paths import llm_dir
from .families import read
from .spec import ModelSpec


def from_config(cfg: dict, name: str = "model", where: str = "config",
                assume: str | None = None) -> ModelSpec:
    """Build a ModelSpec from a parsed HuggingFace config dict. `assume`: a family whose rules
    read a config with a missing or unknown model_type (the spec then carries a warning)."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    return read(cfg, name, where, assume)


def list_models() -> list[str]:
    return sorted(p.stem for p in llm_dir().glob("*.json"))


def load_model(name_or_path, assume: str | None = None) -> ModelSpec:
    """A bundled model name (see `nmc list models`) or the path of a HuggingFace config.json
    (or of its folder). `assume`: a family (e.g. "llama") whose rules read a config whose
    model_type nmc does not know; the spec then carries a warning. Never a silent guess."""
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
    return from_config(cfg, name=name, where=str(p), assume=assume)
