"""Uncertainty bands (docs/bands.md): every estimate in the presets carries a band or a stated
exemption; band=True evaluates low/central/high through the sweep kernel, low = pessimistic
and high = optimistic end of each result; a hand case; the envelope equals analyze() at the
kernel's corners; JSON keys; presets without bands."""
import json
import math

import numpy as np
import pytest

import nmc
from nmc.arch.uncertainty import uncertain_values, unbanded
from nmc.cli import main
from nmc.sweeps.bands import DIRECTED, FULL_MAX, direction, evaluate_band

TOY_BAND = """base = "{base}"
{body}
[sources]
{sources}
"""


def _toy(tmp_path, toy_arch, body, keys, name="toyband"):
    p = tmp_path / f"{name}.toml"
    p.write_text(TOY_BAND.format(base=toy_arch, body=body, sources="\n".join(
        f'{k} = {{ ref = "test: band", confidence = "estimate" }}' for k in keys)))
    return str(p)


# ---- the presets ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", nmc.list_archs())
def test_every_estimate_has_a_band_or_a_stated_exemption(name):
    assert unbanded(name) == [], f"{name}: estimate / low-confidence values without a band"
    a = nmc.load_arch(name)
    for k, conf, banded, why in uncertain_values(name):
        assert banded or why, (name, k)
        if banded:
            lo, hi = a.bands[k]
            assert lo <= a[k] <= hi and lo < hi, (name, k)
            assert "band" in a.sources[k]["ref"], f"{name}: {k}: the source must say where the ends come from"


def test_band_counts_and_exemptions_by_kind():
    """What is banded and what is left, on two presets read by hand."""
    h = dict((k, (b, w)) for k, _, b, w in uncertain_values("h100-sxm"))
    assert all(h[k][0] for k in ("eff_compute", "eff_mem", "kernel_overhead", "e_mem", "p_static",
                                 "sram_bw", "link_latency", "net_latency", "mem_usable"))
    assert h["tile_m"] == (False, "discrete: whole-number structure of the cited design")
    assert nmc.load_arch("h100-sxm").bands["eff_compute"] == (0.71, 0.77)   # the cited spread
    e = dict((k, (b, w)) for k, _, b, w in uncertain_values("aimc-edge-projected"))
    assert e["aimc_chips"][1].startswith("configuration") and not e["aimc_chips"][0]
    assert e["aimc_tiles"][0] and e["aimc_e_dac"][0] and e["peak_bf16"][0]
    assert e["aimc_rows"][1].startswith("discrete")
    assert dict((k, w) for k, _, b, w in uncertain_values("phone-lpddr5x"))["sram_bw"].startswith("off")


def test_central_values_are_the_preset_values():
    """A band never moves the central value: band('central') is the preset itself."""
    for name in ("h100-sxm", "aimc-edge-projected", "h100+hbm3-pim", "upmem"):
        a = nmc.load_arch(name)
        assert a.band("central").values == a.values


# ---- a hand case: one banded parameter --------------------------------------------------------
def test_hand_case_static_power_band(tmp_path, toy_arch, toy_llm):
    """energy = dynamic + p_static x latency, so with p_static in [5, 20] W around 10 W:
    band low energy (pessimistic) = E(10 W) + 10 W x t, high = E(10 W) - 5 W x t; tokens/s and
    latency do not move (low == central == high)."""
    p = _toy(tmp_path, toy_arch, '[energy]\np_static = { central = "10 W", low = "5 W", high = "20 W" }',
             ["p_static"])
    r = nmc.analyze(toy_llm, p, band=True)
    t, e = r.latency_s, r.results["energy_j"]
    assert r.band_info["method"] == "corners" and r.band_info["points"] == 3 + 2
    lo, hi = r.band["low"], r.band["high"]
    assert lo["energy_j"] == pytest.approx(e + 10.0 * t, rel=1e-12)
    assert hi["energy_j"] == pytest.approx(e - 5.0 * t, rel=1e-12)
    assert lo["energy_per_token_j"] == pytest.approx((e + 10.0 * t) / r.scenario.batch, rel=1e-12)
    assert lo["tokens_per_s"] == hi["tokens_per_s"] == r.tokens_per_s
    assert lo["latency_s"] == hi["latency_s"] == r.latency_s
    d = r.band_info["drivers"]["energy_per_token_j"]
    assert [x["param"] for x in d] == ["p_static"] and d[0]["pessimistic_end"] == "high"
    assert d[0]["swing"] == pytest.approx(15.0 * t / e, rel=1e-9)
    assert "tokens_per_s" not in r.band_info["drivers"]


