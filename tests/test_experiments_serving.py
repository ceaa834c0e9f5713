"""Smoke tests of the serving experiments (issue 14, item 7: experiments/serving_export.py,
serving_pim.py, serving_edge.py --quick into tmp_path): they run, write CSV + PNG, and their
numbers obey what must hold (a price only where one is sourced, FP8 only on parts with FP8
units, near-memory decode never slower than the GPU it is built on, ...)."""
from __future__ import annotations

import pytest
from exp_helpers import check_png, num, read_rows, run_script


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("serving_experiments")


def test_serving_export(out):
    d = out / "a"
    run_script("serving_export", d)
    check_png(d / "serving_export.png")
    rows = {(r["workload"], r["arch"]): r for r in read_rows(d / "serving_export.csv")}
    assert len(rows) == 12
    for (wk, arch), r in rows.items():
        # FP8 for the MoE where the part has FP8 units; BF16 on A800 and 910B and for the dense
        want = "fp8" if wk == "moe" and arch not in ("a800-80g-sxm", "ascend-910b") else "bf16"
        assert r["dtype"] == want
        if r["feasible"] != "True":
            continue
        assert int(r["devices"]) == int(r["units"]) * int(r["devices_per_unit"])
        assert num(r["rate_per_device"]) == pytest.approx(20.0 / int(r["devices"]))
        assert num(r["mj_per_million_tokens"]) > 0
        # a cost only where the preset carries a sourced price (h100-sxm)
        assert (r["usd_per_million_tokens"] != "") == (arch == "h100-sxm")
        if wk == "moe":                                 # expert parallelism over >= 2 groups
            assert " ep" in r["layout"]
    # a PCIe part without HBM needs more devices than an H100 for the same service
    assert int(rows[("dense", "l20")]["devices"]) > int(rows[("dense", "h100-sxm")]["devices"])


def test_serving_pim(out):
    d = out / "b"
    run_script("serving_pim", d)
    check_png(d / "serving_pim.png")
    rows = {(r["workload"], r["config"].split(" (")[0]): r for r in read_rows(d / "serving_pim.csv")}
    for wk in ("reasoning", "long context"):
        gpu, pim = rows[(wk, "GPU")], rows[(wk, "GPU+PIM")]
        assert int(gpu["devices"]) == int(pim["devices"]) == 8
        # PIM units take the KV-bound attention of decode: never a lower rate, less energy
        assert num(pim["rate_at_slo"]) >= num(gpu["rate_at_slo"])
        assert num(pim["energy_per_token_j"]) < num(gpu["energy_per_token_j"])
    sweep = read_rows(d / "serving_pim_sweep.csv")
    assert {s["config"].split(" (")[0] for s in sweep} == {"GPU", "GPU+PIM", "disaggregated"}


def test_serving_edge(out):
    d = out / "c"
    run_script("serving_edge", d)
    check_png(d / "serving_edge.png")
    rows = [r for r in read_rows(d / "serving_edge.csv") if r["fits"] == "True"]
    by = {}
    for r in rows:
        by.setdefault((r["arch"], r["model"]), []).append(r)
    assert len(by) == 8
    for pts in by.values():
        pts.sort(key=lambda r: int(r["users"]))
        # more users sharing the box never speed up each user's decode
        speeds = [num(r["tokens_per_s_per_user"]) for r in pts]
        assert all(b <= a * 1.001 for a, b in zip(speeds, speeds[1:]))
        assert all(num(r["energy_per_token_j"]) > 0 for r in pts)
    # a 70B model decodes slower than a 30B-A3B MoE on the same box
    for arch in ("jetson-agx-orin-64g", "apple-m2-ultra"):
        assert num(by[(arch, "llama-3-70b")][0]["tokens_per_s_per_user"]) < \
            num(by[(arch, "qwen3-30b-a3b")][0]["tokens_per_s_per_user"])
