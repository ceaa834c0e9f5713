"""Sweep engine: kernel == per-point API, backends agree, resume without duplicates, spec errors,
search, plots and CLI."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

import nmc
from nmc import sweeps as sw
from nmc.cli import main
from nmc.engine.layout import RESULT_FIELDS
from nmc.errors import ConfigError, NmcError, ScenarioError


@pytest.mark.parametrize("phase", ["decode", "prefill", "generate"])
def test_kernel_equals_api_on_random_grid(phase, toy_arch, toy_llm):
    rng = np.random.default_rng(7 + len(phase))
    grid = {
        "mem_bw": sorted(rng.uniform(0.2e12, 8e12, 3)),
        "peak_bf16": sorted(rng.uniform(20e12, 900e12, 2)),
        "kernel_overhead": [0.0, float(rng.uniform(1e-6, 9e-6))],
        "batch": [int(b) for b in sorted(rng.choice(np.arange(1, 200), 3, replace=False))],
        "weights": ["bf16", "int8"],
        "tp": [1, 2],
    }
    scen = {"phase": phase, "context": int(rng.integers(0, 5000)), "prompt": 37, "generate": 5}
    models = [toy_llm, "llama-2-7b", "mixtral-8x7b"]
    t = nmc.sweep(model=models, arch=toy_arch, grid=grid, **scen)
    n = 3 * 3 * 2 * 2 * 3 * 2 * 2
    assert len(t) == n
    rows = rng.choice(n, 25, replace=False)
    paths = dict(zip(t.labels["model"], models))
    for i in rows:
        model = paths[t["model"][i]]
        kw = {k: scen[k] for k in ("context", "prompt", "generate")}
        sc = {k: (t[k][i] if k == "weights" else int(t[k][i])) for k in ("batch", "weights", "tp")}
        r = nmc.analyze(model, toy_arch, phase=phase, **kw, **sc,
                        mem_bw=float(t["mem_bw"][i]), peak_bf16=float(t["peak_bf16"][i]),
                        kernel_overhead=float(t["kernel_overhead"][i]))
        for f in RESULT_FIELDS:
            if f not in t.columns:              # aimc_* columns: written for AIMC sweeps only
                assert f.startswith("aimc_") and r.results[f] is None, f
                continue
            want, got = r.results[f], t.columns[f][i]
            if want is None:
                assert math.isnan(got), (i, f)
            else:
                assert got == pytest.approx(want, rel=1e-12, abs=0), (i, f)


@pytest.mark.parametrize("arch,grid", [
    ("hbm3-pim", {"pim_banks": [16, 32], "pim_unit_flops": ["10 GFLOPS", "40 GFLOPS"],
                  "mapping": ["host-only", "pim-gemv", "auto"], "batch": [1, 16]}),
    ("ibm-hermes", {"batch": [1, 4], "context": [0, 300]}),
])
def test_kernel_equals_api_other_families(arch, grid):
    """PIM and AIMC presets (other family blocks, mapping names) through the same path."""
    t = nmc.sweep("tinyllama-1.1b", arch, grid, phase="decode")
    for i in range(len(t)):
        kw = {k: (t[k][i] if isinstance(t[k][i], str) else
                  (int(t[k][i]) if k in sw.spec.INT_FIELDS else float(t[k][i]))) for k in t.params}
        r = nmc.analyze("tinyllama-1.1b", arch, phase="decode", **kw)
        for f in RESULT_FIELDS:
            if f not in t.columns:              # aimc_* columns: written for AIMC sweeps only
                assert f.startswith("aimc_") and r.results[f] is None, f
                continue
            want, got = r.results[f], t.columns[f][i]
            if want is None:
                assert math.isnan(got), (i, f)
            else:
                assert got == pytest.approx(want, rel=1e-12, abs=0), (i, f, kw)


def test_kernel_grid_order_does_not_matter(toy_arch):
    """Arch axes innermost (ops reused) or outermost (ops rebuilt each point): same numbers."""
    from nmc.engine import evaluate_grid
    plan = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 3, 9], "mem_bw": [1e12, 2e12, 5e12]},
                        {"phase": "decode", "context": 100})
    out1 = sw.eval_range(plan.payload(), 0, 9, n_chunks=2)
    # same axes, dims swapped: mem_bw outer, batch inner
    out2 = sw.result_buffer(9)
    assert out2.shape[0] >= 9 and out2.flags.f_contiguous
    ad = 1 - plan.ax_dim
    evaluate_grid(plan.m0, plan.s0, plan.a0, plan.ax_target, plan.ax_index, ad, plan.ax_values,
                  plan.dim_sizes[::-1].copy(), 0, 9, out2, 3)
    perm = np.arange(9).reshape(3, 3).T.ravel()
    np.testing.assert_array_equal(out1, out2[:9][perm])


def test_sweep_columns_and_shares(toy_arch):
    t = nmc.sweep("llama-2-7b", toy_arch, {"batch": [1, 512]}, context=64)
    shares = np.column_stack([t[c] for c in sw.SHARE_COLS])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-12)
    assert list(t["bound"]) == ["memory", "compute"]      # GEMV vs batch-512 GEMM on the toy
    assert t.params == ["batch"]
    assert list(t.keys())[:2] == ["batch", "latency_s"]


def test_zipped_parameters_and_units(toy_arch):
    t = nmc.sweep("llama-2-7b", toy_arch,
                  {"mem_bw,mem_capacity": [["2 TB/s", "8 GB"], ["3 TB/s", "64 GB"]],
                   "context": {"linspace": [0, 1000, 3]}})
    assert len(t) == 6
    # scenario dims outer, arch dims inner (consecutive points share one operator table)
    assert t.params == ["context", "mem_bw", "mem_capacity"]
    assert list(t["mem_bw"][:2]) == [2e12, 3e12]
    assert list(t["mem_capacity"][:2]) == [8e9, 64e9]
    assert list(t["fits"][:2]) == [0.0, 1.0]          # 13.5 GB of bf16 weights
    assert list(t["context"][::2]) == [0.0, 500.0, 1000.0]


def test_logspace_endpoints_are_values(toy_arch):
    t = nmc.sweep("llama-2-7b", toy_arch, {"mem_bw": {"logspace": ["1 TB/s", "100 TB/s", 3]}})
    np.testing.assert_allclose(t["mem_bw"], [1e12, 1e13, 1e14], rtol=1e-12)


def test_several_archs_are_a_dimension(toy_arch, tmp_path):
    text = Path(toy_arch).read_text().replace('name = "toy-arch"', 'name = "toy-fast"').replace(
        'mem_bw = "1 TB/s"', 'mem_bw = "4 TB/s"')
    fast = tmp_path / "toy-fast.toml"
    fast.write_text(text)
    t = nmc.sweep("llama-2-7b", [toy_arch, str(fast)], {"batch": [1, 2]})
    assert list(t["arch"]) == ["toy-arch", "toy-arch", "toy-fast", "toy-fast"]
    # swept over the arch dim, a grid parameter still wins over each preset's value
    t2 = nmc.sweep("llama-2-7b", [toy_arch, str(fast)], {"mem_bw": [2e12]})
    assert t2["tokens_per_s"][0] == t2["tokens_per_s"][1]


# ---- resumable output --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_resume_after_interruption(fmt, toy_arch, tmp_path):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    grid = {"batch": [1, 2, 4, 8, 16], "mem_bw": {"linspace": ["1 TB/s", "4 TB/s", 7]}}
    plan = sw.make_plan("llama-2-7b", toy_arch, grid, {"context": 128})
    out = tmp_path / "res"
    with pytest.raises(KeyboardInterrupt):
        sw.run(plan, out, chunk_size=4, fmt=fmt, progress=False, _stop_after=3)
    man = json.loads((out / sw.MANIFEST).read_text())
    assert len(man["chunks"]) == 3 and not man["complete"]
    first = {c["file"]: os.path.getmtime(out / c["file"]) for c in man["chunks"].values()}
    partial = sw.load(out)
    assert len(partial) == 12
    # a half-written chunk (temp file) left by a crash is ignored and overwritten
    (out / "chunk-000003.csv.tmp").write_text("garbage")
    man = sw.run(plan, out, chunk_size=4, fmt=fmt, progress=False)
    assert man["complete"] and len(man["chunks"]) == 9
    for f, mt in first.items():
        assert os.path.getmtime(out / f) == mt            # finished chunks were not redone
    t = sw.load(out)
    full = nmc.sweep("llama-2-7b", toy_arch, grid, context=128)
    assert len(t) == 35
    keys = set(zip(t["batch"], t["mem_bw"]))
    assert len(keys) == 35                                # no duplicates
    for k in full:
        np.testing.assert_array_equal(t.columns[k], full.columns[k])


def test_chunks_in_memory_equal_one_chunk(toy_arch):
    """Chunk buffers are reused: chunks kept in memory must own their values."""
    plan = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 2, 4, 8, 16], "context": [8, 900]})
    def joined(r):
        ch = [r["chunks"][i] for i in sorted(r["chunks"])]
        return {k: np.concatenate([c[k] for c in ch]) for k in r["columns"]}
    one = joined(sw.run(plan, None, progress=False))
    many = joined(sw.run(plan, None, chunk_size=3, progress=False))
    assert list(many) == list(one) and len(one["batch"]) == 10
    for k in one:
        np.testing.assert_array_equal(many[k], one[k])


def test_aimc_columns_only_where_a_point_is_aimc(toy_arch):
    gpu = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 2]})
    assert not gpu.has_aimc and not any(c.startswith("aimc_") for c in gpu.result_columns)
    # asked for by name: kept (NaN on a GPU)
    kept = nmc.sweep("llama-2-7b", toy_arch, {"batch": [1, 2]},
                     columns=["latency_s", "aimc_tiles_needed"])
    assert list(kept.keys()) == ["batch", "latency_s", "aimc_tiles_needed"]
    assert np.isnan(kept["aimc_tiles_needed"]).all()
    if "ibm-hermes" in nmc.list_archs():
        aimc = sw.make_plan("tinyllama-1.1b", "ibm-hermes", {"batch": [1, 2]})
        assert aimc.has_aimc and "aimc_tiles_needed" in aimc.result_columns
        # an AIMC chip only in a swept arch list still gets the columns
        both = sw.make_plan("tinyllama-1.1b", [toy_arch, "ibm-hermes"], {"batch": [1]})
        assert both.has_aimc
        t = nmc.sweep("tinyllama-1.1b", [toy_arch, "ibm-hermes"], {"batch": [1]})
        assert np.isnan(t["aimc_tiles_needed"][0]) and t["aimc_tiles_needed"][1] >= 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_float32_precision_on_disk(fmt, toy_arch, tmp_path):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    grid = {"batch": [1, 3, 64], "mem_bw": ["1 TB/s", "3.35 TB/s"]}
    full = nmc.sweep("llama-2-7b", toy_arch, grid, context=300)
    t = nmc.sweep("llama-2-7b", toy_arch, grid, context=300, out=tmp_path / "d",
                  format=fmt, precision="float32", chunk_size=4)
    assert t.meta["precision"] == "float32"
    np.testing.assert_array_equal(t["mem_bw"], full["mem_bw"])     # parameters stay exact
    for k in ("latency_s", "tokens_per_s", "energy_per_token_j", "share_memory"):
        assert t[k].dtype == np.float32
        np.testing.assert_allclose(t[k], full[k], rtol=1e-7)
        assert not np.array_equal(t[k].astype(float), full[k])   # really rounded
    # a resumed run must not mix precisions
    with pytest.raises(ConfigError, match="precision"):
        sw.run(sw.make_plan("llama-2-7b", toy_arch, grid, {"context": 300}), tmp_path / "d",
               chunk_size=4, fmt=fmt, progress=False)
    with pytest.raises(ConfigError, match="precision must be one of"):
        nmc.sweep("llama-2-7b", toy_arch, grid, out=tmp_path / "e", precision="half")


def test_one_writer_per_directory(toy_arch, tmp_path):
    plan = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 2]})
    import socket
    (tmp_path / ".lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")   # alive: us
    with pytest.raises(ConfigError, match="another sweep .* is writing here"):
        sw.run(plan, tmp_path, fmt="csv", progress=False)
    (tmp_path / ".lock").write_text(f"999999999 {socket.gethostname()}\n")       # dead: taken over
    assert sw.run(plan, tmp_path, fmt="csv", progress=False)["complete"]
    assert not (tmp_path / ".lock").exists()


def test_output_of_another_sweep_is_not_mixed(toy_arch, tmp_path):
    sw.run(sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 2]}), tmp_path, fmt="csv",
           progress=False)
    other = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 3]})
    with pytest.raises(ConfigError, match="different sweep"):
        sw.run(other, tmp_path, fmt="csv", progress=False)
    man = sw.run(other, tmp_path, fmt="csv", progress=False, overwrite=True)
    assert man["complete"]
    assert list(sw.load(tmp_path)["batch"]) == [1.0, 3.0]


def test_dask_backend_equals_local(toy_arch, tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = {"batch": [1, 4, 16], "mem_bw": [1e12, 3e12], "weights": ["bf16", "fp8"]}
    local = nmc.sweep(["llama-2-7b", "mixtral-8x7b"], toy_arch, grid, context=300)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        remote = nmc.sweep(["llama-2-7b", "mixtral-8x7b"], toy_arch, grid, context=300,
                           client=client, out=tmp_path / "d", chunk_size=5, format="csv")
    assert len(remote) == len(local) == 24
    for k in local:
        np.testing.assert_array_equal(remote.columns[k], local.columns[k])


def test_to_pandas(toy_arch):
    pd = pytest.importorskip("pandas")
    t = nmc.sweep("llama-2-7b", toy_arch, {"weights": ["bf16", "int4"], "batch": [1, 2]})
    df = t.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert list(df["weights"].astype(str)) == ["bf16", "bf16", "int4", "int4"]
    assert set(df["bound"].astype(str)) <= {"compute", "memory", "latency", "comm"}


# ---- spec parsing and errors -------------------------------------------------------------------
SPEC = """name = "t"
model = "llama-2-7b"
arch = "{arch}"