def test_direction_latency_low_is_the_larger_latency(tmp_path, toy_arch, toy_llm):
    """mem_bw in [0.5, 2] TB/s: band low = pessimistic = the SLOWER end for every result:
    fewer tokens/s and MORE latency; the parameter's low end gives both."""
    band = '[memory]\nmem_bw = { central = "1 TB/s", low = "0.5 TB/s", high = "2 TB/s" }'
    p = _toy(tmp_path, toy_arch, band, ["mem_bw"])
    r = nmc.analyze(toy_llm, p, band=True)
    slow = nmc.analyze(toy_llm, nmc.load_arch(p).band("low"))
    fast = nmc.analyze(toy_llm, nmc.load_arch(p).band("high"))
    assert r.band["low"]["tokens_per_s"] == pytest.approx(slow.tokens_per_s, rel=1e-12)
    assert r.band["low"]["latency_s"] == pytest.approx(slow.latency_s, rel=1e-12)
    assert r.band["high"]["latency_s"] == pytest.approx(fast.latency_s, rel=1e-12)
    assert r.band["low"]["latency_s"] > r.latency_s > r.band["high"]["latency_s"]
    assert r.band["low"]["tokens_per_s"] < r.tokens_per_s < r.band["high"]["tokens_per_s"]
    assert r.band_info["drivers"]["tokens_per_s"][0]["pessimistic_end"] == "low"


# ---- the kernel's corners against analyze ------------------------------------------------------
def _check_envelope(model, arch, b, scenario):
    """band low/high = the worst/best of analyze() over every point the kernel evaluated."""
    a = nmc.load_arch(arch)
    reps = [nmc.analyze(model, a.with_(**b.corner(i)), **scenario) for i in range(b.n_points)]
    assert reps[0].results == {k: v for k, v in nmc.analyze(model, a, **scenario).results.items()}
    for f in ("tokens_per_s", "latency_s", "energy_per_token_j", "memory_bytes", "max_batch"):
        vals = np.array([r.results[f] for r in reps], dtype=float)
        d = direction(f)
        assert b.low[f][0] == pytest.approx(vals[np.argmin(d * vals)], rel=1e-12), f
        assert b.high[f][0] == pytest.approx(vals[np.argmax(d * vals)], rel=1e-12), f
        assert b.central[f][0] == pytest.approx(vals[0], rel=1e-12)


def test_full_corners_equal_analyze_at_each_corner(tmp_path, toy_arch, toy_llm):
    body = ('[memory]\nmem_bw = { central = "1 TB/s", low = "0.5 TB/s", high = "2 TB/s" }\n'
            '[efficiency]\nkernel_overhead = { central = "1 us", low = "0.5 us", high = "3 us" }\n'
            '[energy]\np_static = { central = "10 W", low = "5 W", high = "20 W" }\n'
            '[compute]\npeak_bf16 = { central = "100 TFLOPS", low = "50 TFLOPS", high = "150 TFLOPS" }')
    p = _toy(tmp_path, toy_arch, body, ["mem_bw", "kernel_overhead", "p_static", "peak_bf16"])
    for sc in ({"phase": "decode", "batch": 4}, {"phase": "prefill", "batch": 2, "prompt": 256}):
        b = evaluate_band(toy_llm, p, {}, sc)
        assert b.method == "corners" and b.n_points == 2 * 4 + 1 + 2 ** 4
        _check_envelope(toy_llm, p, b, sc)


def test_screen_and_corners_equal_analyze_on_the_projected_chip():
    """27 bands: the screen + directed corners; each point the kernel evaluated is an
    architecture analyze() reproduces, and the band is their envelope."""
    sc = {"phase": "decode", "batch": 1, "context": 2048}
    b = evaluate_band("llama-3.2-1b", "aimc-edge-projected", {}, sc)
    assert len(b.keys) > FULL_MAX and b.method == "screen+corners"
    assert b.n_points > 2 * len(b.keys) + 1                  # corners added after the screen
    _check_envelope("llama-3.2-1b", "aimc-edge-projected", b, sc)


