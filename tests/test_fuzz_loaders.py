"""Property-based fuzzing (hypothesis) of the three loaders a user feeds files to: a HuggingFace
config.json (nmc.workload.model.from_config / load_model), an architecture preset TOML
(nmc.arch.loader.load_arch, Architecture.with_) and a sweep spec TOML (nmc.sweeps.load_spec
then plan_from_spec). Whatever the input, a loader either returns or raises one of nmc's own
errors (nmc.errors.NmcError): any other exception fails the test.

Inputs are real files mutated (keys dropped, values replaced by any JSON/TOML value, keys added)
and raw bytes. The default run keeps the example counts modest (seconds); the `slow`-marked
variants run 20x more (python -m pytest -m slow tests/test_fuzz_loaders.py)."""
from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nmc  # noqa: E402
from nmc.arch.loader import load_arch  # noqa: E402
from nmc.errors import NmcError  # noqa: E402
from nmc.sweeps import load_spec, plan_from_spec  # noqa: E402
from nmc.workload.model import from_config, load_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "models" / "llm").glob("*.json")) + sorted(
    (ROOT / "tests" / "data" / "hf").glob("*.json"))
PRESETS = [p for p in sorted((ROOT / "models" / "arch").glob("*.toml"))
           if p.stem in ("h100-sxm", "hbm3-pim", "ibm-hermes", "a100-80g-sxm")]
SPEC = (ROOT / "experiments" / "sweeps" / "bandwidth_vs_batch.toml").read_text()

FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=1200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- values of any JSON / TOML type, edge cases first ------------------------------------------
SPECIAL_NUMBERS = st.sampled_from([0, -1, 1, 2, 3, 7, 2 ** 31, 2 ** 63 - 1, -2 ** 63, 10 ** 30,
                                   0.5, -0.0, 1e-300, 1e300, math.inf, -math.inf, math.nan])
SPECIAL_TEXT = st.sampled_from(["", " ", "llama", "mistral", "zebra", "1 TB/s", "3.35 TB/s",
                                "-1 GB", "nan", "inf", "1e999 FLOPS", "80 GiB", "x" * 300,
                                "é\u0000\ud7ff", "[grid]", "h100-sxm", "../../etc/passwd"])
SCALARS = st.one_of(SPECIAL_NUMBERS, SPECIAL_TEXT, st.booleans(), st.none(),
                    st.integers(-10 ** 12, 10 ** 12), st.floats(allow_nan=True),
                    st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8)


def _mutate(draw, obj: dict, keys_pool: list[str]) -> dict:
    """obj with some keys dropped, some values replaced (by any value), some keys added."""
    out = dict(obj)
    keys = list(out)
    for k in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)) if keys else []:
        del out[k]
    keys = list(out)
    for k in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)) if keys else []:
        out[k] = draw(VALUES)
    for _ in range(draw(st.integers(0, 2))):
        out[draw(st.sampled_from(keys_pool) | st.text(max_size=10))] = draw(VALUES)
    return out


# -- config.json --------------------------------------------------------------------------------
CFG_DICTS = [json.loads(p.read_text()) for p in CONFIGS]
CFG_KEYS = sorted({k for c in CFG_DICTS for k in c})


@st.composite
def configs(draw):
    base = draw(st.sampled_from(CFG_DICTS))
    cfg = _mutate(draw, base, CFG_KEYS)
    if draw(st.booleans()) and isinstance(cfg.get("model_type"), str):
        cfg["model_type"] = draw(st.sampled_from(["llama", "falcon", "opt", "bloom", "mpt",
                                                  "gemma", "mixtral", "deepseek_v2", "gpt2",
                                                  "qwen2_moe", "phi3", "unknown"]))
    return cfg


def _config_case(cfg, assume):
    try:
        spec = from_config(cfg, name="fuzz", where="fuzz.json", assume=assume)
    except NmcError:
        return
    # a spec that loads has sane counts
    assert spec.n_layers >= 1 and spec.d_model >= 1 and spec.n_heads >= 1
    assert spec.params() > 0 and math.isfinite(float(spec.params()))


@FAST
@given(cfg=configs(), assume=st.sampled_from([None, "llama", "gpt2"]))
def test_config_json_fuzz(cfg, assume):
    _config_case(cfg, assume)


@pytest.mark.slow
@SLOW
@given(cfg=configs(), assume=st.sampled_from([None, "llama", "gpt2", "falcon"]))
def test_config_json_fuzz_long(cfg, assume):
    _config_case(cfg, assume)


