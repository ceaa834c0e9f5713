import itertools

import pytest

from nmc.analysis import policy
from nmc.arch import export


@pytest.mark.parametrize("t,pd,cls", [
    (15800, 19.4, "3A090.a"), (4990, 6.0, "3A090.a"), (2000, 6.0, "3A090.a"),
    (2370, 2.9, "not controlled"), (3000, 2.0, "3A090.b"), (1700, 4.0, "3A090.b"),
    (1000, 10.0, "not controlled"), (2000, None, "unknown (die area not known)"),
])
def test_thresholds(t, pd, cls):
    assert export.classify_values(t, pd) == cls


def test_worked_examples_from_the_rule():
    # H100 dense FP8 1979 TFLOPS -> TPP ~ 15 830; A100 INT8 624 TOPS -> ~ 4 990; H20 FP8 296 -> ~ 2 370
    h, which = export.tpp("h100-sxm")
    assert h == pytest.approx(15830, rel=0.01) and which in ("fp8", "int8")
    assert export.tpp("a100-80g-sxm")[0] == pytest.approx(4992, rel=0.01)
    assert export.tpp("h20")[0] == pytest.approx(2368, rel=0.02)
    assert export.classify("h100-sxm")["class"] == "3A090.a"
    assert export.classify("h20")["class"] == "not controlled"


# ---- best design under a cap (nmc.policy.best_design_under_cap) -------------------------------
def test_pim_tpp_hand_derived():
    # h100+hbm3-pim: 5 stacks x 32 pseudo-channels x 32 banks, one 10.4 GFLOPS unit per bank
    assert policy.pim_tpp("h100+hbm3-pim") == pytest.approx(5 * 32 * 32 * 10.4e9 / 1e12 * 16)
    assert policy.pim_tpp("h100-sxm") == 0.0


def test_best_design_respects_cap_and_is_the_maximum():
    kw = {"compute": [0.05, 0.1, 0.2, 0.5, 1.0], "mem_bw": ["3.35 TB/s", "6.7 TB/s"],
              "pim": (0, 1, 2), "batch": 32, "context": 1024, "top": None}
    r = policy.best_design_under_cap("llama-3.2-1b", 4800, **kw)
    # fixed/scaled cores (the same design at fraction 1); host-only rows are not repeated
    assert r["n_points"] == (5 * 2 - 1) * 2 * 3
    assert {x["cores"] for x in r["all_rows"]} == {"fixed", "scaled"}
    assert all(x["n_cores"] == 132 for x in r["all_rows"] if x["cores"] == "fixed")
    assert all(x["n_cores"] == max(1, round(132 * x["compute_fraction"]))
               for x in r["all_rows"] if x["cores"] == "scaled")
    feas = r["rows"]
    assert feas and r["n_feasible"] == len(feas)
    assert all(x["tpp"] < 4800 and x["fits"] for x in feas)
    assert r["best"]["tokens_per_s"] == max(x["tokens_per_s"] for x in feas)
    # every row the search rejected is over the cap
    assert all(x["tpp"] >= 4800 for x in r["all_rows"] if not x["feasible"])
    # TPP of a row = compute fraction x host TPP + PIM multiplier x PIM TPP
    x = feas[-1]
    assert x["tpp"] == pytest.approx(x["compute_fraction"] * 15831.2 + x["pim_multiplier"] * 851.968,
                                     rel=1e-4)
    # a looser cap never does worse; no cap at all gives the grid's maximum
    loose = policy.best_design_under_cap("llama-3.2-1b", 1e9, **kw)
    assert loose["best"]["tokens_per_s"] >= r["best"]["tokens_per_s"]
    assert loose["best"]["tokens_per_s"] == max(x["tokens_per_s"] for x in loose["all_rows"])
    # exempting the PIM units from the TPP never does worse
    ex = policy.best_design_under_cap("llama-3.2-1b", 4800, pim_counts=False, **kw)
    assert ex["best"]["tokens_per_s"] >= r["best"]["tokens_per_s"]