[scenario]
phase = "decode"
context = 512

[grid]
batch = [1, 2]
{extra}
"""


def _spec(tmp_path, toy_arch, extra="", head=""):
    p = tmp_path / "spec.toml"
    p.write_text(head + SPEC.format(arch=toy_arch, extra=extra))
    return p


def test_spec_roundtrip(tmp_path, toy_arch):
    p = _spec(tmp_path, toy_arch, 'mem_bw = { logspace = ["1 TB/s", "8 TB/s", 4] }\n'
                                  '"weights,kv" = [["bf16", "bf16"], ["int8", "fp8"]]')
    spec = sw.load_spec(p)
    plan = sw.plan_from_spec(spec)
    assert plan.n_points == 2 * 4 * 2
    assert plan.param_names == ["batch", "weights", "kv", "mem_bw"]   # arch params innermost


@pytest.mark.parametrize("extra,match", [
    ("mem_bww = [1e12]", r"line 11 \(grid.mem_bww\): unknown parameter 'mem_bww'; did you mean mem_bw"),
    ("mem_bw = { linspace = [1e12, 2e12, 0] }", r"line 11 .*empty range"),
    ("mem_bw = []", r"line 11 .*empty list"),
    ("mem_bw = [-1e12]", r"line 11 .*mem_bw = -1e\+12 is out of range"),
    ("context = [-5]", r"line 11 .*context must be an integer from 0 to 1e9"),
    ("weights = [\"bf17\"]", r"line 11 .*'bf17' is not a weights; allowed: fp32, bf16"),
    ("mem_bw = { range = [1, 2, 3] }", r"line 11 .*unknown range 'range'"),
    ("\"mem_bw,mem_capacity\" = [[1e12]]", r"line 11 .*tuple of 2 values"),
    ("mem_bw = [\"3 TFLOPS\"]", r"line 11 .*unit 'TFLOPS' is not a bw unit"),
    ("batch2 = [1]\nn_layers = [3]", r"line 11 .*unknown parameter 'batch2'"),
    ("n_layers = [3]", r"line 11 .*model dimension"),
])
def test_malformed_specs_name_the_line(tmp_path, toy_arch, extra, match):
    p = _spec(tmp_path, toy_arch, extra)
    with pytest.raises((ConfigError, ScenarioError), match=match):
        sw.plan_from_spec(sw.load_spec(p))


def test_malformed_spec_top_level(tmp_path, toy_arch):
    p = _spec(tmp_path, toy_arch, head="modle = 1\n")
    with pytest.raises(ConfigError, match=r"line 1 \(modle\): unknown key 'modle'; did you mean model"):
        sw.load_spec(p)
    p.write_text(f'model = "llama-2-7b"\narch = "{toy_arch}"\n[grid]\n')
    with pytest.raises(ConfigError, match="grid.*empty"):
        sw.load_spec(p)
    p.write_text(f'model = "llama-2-7b"\narch = "{toy_arch}"\n[scenario]\nbatchh = 2\n[grid]\nbatch=[1]\n')
    with pytest.raises(ConfigError, match=r"line 4 \(scenario.batchh\).*did you mean batch"):
        sw.load_spec(p)
    p.write_text("model = [\n")
    with pytest.raises(ConfigError, match="malformed TOML"):
        sw.load_spec(p)
    p.write_text(f'model = "llama-2-7b"\narch = "{toy_arch}"\nprecision = "f16"\n[grid]\nbatch=[1]\n')
    with pytest.raises(ConfigError, match=r"line 3 \(precision\): precision must be one of "
                                          r"float64, float32, got 'f16'"):
        sw.load_spec(p)


def test_columns_subset(tmp_path, toy_arch):
    t = nmc.sweep("llama-2-7b", toy_arch, {"batch": [1, 2]}, columns=["tokens_per_s", "bound"],
                  out=tmp_path / "o", format="csv")
    assert list(t.keys()) == ["batch", "tokens_per_s", "bound"]
    full = nmc.sweep("llama-2-7b", toy_arch, {"batch": [1, 2]})
    np.testing.assert_array_equal(t["tokens_per_s"], full["tokens_per_s"])
    with pytest.raises(ConfigError, match="unknown result column 'tokens'; did you mean tokens_per_s"):
        nmc.sweep("llama-2-7b", toy_arch, {"batch": [1]}, columns=["tokens"])


def test_set_section_is_checked(tmp_path, toy_arch):
    p = _spec(tmp_path, toy_arch)
    p.write_text(p.read_text().replace("[grid]", '[set]\nkernel_overhead = "-3 us"\n\n[grid]'))
    with pytest.raises(ConfigError, match=r"line 10 \(set.kernel_overhead\).*out of range"):
        sw.plan_from_spec(sw.load_spec(p))


def test_tp_must_divide_heads(toy_arch):
    with pytest.raises(ScenarioError, match="tp=3 must divide the number of attention heads \\(32\\)"):
        nmc.sweep("llama-2-7b", toy_arch, {"tp": [1, 3]})
    with pytest.raises(ScenarioError, match="tp=16 exceeds devices_per_node=8"):
        nmc.sweep("llama-2-7b", toy_arch, {"tp": [1, 16]})


def test_inconsistent_arch_values(toy_arch):
    with pytest.raises(ConfigError, match=r"grid.sram_bw.*sram_bw is set but sram_capacity is 0"):
        nmc.sweep("llama-2-7b", toy_arch, {"sram_bw": [0.0, 1e13]})
    t = nmc.sweep("llama-2-7b", toy_arch, {"sram_bw,sram_capacity": [[0.0, 0.0], [1e13, 4e7]]})
    assert len(t) == 2


# ---- search --------------------------------------------------------------------------------------
def test_search_min_bandwidth_meets_target(toy_arch):
    target = 150.0
    r = nmc.search("llama-2-7b", toy_arch, "mem_bw", target, batch=1, context=1024)
    assert r.direction == "min" and r.value is not None
    assert r.achieved >= target
    below = nmc.analyze("llama-2-7b", toy_arch, batch=1, context=1024, mem_bw=r.value * (1 - 1e-5))
    assert below.tokens_per_s < target
    assert r.achieved == pytest.approx(target, rel=1e-5)
    # hand check: decode at batch 1 is memory bound, t = bytes/bw + latency terms
    hi = nmc.analyze("llama-2-7b", toy_arch, batch=1, context=1024, mem_bw=r.value)
    assert hi.bound == "memory"


def test_search_integer_and_unreachable(toy_arch):
    # at a fixed peak, more SMs with 128x128 tiles lose to wave quantization: the search
    # reports the largest core count that still meets the target, on integers
    fixed = {"tile_m": 128, "tile_n": 128, "mma_m": 16, "peak_bf16": 1e15, "mem_bw": 1e13}
    kw = {"phase": "prefill", "batch": 1, "prompt": 512}
    r = nmc.search("llama-2-7b", toy_arch, "n_cores", 60000, lo=1, hi=512, arch_set=fixed, **kw)
    assert r.direction == "max" and r.value == int(r.value)
    at = nmc.analyze("llama-2-7b", toy_arch, n_cores=r.value, **fixed, **kw).tokens_per_s
    more = nmc.analyze("llama-2-7b", toy_arch, n_cores=r.value + 1, **fixed, **kw).tokens_per_s
    assert at >= 60000 > more
    r = nmc.search("llama-2-7b", toy_arch, "mem_bw", 1e9, batch=1)
    assert r.value is None and "not reachable" in r.message
    r = nmc.search("llama-2-7b", toy_arch, "kernel_overhead", 50.0, batch=1, lo=0.0, hi=1e-3)
    assert r.direction == "max"          # less overhead is better: the largest tolerable value
    assert r.achieved >= 50.0


# ---- plots and CLI -------------------------------------------------------------------------------
def test_cli_sweep_plot_search(tmp_path, toy_arch, capsys):
    p = _spec(tmp_path, toy_arch, 'mem_bw = { logspace = ["1 TB/s", "8 TB/s", 4] }\n'
                                  'peak_bf16 = ["50 TFLOPS", "100 TFLOPS"]')
    out = tmp_path / "res"
    assert main(["sweep", str(p), "-o", str(out), "-q", "--format", "csv"]) == 0
    assert "16 of 16 points" in capsys.readouterr().out
    assert main(["plot", str(out), "--x", "mem_bw", "--y", "batch", "--metric",
                 "tokens_per_s"]) == 0
    assert (out / "heatmap.png").stat().st_size > 1000
    assert main(["plot", str(out), "--kind", "line", "--x", "mem_bw", "--metric", "latency_s",
                 "--by", "batch", "--where", "peak_bf16=1e14", "-o", str(tmp_path / "l.png")]) == 0
    assert (tmp_path / "l.png").exists()
    assert main(["plot", str(out), "--kind", "pareto", "--x", "tokens_per_s", "--y",
                 "energy_per_token_j", "-o", str(tmp_path / "p.png")]) == 0
    assert main(["plot", str(out), "--x", "nope", "--y", "batch", "--metric", "x"]) == 2
    capsys.readouterr()
    assert main(["search", "--model", "llama-2-7b", "--arch", toy_arch, "--param", "mem_bw",
                 "--target", "100", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["achieved"] >= 100 and r["direction"] == "min"
    bad = tmp_path / "bad.toml"
    bad.write_text(f'model = "llama-2-7b"\narch = "{toy_arch}"\n[grid]\nbatch = [0]\n')
    assert main(["sweep", str(bad), "-o", str(tmp_path / "b")]) == 2
    assert "line 4" in capsys.readouterr().err


def test_pareto_mask_by_hand():
    from nmc.plot.sweep import pareto_mask
    x = np.array([1.0, 2.0, 3.0, 2.0, 3.0])        # maximise
    y = np.array([1.0, 2.0, 5.0, 1.5, 4.0])        # minimise
    assert list(pareto_mask(x, y)) == [True, False, False, True, True]


def test_bench_json_quick(capsys, monkeypatch):
    from nmc.report import bench
    monkeypatch.setattr(bench, "bench_grid", lambda quick: {"mem_bw": [1e12, 2e12],
                                                             "peak_bf16": [1e14],
                                                             "batch": [1, 2], "context": [64]})
    assert main(["bench", "--json", "--quick", "--no-disk"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["kernel_points_per_s"] > 0 and r["api_points_per_s"] > 0
    assert set(r["models"]) == {"dense-7b", "moe", "dense-70b"}


def test_user_errors_are_nmc_errors(toy_arch):
    with pytest.raises(NmcError):
        nmc.sweep("llama-2-7b", toy_arch, {"batch": []})
    with pytest.raises(NmcError, match="unknown metric"):
        nmc.search("llama-2-7b", toy_arch, "mem_bw", 1.0, metric="speed")
