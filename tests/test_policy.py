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