def test_best_design_host_only_sits_at_the_cap():
    # without PIM and at a batch where decode is compute-bound under the cap, the best design
    # uses all the TPP the cap allows (the default compute grid holds the exact-cap fraction)
    r = policy.best_design_under_cap("llama-3-8b", 2400, arch="h100-sxm", batch=128,
                                     mem_bw=["8 TB/s"])
    assert r["best"]["tpp"] == pytest.approx(2400, rel=1e-6) and r["best"]["tpp"] < 2400
    assert r["best"]["pim_multiplier"] == 0.0
    dens = policy.best_design_under_cap("llama-3-8b", 4800, pd_cap=2.0, arch="h100-sxm",
                                        batch=128, mem_bw=["8 TB/s"])
    assert dens["best"]["performance_density"] < 2.0
    assert dens["best"]["tpp"] == pytest.approx(2.0 * 814, rel=1e-6)


def test_best_design_bad_input():
    from nmc.errors import ScenarioError
    with pytest.raises(ScenarioError, match="tpp_cap"):
        policy.best_design_under_cap("llama-3.2-1b", -1)
    with pytest.raises(ScenarioError, match="die area"):
        policy.best_design_under_cap("llama-3.2-1b", 4800, pd_cap=5.0, arch="ascend-910b")
    with pytest.raises(ScenarioError, match="cores"):
        policy.best_design_under_cap("llama-3.2-1b", 4800, cores=("half",))
    with pytest.raises(ScenarioError, match="compute fractions"):
        policy.best_design_under_cap("llama-3.2-1b", 4800, compute=[0.0, 1.0])
    with pytest.raises(ScenarioError, match="ttft_max"):
        policy.best_design_under_cap("llama-3.2-1b", 4800, ttft_max=-1.0)


