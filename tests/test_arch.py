"""Architecture presets: every bundled preset loads and carries sources; bad files fail clearly."""
import pytest

import nmc
from nmc.arch.schema import PARAMS
from nmc.errors import ConfigError

REQUIRED = ["a100-80g-sxm", "a800-80g-sxm", "h100-sxm", "h800-sxm", "h20", "l20", "h200-sxm",
            "b200", "mi300x", "ascend-910b", "apple-m2-ultra", "phone-lpddr5x",
            "jetson-agx-orin-64g"]


def test_required_presets_exist():
    missing = set(REQUIRED) - set(nmc.list_archs())
    assert not missing


@pytest.mark.parametrize("name", nmc.list_archs())
def test_every_preset_loads_with_sources(name):
    a = nmc.load_arch(name)
    assert a.name == name
    for k, v in a.sources.items():
        assert v["ref"].strip(), f"{name}: empty source for {k}"
    assert a["mem_bw"] > 0 and a["peak_bf16"] > 0


def test_datasheet_figures():
    h = nmc.load_arch("h100-sxm")
    assert h["peak_bf16"] == pytest.approx(989.4e12, rel=0.01)
    assert h["mem_bw"] == pytest.approx(3.35e12, rel=0.01)
    a = nmc.load_arch("a100-80g-sxm")
    assert a["mem_bw"] == pytest.approx(2.039e12, rel=0.01)
    assert a["peak_bf16"] == pytest.approx(312e12, rel=0.01)
    # the export-compliant parts keep bandwidth and lose compute or links
    assert nmc.load_arch("h20")["peak_bf16"] < 0.2 * h["peak_bf16"]
    assert nmc.load_arch("h800-sxm")["link_bw"] < h["link_bw"]


def _write(tmp_path, body, name="x"):
    p = tmp_path / f"{name}.toml"
    p.write_text(body)
    return p


GOOD = """
name = "x"
family = "gpu"
[compute]
peak_fp32 = "10 TFLOPS"
peak_bf16 = "100 TFLOPS"
n_cores = 10
[memory]
mem_capacity = "10 GB"
mem_bw = "1 TB/s"
[sources]
peak_fp32 = { ref = "t", confidence = "estimate" }
peak_bf16 = { ref = "t", confidence = "estimate" }
n_cores = { ref = "t", confidence = "estimate" }
mem_capacity = { ref = "t", confidence = "estimate" }
mem_bw = { ref = "t", confidence = "estimate" }
"""


def test_minimal_preset_gets_defaults(tmp_path):
    a = nmc.load_arch(_write(tmp_path, GOOD))
    defaults = {p.name: p.default for p in PARAMS if p.default is not None}
    assert a["eff_mem"] == defaults["eff_mem"]
    assert a["mem_bw"] == 1e12


@pytest.mark.parametrize("edit,msg", [
    (lambda s: s.replace("n_cores = 10", "n_cores = 10\nn_corez = 3"), "unknown key compute.n_corez"),
    (lambda s: s.replace('mem_bw = "1 TB/s"', 'mem_bw = "-1 TB/s"'), "memory.mem_bw = -1e\\+12 is out of range"),
    (lambda s: s.replace('mem_bw = "1 TB/s"', 'mem_bw = "1 TFLOPS"'), "not a bw unit"),
    (lambda s: s.replace('family = "gpu"', 'family = "quantum"'), "family 'quantum'"),
    (lambda s: s.replace('n_cores = { ref = "t", confidence = "estimate" }\n', ""), "no \\[sources\\] entry for n_cores"),
    (lambda s: s.replace('confidence = "estimate" }\nmem_bw', 'confidence = "sure" }\nmem_bw'), "confidence"),
    (lambda s: s.replace("[memory]", "[memory\n"), "malformed TOML"),
    (lambda s: s.replace('mem_bw = "1 TB/s"\n', ""), "missing required key memory.mem_bw"),
    (lambda s: s + "\n[extra]\nfoo = 1\n", "unknown key 'extra'"),
    (lambda s: s.replace("[memory]", "[memory]\npeak_fp8 = 1"), "belongs in \\[compute\\]"),
])
def test_bad_presets_fail_with_file_key_and_range(tmp_path, edit, msg):
    p = _write(tmp_path, edit(GOOD))
    with pytest.raises(ConfigError, match=msg) as e:
        nmc.load_arch(p)
    assert str(p) in str(e.value)


def test_base_inheritance_and_override(tmp_path):
    p = _write(tmp_path, 'base = "h100-sxm"\nname = "y"\n[memory]\nmem_bw = "4 TB/s"\n'
                         '[sources]\nmem_bw = { ref = "what-if", confidence = "estimate" }\n', "y")
    a = nmc.load_arch(p)
    h = nmc.load_arch("h100-sxm")
    assert a["mem_bw"] == 4e12 and a["peak_bf16"] == h["peak_bf16"]
    assert a.sources["mem_bw"]["ref"] == "what-if"


