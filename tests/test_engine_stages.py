"""The host cost in two stages (docs/sweep.md, "Two stages per operator"): structure
(gpu_shape, prepare_host) and rates (gpu_rates, class_rate, cost_host). The sweep keeps the
structure while only RATE_PARAMS move, so these tests pin down that split."""
import math

import numpy as np
import pytest

import nmc
from nmc import sweeps as sw
from nmc.arch.schema import INDEX, PARAMS
from nmc.engine import gpu
from nmc.engine.layout import N_PREP, N_PX, PX_ACTIVE, PX_W
from nmc.engine.passes import prepare_host
from nmc.engine.layout import N_OF, N_SLOTS, S_ADT, S_KVDT, S_RUNTIME, S_TP, S_WDT
from nmc.engine.ops import build_ops
from nmc.engine.vectors import model_vector, scenario_vector
from nmc.workload.model import load_model
from nmc.workload.scenario import Scenario

NAMES = {i: p.name for i, p in enumerate(PARAMS)}


def _structure(model, a, *, batch=4, context=700, tp=2, phase="decode", weights="bf16"):
    """prepare_host's tables for one pass (decode: q=1, context c)."""
    m = model_vector(load_model(model))
    s = scenario_vector(Scenario(phase=phase, batch=batch, context=context, tp=tp,
                                 weights=weights))
    ops = np.zeros((N_SLOTS, N_OF))
    build_ops(m, float(batch), 1.0, float(context), s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT],
              s[S_RUNTIME], ops)
    prep = np.full((N_PREP, N_SLOTS), np.nan)
    px = np.full(N_PX, np.nan)
    prepare_host(ops, a, s[S_TP], prep, px)
    j = int(px[PX_ACTIVE])
    return prep[:, :j].copy(), px[:PX_W].copy()


@pytest.mark.parametrize("model", ["llama-2-7b", "mixtral-8x7b"])
def test_rate_params_leave_the_structure_unchanged(model):
    a0 = nmc.load_arch("h100-sxm").vector()
    prep0, px0 = _structure(model, a0)
    assert prep0.shape[1] > 5 and px0[PX_ACTIVE] == prep0.shape[1]
    for i in gpu.RATE_PARAMS:
        a = a0.copy()
        a[i] = a[i] * 1.7 + 0.3          # also moves entries that are 0 in the preset
        prep, px = _structure(model, a)
        np.testing.assert_array_equal(prep, prep0, err_msg=NAMES[i])
        np.testing.assert_array_equal(px, px0, err_msg=NAMES[i])


@pytest.mark.parametrize("name", ["tile_m", "tile_n", "n_cores", "mma_m"])
def test_structure_params_move_the_structure(name):
    """The negative control: a parameter outside RATE_PARAMS does change prep, so the test
    above could fail (and the sweep must redo the structure stage when one moves)."""
    assert INDEX[name] not in gpu.RATE_PARAMS
    a0 = nmc.load_arch("h100-sxm").vector()
    a = a0.copy()
    a[INDEX[name]] *= 0.5
    # batch 96: M above the MMA height, so mma_m pads; few tiles, so n_cores sets the waves
    assert not np.array_equal(_structure("llama-2-7b", a, batch=96)[0],
                              _structure("llama-2-7b", a0, batch=96)[0])


def _compare(t, model, arch, fixed, rows):
    for i in rows:
        kw = {k: (t[k][i] if isinstance(t[k][i], str) else
                  (int(t[k][i]) if k in sw.spec.INT_FIELDS else float(t[k][i]))) for k in t.params}
        r = nmc.analyze(model, arch, **fixed, **kw)
        for f, want in r.results.items():
            if f not in t.columns:
                assert want is None, f
                continue
            got = t.columns[f][i]             # raw values (bound as its code, like results)
            if want is None:
                assert math.isnan(got), (i, f)
            else:
                assert got == pytest.approx(want, rel=1e-12, abs=0), (i, f, kw)