@FAST
@given(data=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_config_file_bytes_fuzz(data, tmp_path_factory):
    p = tmp_path_factory.mktemp("cfg") / "config.json"
    p.write_bytes(data)
    try:
        load_model(p)
    except NmcError:
        pass


# -- architecture TOML --------------------------------------------------------------------------
def toml_value(v) -> str:
    """A TOML literal for v (TOML has no null: None becomes the empty array)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is None:
        return "[]"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(x)}"
                                for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_text(doc: dict) -> str:
    top, tables = [], []
    for k, v in doc.items():
        if isinstance(v, dict) and v and all(not isinstance(x, dict) for x in v.values()):
            tables.append(f"[{json.dumps(str(k), ensure_ascii=False)}]")
            tables += [f"{json.dumps(str(a), ensure_ascii=False)} = {toml_value(b)}" for a, b in v.items()]
        else:
            top.append(f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(v)}")
    return "\n".join(top + tables) + "\n"


ARCH_DOCS = [tomllib.loads(p.read_text()) for p in PRESETS]
ARCH_KEYS = sorted({k for d in ARCH_DOCS for k in d} | {"base", "family", "name"})
PARAM_NAMES = sorted(nmc.arch.schema.BY_NAME) if hasattr(nmc.arch, "schema") else []


@st.composite
def arch_docs(draw):
    doc = {k: (dict(v) if isinstance(v, dict) else v)
           for k, v in draw(st.sampled_from(ARCH_DOCS)).items()}
    doc = _mutate(draw, doc, ARCH_KEYS)
    sections = [k for k, v in doc.items() if isinstance(v, dict) and k != "sources"]
    for sec in draw(st.lists(st.sampled_from(sections), max_size=2, unique=True)) if sections else []:
        doc[sec] = _mutate(draw, doc[sec], PARAM_NAMES)
    if draw(st.booleans()):
        doc["base"] = draw(st.sampled_from(["h100-sxm", "nope", "h100-sxm.toml", "./x.toml",
                                            "../arch/hbm3-pim.toml", ""]))
    return doc


def _arch_case(text: str, tmp: Path, overrides: dict):
    p = tmp / "fuzz.toml"
    p.write_text(text, encoding="utf-8")
    try:
        a = load_arch(p)
    except NmcError:
        return
    try:
        a.with_(**overrides)
    except NmcError:
        pass


@FAST
@given(doc=arch_docs(), over=st.dictionaries(st.sampled_from(PARAM_NAMES or ["mem_bw"]), VALUES,
                                             max_size=2))
def test_arch_toml_fuzz(doc, over, tmp_path_factory):
    _arch_case(toml_text(doc), tmp_path_factory.mktemp("arch"), over)


@pytest.mark.slow
@SLOW
@given(doc=arch_docs(), over=st.dictionaries(st.sampled_from(PARAM_NAMES or ["mem_bw"]), VALUES,
                                             max_size=3))
def test_arch_toml_fuzz_long(doc, over, tmp_path_factory):
    _arch_case(toml_text(doc), tmp_path_factory.mktemp("arch"), over)


@FAST
@given(data=st.binary(max_size=400))
def test_arch_toml_bytes_fuzz(data, tmp_path_factory):
    p = tmp_path_factory.mktemp("archb") / "x.toml"
    p.write_bytes(data)
    try:
        load_arch(p)
    except NmcError:
        pass


# -- sweep spec ---------------------------------------------------------------------------------
SPEC_DOC = tomllib.loads(SPEC)
GRID_KEYS = ["mem_bw", "batch", "peak_bf16", "context", "tp", "weights", "phase", "mapping",
             "devices_per_node", "mem_bw,mem_capacity", "pim_banks", "aimc_tiles", "nope",
             "model", "hidden_size", "prompt", "runtime", "kv"]
ENDS = st.one_of(SPECIAL_NUMBERS, SPECIAL_TEXT, st.floats(-1e3, 1e15))
RANGES = st.one_of(
    # well-shaped ranges with edge-case ends and counts (inf, nan, 1e30, 0, -1, 2.5, ...)
    st.builds(lambda k, a, b, n: {k: [a, b, n]},
              st.sampled_from(["linspace", "logspace", "geomspace"]), ENDS, ENDS,
              st.one_of(SPECIAL_NUMBERS, st.integers(-3, 10 ** 13), st.floats(0, 50))),
    st.dictionaries(st.sampled_from(["linspace", "logspace", "geomspace", "range"]),
                    st.lists(SCALARS, max_size=4), min_size=0, max_size=2))
GRID_VALUES = st.one_of(RANGES, st.lists(st.one_of(SPECIAL_NUMBERS, SCALARS), max_size=5),
                        SCALARS, st.lists(st.lists(SCALARS, max_size=3), max_size=3))


@st.composite
def spec_docs(draw):
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SPEC_DOC.items()}
    if draw(st.booleans()):             # half the specs keep their frame: the grid is fuzzed
        doc = _mutate(draw, doc, ["name", "model", "arch", "scenario", "grid", "set",
                                  "chunk_size", "format", "columns", "precision"])
    if draw(st.booleans()):
        doc["grid"] = draw(st.dictionaries(st.sampled_from(GRID_KEYS), GRID_VALUES, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        doc["scenario"] = draw(st.dictionaries(
            st.sampled_from(["phase", "batch", "tp", "context", "weights", "mapping", "foo"]),
            SCALARS, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        doc["model"] = draw(st.sampled_from(["llama-2-7b", "qwen2-0.5b", ["llama-2-7b", "gpt2"],
                                             "nope", [], 3]))
    return doc


def _spec_case(text: str, tmp: Path):
    p = tmp / "spec.toml"
    p.write_text(text, encoding="utf-8")
    try:
        plan = plan_from_spec(load_spec(p))
    except NmcError:
        return
    assert plan.n_points >= 1


@FAST
@given(doc=spec_docs())
def test_sweep_spec_fuzz(doc, tmp_path_factory):
    _spec_case(toml_text(doc), tmp_path_factory.mktemp("spec"))


@pytest.mark.slow
@SLOW
@given(doc=spec_docs())
def test_sweep_spec_fuzz_long(doc, tmp_path_factory):
    _spec_case(toml_text(doc), tmp_path_factory.mktemp("spec"))


@FAST
@given(data=st.binary(max_size=300))
def test_sweep_spec_bytes_fuzz(data, tmp_path_factory):
    p = tmp_path_factory.mktemp("specb") / "s.toml"
    p.write_bytes(data)
    try:
        plan_from_spec(load_spec(p))
    except NmcError:
        pass


def test_toml_writer_round_trips():
    """The fuzz's TOML writer writes what tomllib reads back (else the fuzz tests the writer)."""
    doc = {"a": 1, "b": "x", "c": [1.5, "y"], "t": {"k": True, "n": {"z": 2}}}
    assert tomllib.loads(toml_text(doc)) == doc