# ---- ordering on the presets --------------------------------------------------------------------
@pytest.mark.parametrize("model,arch,kw", [
    ("llama-3-8b", "aimc-edge-projected", {}),
    ("llama-3.2-1b", "ibm-hermes", {}),
    ("llama-3-8b", "h100-sxm", {"batch": 64}),
    ("llama-2-7b", "h100+hbm3-pim", {}),
    ("llama-3-8b", "ascend-910b", {"phase": "prefill", "batch": 4}),
    ("llama-3-8b", "h100-sxm", {"phase": "generate", "tp": 2}),
])
def test_band_is_ordered_in_each_results_direction(model, arch, kw):
    r = nmc.analyze(model, arch, band=True, **kw)
    lo, hi = r.band["low"], r.band["high"]
    for f in DIRECTED:
        c = r.results[f]
        if c is None or lo[f] is None:
            continue
        d = direction(f)
        tol = 1e-12 * max(abs(c), 1e-300)
        assert d * lo[f] <= d * c + tol and d * c <= d * hi[f] + tol, f
    assert r.band["low"]["tokens_per_s"] < r.tokens_per_s < r.band["high"]["tokens_per_s"]


def test_projected_chip_band_numbers():
    """llama-3-8b decode on aimc-edge-projected: the weights per die decide the band (the
    numbers docs/bands.md quotes)."""
    r = nmc.analyze("llama-3-8b", "aimc-edge-projected", band=True)
    assert r.tokens_per_s == pytest.approx(6.5386, rel=1e-4)
    assert r.band["low"]["tokens_per_s"] == pytest.approx(3.868, rel=1e-3)
    assert r.band["high"]["tokens_per_s"] == pytest.approx(205.0, rel=1e-3)
    assert r.band_info["drivers"]["tokens_per_s"][0]["param"] == "aimc_tiles"
    assert r.band["high"]["aimc_resident_fraction"] == 1.0


# ---- JSON, CLI and presets without bands -------------------------------------------------------
def test_to_dict_band_has_the_central_result_fields():
    d = nmc.analyze("llama-3.2-1b", "aimc-edge-projected", band=True).to_dict()
    assert set(d["band"]) == {"low", "high"}
    result_keys = set(nmc.analyze("llama-3.2-1b", "aimc-edge-projected").to_dict()) - {
        "model", "arch", "family", "scenario", "params_total", "params_active", "ops", "warnings"}
    assert set(d["band"]["low"]) == set(d["band"]["high"]) == result_keys
    assert {"method", "params", "points", "drivers"} <= set(d["band_info"])
    assert d["band"]["low"]["bound"] in ("array", "adc", "digital", "capacity", "interchip")
    json.loads(nmc.analyze("llama-3.2-1b", "aimc-edge-projected", band=True).to_json())
    assert "band" not in nmc.analyze("llama-3.2-1b", "aimc-edge-projected").to_dict()