def test_with_validates():
    h = nmc.load_arch("h100-sxm")
    with pytest.raises(ConfigError, match="out of range"):
        h.with_(mem_bw=-1)
    with pytest.raises(ConfigError, match="unknown parameter"):
        h.with_(mem_bandwidth=1)
    assert h.with_(mem_bw="4 TB/s")["mem_bw"] == 4e12


# ---- uncertainty bands: { central = .., low = .., high = .. } ---------------------------------
@pytest.mark.parametrize("name", nmc.list_archs())
def test_every_band_is_ordered_and_valid_at_both_ends(name):
    a = nmc.load_arch(name)
    for k, (lo, hi) in a.bands.items():
        assert lo <= a[k] <= hi, f"{name}: {k}"
        assert k in a.sources
    low, high = a.band("low"), a.band("high")      # consistency checked at each end
    for k, (lo, hi) in a.bands.items():
        assert low[k] == lo and high[k] == hi
    assert low.bands == {} and low.meta["band"] == "low"


def test_edge_projection_bands():
    """aimc-edge-projected: weights per die (tiles x 512 x 512), ADC sharing, tile time (and,
    since every estimate carries one, the other projected values: docs/bands.md)."""
    a = nmc.load_arch("aimc-edge-projected")
    assert {"aimc_tiles", "aimc_adcs", "aimc_t_dac"} <= set(a.bands)
    assert (a.bands["aimc_tiles"], a["aimc_tiles"]) == ((256.0, 16384.0), 4096.0)
    assert a.bands["aimc_adcs"] == (64.0, 512.0) and a["aimc_adcs"] == 512.0
    assert a.bands["aimc_t_dac"] == pytest.approx((95e-9, 995e-9))
    assert a.band("central").values == a.values
    d = a.to_dict()["bands"]["aimc_tiles"]
    assert d == {"low": 256.0, "central": 4096.0, "high": 16384.0}
    # an override fixes the value: its band goes, the others stay
    b = a.with_(aimc_tiles=8192)
    assert "aimc_tiles" not in b.bands and "aimc_adcs" in b.bands
    assert b.band("low")["aimc_tiles"] == 8192 and b.band("low")["aimc_adcs"] == 64
    with pytest.raises(ConfigError, match="band end 'worst'"):
        a.band("worst")


BAND_BASE = 'base = "ibm-hermes"\n[aimc_tile]\n{line}\n[sources]\n{key} = "t"\n'


@pytest.mark.parametrize("line,msg", [
    ('aimc_adcs = { central = 128, low = 200, high = 256 }',
     r"aimc_tile\.aimc_adcs: band must satisfy low <= central <= high, got low = 200, central = 128"),
    ('aimc_adcs = { central = 128, low = 64, high = 100 }', r"aimc_tile\.aimc_adcs: band must satisfy"),
    ('aimc_adcs = { central = 128, low = 64 }', r"aimc_tile\.aimc_adcs: a band is .*got keys central, low"),
    ('aimc_adcs = { central = 128, low = 64, high = 256, mode = 1 }', r"aimc_adcs: a band is"),
    ('aimc_adcs = { central = 128, low = 0, high = 256 }', r"aimc_tile\.aimc_adcs\.low = 0 is out of range"),
    ('aimc_t_dac = { central = "5 ns", low = "1 ns", high = "2 kg" }', r"aimc_t_dac\.high: unit 'kg'"),
    ('aimc_dac_bits = { central = 8, low = 4, high = 9 }', r"\(band high\): aimc_dac_bits = 9 exceeds"),
    ('aimc_adc_bits = { central = 8, low = 6.5, high = 8 }', r"aimc_adc_bits\.low = 6.5 must be a whole number"),
])
def test_bad_bands_name_file_and_key(tmp_path, line, msg):
    key = line.split()[0]
    p = _write(tmp_path, BAND_BASE.format(line=line, key=key), "b")
    with pytest.raises(ConfigError, match=msg) as e:
        nmc.load_arch(str(p))
    assert "b.toml" in str(e.value)


def test_band_inheritance(tmp_path):
    band = _write(tmp_path, BAND_BASE.format(
        line='aimc_adcs = { central = "128", low = 64, high = 256 }', key="aimc_adcs"), "parent")
    child = _write(tmp_path, f'base = "{band}"\n', "child")
    a = nmc.load_arch(str(child))
    assert a["aimc_adcs"] == 128 and a.bands["aimc_adcs"] == (64.0, 256.0)
    assert "aimc_adcs" not in nmc.load_arch("ibm-hermes").bands
    # a plain value in the child replaces the inherited band
    fixed = _write(tmp_path, f'base = "{band}"\n[aimc_tile]\naimc_adcs = 200\n[sources]\n'
                   'aimc_adcs = "t"\n', "fixed")
    b = nmc.load_arch(str(fixed))
    assert b["aimc_adcs"] == 200 and "aimc_adcs" not in b.bands
    assert set(b.bands) == set(nmc.load_arch("ibm-hermes").bands)   # the base's bands stay