def test_cli_policy(capsys):
    from nmc.cli import main
    assert main(["policy", "--arch", "h20,h100-sxm"]) == 0
    out = capsys.readouterr().out
    assert "h20" in out and "not controlled" in out and "3A090.a" in out
    assert main(["policy", "--cap", "4800", "--model", "llama-3.2-1b", "--base", "h100-sxm",
                 "--top", "2", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("compute_fraction") and len(lines) == 3


def test_best_design_ttft_constraint():
    kw = {"arch": "h100-sxm", "compute": [0.02, 0.1, 0.5, 1.0], "mem_bw": ["3.35 TB/s"], "cores": ("fixed",),
              "batch": 16, "context": 1024, "prompt": 1024, "top": None}
    free = policy.best_design_under_cap("llama-3.2-1b", 1e9, **kw)
    # TTFT of a 1024-token prompt falls as host compute grows (prefill is compute-bound)
    tt = [r["ttft_s"] for r in sorted(free["all_rows"], key=lambda r: r["compute_fraction"])]
    assert all(b < a for a, b in itertools.pairwise(tt))
    limit = tt[1] * 1.001
    r = policy.best_design_under_cap("llama-3.2-1b", 1e9, ttft_max=limit, **kw)
    assert r["n_feasible"] == 3 and all(x["ttft_s"] <= limit for x in r["rows"])
    assert policy.best_design_under_cap("llama-3.2-1b", 1e9, ttft_max=1e-9, **kw)["best"] is None


# ---- the rules as data (nmc.arch.export_rules), evaluated per part -----------------------------
# Hand-derived from the presets: TPP = max over precisions of dense peak x bit length; PD = TPP /
# die_area; I/O = 2 x link_bw (GB/s); margin = value / limit - 1.
from nmc.arch import export_rules


def _rules(arch, **kw):
    e = export.evaluate(arch, **kw)
    return e, {r["rule"]: r for r in e["rules"]}


def _m(res, tid):
    return next(t for t in res["margins"] if t["threshold"] == tid)


def test_rules_h100():
    e, r = _rules("h100-sxm")
    m = e["metrics"]
    assert m["tpp"] == pytest.approx(1978.9 * 8) and m["tpp_precision"] == "fp8"
    assert m["pd"] == pytest.approx(15831.2 / 814) and m["io_bw"] == 900 and m["mem_bw"] == 3350
    assert r["2022-10"]["outcome"] == "3A090" and r["2022-10"]["controlled"] is True
    assert _m(r["2022-10"], "tpp")["margin"] == pytest.approx(15831.2 / 4800 - 1)
    assert _m(r["2022-10"], "io")["margin"] == pytest.approx(0.5)
    assert (r["2023-10"]["outcome"], r["2023-10"]["paragraph"]) == ("3A090.a", "3A090.a(1)")
    assert r["2024-12"]["outcome"] == "not applicable" and r["2024-12"]["stack_outcome"] == "3A090.c"
    assert _m(r["2024-12"], "density2")["value"] == pytest.approx(819.2 / 121)
    assert r["2025-04"]["controlled"] and r["2025-04"]["paragraph"] == "interconnect >= H20"
    assert _m(r["2025-04"], "io")["side"] == "at"
    assert _m(r["2025-04"], "mem")["margin"] == pytest.approx(3350 / 4000 - 1)      # 16.25 % under
    assert r["2026-01"]["outcome"] == "case-by-case review"
    assert _m(r["2026-01"], "tpp")["margin"] == pytest.approx(15831.2 / 21000 - 1)
    assert _m(r["2026-01"], "mem")["margin"] == pytest.approx(3350 / 6500 - 1)
    assert e["designed_around"]["rule"] is None and "controlled under every rule" in e["designed_around"]["reason"]


def test_rules_h800_and_a800_designed_around_the_2022_io_line():
    for arch, t in (("h800-sxm", 15831.2), ("a800-80g-sxm", 4992.0)):
        e, r = _rules(arch)
        assert e["metrics"]["tpp"] == pytest.approx(t) and e["metrics"]["io_bw"] == 400
        assert r["2022-10"]["controlled"] is False
        assert _m(r["2022-10"], "io")["margin"] == pytest.approx(400 / 600 - 1)      # 33.3 % under
        assert _m(r["2022-10"], "tpp")["meets"] is True
        assert r["2022-10"]["nearest_line"]["threshold"] == "io"
        assert r["2023-10"]["outcome"] == "3A090.a"          # the 2023 rule dropped the I/O line
        assert r["2025-04"]["controlled"] is False
        assert _m(r["2025-04"], "io")["margin"] == pytest.approx(400 / 900 - 1)
        assert r["2026-01"]["outcome"] == "case-by-case review"
        da = e["designed_around"]
        assert (da["rule"], da["threshold"]) == ("2022-10", "io")
        assert da["margin"] == pytest.approx(-1 / 3)
    _, r = _rules("a800-80g-sxm")
    assert _m(r["2023-10"], "tpp4800")["margin"] == pytest.approx(4992 / 4800 - 1)   # 4.0 % over
    assert _m(r["2023-10"], "pd5.92")["value"] == pytest.approx(4992 / 826)          # 6.04
    assert _m(r["2025-04"], "mem")["margin"] == pytest.approx(2039 / 4000 - 1)
    _, r = _rules("h800-sxm")
    assert _m(r["2025-04"], "mem")["margin"] == pytest.approx(3350 / 4000 - 1)


def test_rules_a100_sits_at_the_2022_io_line():
    e, r = _rules("a100-80g-sxm")
    assert r["2022-10"]["outcome"] == "3A090"
    assert _m(r["2022-10"], "io")["side"] == "at" and _m(r["2022-10"], "io")["meets"]
    assert "before the first rule" in e["designed_around"]["reason"]       # A100: 2020
    # the PCIe Gen4 x16 host link (A100 datasheet: 64 GB/s) moves I/O, not the status
    _, r = _rules("a800-80g-sxm", host_io_gbs=64)
    assert _m(r["2022-10"], "io")["value"] == 464 and r["2022-10"]["controlled"] is False


def test_rules_h20():
    e, r = _rules("h20")
    m = e["metrics"]
    assert m["tpp"] == pytest.approx(148 * 16) and m["pd"] == pytest.approx(2368 / 814)
    assert r["2022-10"]["controlled"] is False and _m(r["2022-10"], "io")["margin"] == pytest.approx(0.5)
    oct23 = r["2023-10"]
    assert oct23["outcome"] == "not controlled" and oct23["controlled"] is False
    assert _m(oct23, "tpp2400")["margin"] == pytest.approx(2368 / 2400 - 1)       # 1.33 % under
    assert _m(oct23, "pd3.2")["margin"] == pytest.approx(2368 / 814 / 3.2 - 1)     # 9.1 % under
    assert _m(oct23, "pd1.6")["meets"] and _m(oct23, "tpp1600")["meets"]
    assert oct23["nearest_line"]["paragraph"] == "3A090.b(1)"
    apr25 = r["2025-04"]
    assert apr25["controlled"] and apr25["paragraph"] == "named"
    assert _m(apr25, "mem")["side"] == "at" and _m(apr25, "io")["side"] == "at"
    assert r["2026-01"]["outcome"] == "case-by-case review"         # licensed by the 2025 letter
    da = e["designed_around"]
    assert (da["rule"], da["threshold"], da["paragraph"]) == ("2023-10", "tpp2400", "3A090.b(1)")
    assert round(-da["margin_pct"], 1) == 1.3


def test_rules_l20():
    e, r = _rules("l20")
    m = e["metrics"]
    assert m["tpp"] == pytest.approx(59.8 * 32) and m["tpp_precision"] == "fp32"
    assert m["die_area_mm2"] == 608.5 and m["io_bw"] == pytest.approx(63.0)
    oct23 = r["2023-10"]
    assert oct23["outcome"] == "not controlled"
    assert _m(oct23, "pd3.2")["margin"] == pytest.approx(1913.6 / 608.5 / 3.2 - 1)  # 1.73 % under
    assert _m(oct23, "tpp2400")["margin"] == pytest.approx(1913.6 / 2400 - 1)
    # the 1.9 %: the FP8 TPP 239 x 8 = 1912 over the rounded 609 mm2
    assert round(100 * (1 - 1912 / 609 / 3.2), 1) == 1.9
    assert r["2024-12"]["status"].startswith("not applicable: no HBM")
    assert r["2025-04"]["controlled"] is False
    assert _m(r["2025-04"], "mem")["margin"] == pytest.approx(864 / 4000 - 1)
    assert r["2026-01"]["outcome"] == "not applicable"
    da = e["designed_around"]
    assert (da["rule"], da["threshold"], round(-da["margin_pct"], 1)) == ("2023-10", "pd3.2", 1.7)


def test_rules_ascend_910b():
    e, r = _rules("ascend-910b")
    m = e["metrics"]
    assert m["tpp"] == pytest.approx(364 * 16) and m["pd"] is None and m["io_bw"] == 392
    assert r["2022-10"]["controlled"] is False
    assert _m(r["2022-10"], "io")["margin"] == pytest.approx(392 / 600 - 1)
    # TPP >= 4800 decides 3A090.a although the die area is unknown
    assert (r["2023-10"]["outcome"], r["2023-10"]["paragraph"]) == ("3A090.a", "3A090.a(1)")
    assert _m(r["2023-10"], "pd5.92")["value"] is None
    assert any("die area unknown" in s for s in r["2023-10"]["not_evaluable"])
    assert r["2024-12"]["stack_generation"] == "HBM2E"
    assert _m(r["2024-12"], "density2")["value"] == pytest.approx(409.6 / (7.75 * 11.87))
    assert r["2025-04"]["controlled"] is False and r["2026-01"]["outcome"] == "case-by-case review"
    da = e["designed_around"]
    assert da["rule"] is None and "not a US design" in da["reason"]
    assert da["nearest"]["rule"] == "2022-10" and da["nearest"]["threshold"] == "io"


def test_rules_b200_outside_the_2026_zone_mi300x_just_inside():
    _, r = _rules("b200")
    assert r["2026-01"]["outcome"] == "presumption of denial"
    assert _m(r["2026-01"], "tpp")["margin"] == pytest.approx(36000 / 21000 - 1)
    _, r = _rules("mi300x")
    assert r["2026-01"]["outcome"] == "case-by-case review"
    assert _m(r["2026-01"], "tpp")["margin"] == pytest.approx(2614.9 * 8 / 21000 - 1)   # 0.4 % under


def _metrics(**kw):
    m = {"tpp": 0.0, "pd": None, "io_bw": 0.0, "mem_bw": 0.0, "hbm_density": None,
         "hbm_generation": None, "mem_type": "test"}
    m.update(kw)
    return m


@pytest.mark.parametrize("tpp,io,ctl", [(4800, 600, True), (4799.9, 600, False), (4800, 599.9, False),
                                        (1e5, 1e4, True)])
def test_edge_2022(tpp, io, ctl):
    assert export.evaluate_rule("2022-10", _metrics(tpp=tpp, io_bw=io))["controlled"] is ctl


@pytest.mark.parametrize("tpp,pd,outcome,para", [
    (4800, 0.1, "3A090.a", "3A090.a(1)"), (4799.9, 5.92, "3A090.a", "3A090.a(2)"),
    (1600, 5.92, "3A090.a", "3A090.a(2)"), (1599.9, 5.92, "not controlled", None),
    (2400, 1.6, "3A090.b", "3A090.b(1)"), (2399.9, 3.19, "not controlled", None),
    (2400, 1.599, "not controlled", None), (1600, 3.2, "3A090.b", "3A090.b(2)"),
    (1600, 3.1999, "not controlled", None), (4799.9, 5.9199, "3A090.b", "3A090.b(1)"),
    (2000, None, "not evaluable", None), (1000, None, "not controlled", None),
])
def test_edge_2023(tpp, pd, outcome, para):
    r = export.evaluate_rule("2023-10", _metrics(tpp=tpp, pd=pd))
    assert (r["outcome"], r["paragraph"]) == (outcome, para)
    assert r["controlled"] is (None if outcome == "not evaluable" else outcome != "not controlled")


def test_2023_rule_data_agrees_with_classify_values():
    for t in (1000, 1599.9, 1600, 2000, 2399.9, 2400, 3000, 4799.9, 4800, 16000):
        for pd in (0.5, 1.599, 1.6, 2.9, 3.1999, 3.2, 4, 5.9199, 5.92, 20):
            c = export.classify_values(t, pd)
            r = export.evaluate_rule("2023-10", _metrics(tpp=t, pd=pd))
            assert r["outcome"] == c, (t, pd)


def test_edge_2024_2025_2026():
    hbm = {"hbm_generation": "HBM3"}
    assert export.evaluate_rule("2024-12", _metrics(hbm_density=2.0, **hbm))["stack_outcome"] == "not controlled"
    assert export.evaluate_rule("2024-12", _metrics(hbm_density=2.0001, **hbm))["stack_outcome"] == "3A090.c"
    assert export.evaluate_rule("2025-04", _metrics(mem_bw=4000))["controlled"] is True
    assert export.evaluate_rule("2025-04", _metrics(mem_bw=3999.9, io_bw=899.9))["controlled"] is False
    assert export.evaluate_rule("2025-04", _metrics(), name="h20")["paragraph"] == "named"
    z = lambda t, m, lic=True: export.evaluate_rule("2026-01", _metrics(tpp=t, mem_bw=m), licensed=lic)["outcome"]
    assert z(20999.9, 6499.9) == "case-by-case review"
    assert z(21000, 100) == z(100, 6500) == "presumption of denial"
    assert z(100, 100, lic=False) == "not applicable"


def test_hbm_stack_densities_match_the_published_reading():
    # CSIS (Dec 2024): HBM2 may still go under the exception (< 3.3 GB/s/mm2), HBM2e and later not;
    # BIS: every HBM stack in production exceeds 2 GB/s/mm2
    d = {g: s["bw_gbs"] / s["area_mm2"] for g, s in export_rules.HBM_STACKS.items()}
    assert 2 < d["HBM2"] < 3.3 < d["HBM2E"] < d["HBM3"] < d["HBM3E"]
    assert export.hbm_generation("HBM3-PIM") == "HBM3" and export.hbm_generation("HBM2e") == "HBM2E"
    assert export.hbm_generation("GDDR6") is None


def test_rule_data_has_sources_and_years_in_names():
    keys = [r.key for r in export_rules.RULES]
    assert keys == ["2022-10", "2023-10", "2024-12", "2025-04", "2026-01"]
    for r in export_rules.RULES:
        assert str(r.year) in r.name and r.citation and r.sources and r.confidence
        ids = [t.id for t in r.thresholds]
        assert len(set(ids)) == len(ids)
        assert all(tid in ids for p in r.paragraphs for tid in p.thresholds)


def test_policy_inputs_have_sources():
    for part in export_rules.POLICY_PARTS:
        e = export.evaluate(part)
        for k, v in e["inputs"].items():
            assert v["ref"] and v["confidence"], (part, k)


def test_cli_policy_json_keys(capsys):
    import json

    from nmc.cli import main
    assert main(["policy", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) >= {"margin", "rules", "parts", "hbm_stacks"}
    assert [p["arch"] for p in d["parts"]] == list(export_rules.POLICY_PARTS)
    for p in d["parts"]:
        assert set(p) >= {"arch", "vendor", "year", "metrics", "inputs", "rules", "designed_around"}
        assert [r["rule"] for r in p["rules"]] == ["2022-10", "2023-10", "2024-12", "2025-04", "2026-01"]
        for r in p["rules"]:
            assert set(r) >= {"rule", "name", "year", "kind", "status", "outcome", "controlled",
                              "paragraph", "margins", "nearest_line", "not_evaluable", "citation"}
            assert str(r["year"]) in r["name"]
            for t in r["margins"]:
                assert set(t) >= {"threshold", "line", "metric", "op", "limit", "unit", "value",
                                  "margin", "margin_pct", "meets", "side", "reference"}
    h20 = next(p for p in d["parts"] if p["arch"] == "h20")
    oct23 = next(r for r in h20["rules"] if r["rule"] == "2023-10")
    assert next(t for t in oct23["margins"] if t["threshold"] == "tpp2400")["margin"] == pytest.approx(-1 / 75)
    assert h20["designed_around"]["rule"] == "2023-10"
    assert main(["policy", "--arch", "l20", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("arch,rule,name") and len(lines) == 1 + 2 + 6 + 2 + 2 + 2


def test_policy_table():
    t = export.policy_table(["h20", "l20", "a800-80g-sxm"])
    assert t.count("\n") == 4 and "TPP 1.3 % under 2400" in t and "PD 1.7 % under 3.2" in t
    assert "Oct 2022 I/O line (33.3 % under 600)" in t
    m = export.policy_table(["h20"], kind="margins")
    assert m.count("| h20 |") == 14


def test_docs_policy_table_is_current():
    """docs/policy.md §3 is policy_table()'s output (regenerate: python -c 'from nmc.arch import
    export; print(export.policy_table())')."""
    from pathlib import Path
    doc = (Path(__file__).resolve().parent.parent / "docs" / "policy.md").read_text()
    block = doc.split("<!-- policy_table -->\n", 1)[1].split("\n<!-- /policy_table -->", 1)[0]
    assert block == export.policy_table()


def test_designed_around_needs_a_near_line():
    da = export.designed_around("phone-lpddr5x")          # TPP 360, 92.5 % under 4800
    assert da["rule"] is None and "far under" in da["reason"]
    assert export.DESIGN_NEAR == 0.5