def test_cli_analyze_and_compare_band_json(capsys):
    assert main(["analyze", "--model", "llama-3.2-1b", "--arch", "aimc-edge-projected", "--band",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["band"]["low"]["tokens_per_s"] < d["tokens_per_s"] < d["band"]["high"]["tokens_per_s"]
    assert main(["compare", "--model", "llama-3.2-1b", "--arch", "aimc-edge-projected,h100-sxm",
                 "--band", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert set(row["band"]) == {"low", "high"}
        assert set(row["band"]["low"]) == set(row) - {"band"}
    assert rows[0]["band"]["low"]["tokens_per_s"] < rows[0]["tokens_per_s"]
    assert main(["compare", "--model", "llama-3.2-1b", "--arch", "h100-sxm", "--band"]) == 0
    out = capsys.readouterr().out
    assert "tokens_per_s_low" in out and "tokens_per_s_high" in out
    assert main(["analyze", "--model", "llama-3.2-1b", "--arch", "aimc-edge-projected", "--band"]) == 0
    assert "low = pessimistic" in capsys.readouterr().out


def test_preset_without_bands_gives_central_with_a_note(toy_arch, toy_llm):
    r = nmc.analyze(toy_llm, toy_arch, band=True)          # the toy preset has no bands: no error
    assert r.band["low"] == r.band["high"] == r.results
    assert r.band_info["method"] == "none" and r.band_info["params"] == {}
    assert "no banded parameters" in r.band_info["note"] and r.band_info["note"] in r.warnings
    # an override replaces a band (Architecture.with_): the others stay
    r = nmc.analyze("llama-3.2-1b", "h100-sxm", band=True, eff_mem=0.9)
    assert "eff_mem" not in r.band_info["params"] and "kernel_overhead" in r.band_info["params"]


# ---- band_sweep: columns for figures --------------------------------------------------------------
def test_band_sweep_columns_against_sweep():
    grid = {"batch": [1, 8, 64]}
    t = nmc.band_sweep("llama-3.2-1b", "h100-sxm", grid, phase="decode", context=1024)
    s = nmc.sweep("llama-3.2-1b", "h100-sxm", grid, phase="decode", context=1024)
    assert list(t["batch"]) == [1, 8, 64]
    np.testing.assert_array_equal(t["tokens_per_s"], s["tokens_per_s"])   # central = the sweep
    assert np.all(t["tokens_per_s_low"] < t["tokens_per_s"])
    assert np.all(t["tokens_per_s"] < t["tokens_per_s_high"])
    assert np.all(t["latency_s_low"] > t["latency_s"])                   # pessimistic latency
    meta = t.meta["band"]["h100-sxm"]
    assert meta["method"] == "screen+corners" and "eff_mem" in meta["params"]


def test_band_sweep_grid_over_a_banded_parameter_drops_its_band():
    t = nmc.band_sweep("llama-3.2-1b", "aimc-edge-projected", {"aimc_tiles": [1024, 4096]},
                       columns=["tokens_per_s"])
    meta = t.meta["band"]["aimc-edge-projected"]
    assert "aimc_tiles" in meta["dropped"] and "aimc_tiles" not in meta["params"]
    assert list(t["aimc_tiles"]) == [1024, 4096]
    assert set(t.columns) == {"aimc_tiles", "tokens_per_s", "tokens_per_s_low", "tokens_per_s_high"}
    for i, tiles in enumerate((1024, 4096)):
        c = nmc.analyze("llama-3.2-1b", "aimc-edge-projected", aimc_tiles=tiles)
        assert t["tokens_per_s"][i] == pytest.approx(c.tokens_per_s, rel=1e-12)


def test_band_sweep_from_a_spec(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('model = "llama-3.2-1b"\narch = ["h100-sxm", "aimc-edge-projected"]\n'
                    '[scenario]\nphase = "decode"\n[grid]\nbatch = [1, 4]\n')
    t = nmc.band_sweep(spec=str(spec), columns=["tokens_per_s", "energy_per_token_j"])
    assert list(t["arch"]) == ["h100-sxm"] * 2 + ["aimc-edge-projected"] * 2
    assert np.all(t["energy_per_token_j_low"] >= t["energy_per_token_j"])
    assert set(t.meta["band"]) == {"h100-sxm", "aimc-edge-projected"}
    with pytest.raises(nmc.ConfigError, match="needs model and arch"):
        nmc.band_sweep(arch="h100-sxm")


def test_inconsistent_corners_are_skipped(tmp_path):
    """dac_bits <= input_bits: a corner with dac_bits high and input_bits low is no chip."""
    p = tmp_path / "c.toml"
    p.write_text('base = "ibm-hermes"\n[aimc_tile]\naimc_input_bits = { central = 8, low = 6, high = 8 }\n'
                 'aimc_dac_bits = { central = 6, low = 4, high = 8 }\n[sources]\n'
                 'aimc_input_bits = "t"\naimc_dac_bits = "t"\n')
    b = evaluate_band("llama-3.2-1b", str(p), {}, {}, arch_set={k: nmc.load_arch("ibm-hermes")[k]
                                                               for k in nmc.load_arch("ibm-hermes").bands})
    assert b.keys == ["aimc_dac_bits", "aimc_input_bits"] and b.skipped == 1
    assert b.n_points == 5 + 4 - 1                      # screen + the three valid corners
    assert math.isfinite(b.low["tokens_per_s"][0])