RATE_GRID = {"eff_mem": [0.6, 0.93], "link_bw": ["100 GB/s", "900 GB/s"],
             "sram_bw": [0, "30 TB/s"], "e_mem": [5e-12, 9e-12], "peak_fp8": ["1 PFLOPS", "3 PFLOPS"],
             "kernel_overhead": [0, 4e-6], "link_latency": [1e-6, 8e-6]}


@pytest.mark.parametrize("order", ["rates-inner", "structure-inner"])
def test_sweep_over_rates_equals_api(order):
    """Rate axes (structure reused across them) with scenario axes, in two nestings: every
    point equals nmc.analyze to 1e-12."""
    rng = np.random.default_rng(7)
    pick = {k: RATE_GRID[k] for k in rng.choice(list(RATE_GRID), 4, replace=False)}
    scen = {"batch": [1, 96], "weights": ["bf16", "fp8"]}
    grid = {**scen, **pick} if order == "rates-inner" else {**pick, **scen}
    fixed = {"phase": "decode", "context": 900, "tp": 2}
    t = nmc.sweep("llama-2-7b", "h100-sxm", grid, **fixed)
    assert len(t) == 4 * 16
    _compare(t, "llama-2-7b", "h100-sxm", fixed, range(len(t)))


@pytest.mark.parametrize("name,values", [("tile_m", [64, 128]), ("tile_n", [64, 256]),
                                         ("n_cores", [40, 132]), ("mma_m", [16, 64])])
@pytest.mark.parametrize("inner", [True, False])
def test_sweep_over_a_structure_param_equals_api(name, values, inner):
    """A structural axis next to rate axes: innermost (the structure stage must be redone at
    every step although only an arch entry moved) or outermost."""
    rates = {"eff_mem": [0.7, 0.9], "link_bw": ["100 GB/s", "900 GB/s"]}
    grid = {"batch": [1, 96], **rates, name: values} if inner else \
        {"batch": [1, 96], name: values, **rates}
    fixed = {"phase": "decode", "context": 900, "tp": 2}
    t = nmc.sweep("llama-2-7b", "h100-sxm", grid, **fixed)
    assert t.params[-1] == (name if inner else "link_bw")
    _compare(t, "llama-2-7b", "h100-sxm", fixed, range(len(t)))


@pytest.mark.parametrize("phase", ["prefill", "generate"])
def test_sweep_other_phases_equal_api(phase):
    rng = np.random.default_rng(3)
    grid = {"mem_bw": ["1 TB/s", "4 TB/s"], "peak_bf16": ["300 TFLOPS", "1 PFLOPS"],
            "tile_n": [128, 256], "batch": [1, 8]}
    fixed = {"phase": phase, "prompt": 300, "generate": 5}
    t = nmc.sweep("mixtral-8x7b", "h100-sxm", grid, **fixed)
    _compare(t, "mixtral-8x7b", "h100-sxm", fixed, rng.choice(len(t), 12, replace=False))


@pytest.mark.parametrize("phase,tp", [("decode", 1), ("decode", 4), ("prefill", 2)])
def test_operator_rows_sum_to_the_totals(phase, tp):
    """The per-operator breakdown (gpu_time per row) and the pass totals (cost_host's sums of
    rate x per-pass sums) are two orders of the same sums: equal to rounding."""
    r = nmc.analyze("llama-2-70b", "h100-sxm", phase=phase, batch=8, context=2000, prompt=500,
                    tp=tp)
    res = r.results
    assert sum(row["time_s"] for row in r.ops) == pytest.approx(res["latency_s"], rel=1e-12)
    a = r.arch
    op_energy = sum(row["energy_j"] for row in r.ops)
    want = (op_energy + a["p_static"] * res["latency_s"]) * tp
    assert res["energy_j"] == pytest.approx(want, rel=1e-12)
