"""Which loader reads which HuggingFace model_type. A config whose model_type is not listed is
refused with the list, or read with one family's rules when the caller says so explicitly
(load_model(..., assume=FAMILY), CLI --assume FAMILY); the spec then carries a warning."""
from __future__ import annotations

from dataclasses import replace

from ..errors import ConfigError
from .fam_gpt import FALCON_RW_TYPES, bloom, falcon, gpt2, gpt_neox, gptj, mpt, opt
from .fam_rope import RULES, deepseek, llama_like
from .hfcfg import Cfg
from .spec import ModelSpec

LOADERS = {
    **{fam: llama_like for fam in RULES},
    "deepseek_v2": deepseek, "deepseek_v3": deepseek,
    "gpt2": gpt2, "gptj": gptj, "gpt_neox": gpt_neox, "opt": opt, "bloom": bloom,
    "falcon": falcon, "mpt": mpt,
}
ALIASES = {t: "falcon" for t in FALCON_RW_TYPES}   # Falcon's remote-code model_types
SUPPORTED = tuple(sorted(LOADERS))


def family_of(model_type) -> str | None:
    if not isinstance(model_type, str):
        return None
    return ALIASES.get(model_type, model_type if model_type in LOADERS else None)


def check_assume(assume) -> str:
    if family_of(assume) is None:
        raise ConfigError(f"--assume {assume!r}: not a supported family "
                          f"(supported: {', '.join(SUPPORTED)})")
    return family_of(assume)


def read(cfg: dict, name: str, where: str, assume: str | None = None) -> ModelSpec:
    """The spec of a parsed config.json. `assume` only applies when the model_type is missing
    or unknown; it must name a supported family."""
    fam_assumed = check_assume(assume) if assume is not None else None
    mt = cfg.get("model_type")
    family = family_of(mt)
    if family is not None:
        return LOADERS[family](Cfg(cfg, where, family), name)
    what = "has no model_type" if mt is None else f"model_type {mt!r} is not a supported family"
    if fam_assumed is None:
        raise ConfigError(f"{where}: {what} (supported: {', '.join(SUPPORTED)}); to read it "
                          f"with one family's rules anyway pass --assume FAMILY (Python: "
                          f"load_model(path, assume=FAMILY)), which adds a warning to the report")
    spec = LOADERS[fam_assumed](Cfg(cfg, where, fam_assumed), name)
    warn = (f"{name}: {what}; read with the {fam_assumed} family's rules (--assume "
            f"{fam_assumed}), {spec.params() / 1e9:.3g} B parameters: check this against the "
            f"model card")
    return replace(spec, warnings=(warn,))
