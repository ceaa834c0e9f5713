"""The one pass loop (nmc/engine/passes.py): a training step's forward pass is an inference
prefill pass of the same shape except for the rows the training changes, the accumulator
adds up, and importing nmc leaves numba's global cache setting alone."""
import subprocess
import sys

import numpy as np
import pytest

import nmc
from nmc.analysis.training import train
from nmc.engine import layout as L
from nmc.engine.ops import build_ops
from nmc.engine.passes import add_row, cost_rows
from nmc.engine.train import SEL_ALL, select_rows, train_fwd_table
from nmc.engine.vectors import model_vector

# the rows a training forward pass changes: no KV cache written (attention score row), and the
# final norm and LM head run on every position instead of the last one of each sequence
TRAINING_ROWS = {L.OP_SCORE, L.OP_FNORM, L.OP_LMHEAD}


@pytest.mark.parametrize("model,mb,seq", [("llama-2-7b", 2, 512), ("qwen2-57b-a14b", 1, 256),
                                          ("tinyllama-1.1b", 4, 128)])
def test_training_forward_is_a_prefill_pass_except_named_rows(model, mb, seq):
    spec = nmc.load_model(model)
    arch = nmc.load_arch("h100-sxm")
    m, a = model_vector(spec), arch.vector()
    bf16 = 1.0
    fwd = np.empty((L.N_SLOTS, L.N_OF))
    train_fwd_table(m, m[L.M_LAYERS], mb, seq, 1.0, 1.0, bf16, bf16, True, True, False, fwd)
    pre = np.empty((L.N_SLOTS, L.N_OF))
    build_ops(m, mb, seq, 0.0, 1.0, bf16, bf16, bf16, float(L.RUN_FUSED), pre)   # training's mode
    for i in range(L.N_SLOTS):
        if i not in TRAINING_ROWS:
            np.testing.assert_array_equal(fwd[i], pre[i], err_msg=L.OP_NAMES[i])
    # what the named rows change, by hand
    T, d, V = mb * seq, spec.d_model, spec.vocab
    assert pre[L.OP_LMHEAD, L.O_FLOPS] == 2 * mb * V * d
    assert fwd[L.OP_LMHEAD, L.O_FLOPS] == 2 * T * V * d
    assert fwd[L.OP_SCORE, L.O_KVWR] == 0 < pre[L.OP_SCORE, L.O_KVWR]

    # the training step's forward time = the prefill's per-operator times on the unchanged rows
    # + the training rows priced by the same pass loop
    r = train(model, arch, devices=1, global_batch=mb, micro_batch=mb, seq=seq,
              recompute="none", zero=0)
    rep = nmc.analyze(model, arch, phase="prefill", batch=mb, prompt=seq, runtime="fused")
    same = sum(o["time_s"] for o in rep.ops if L.OP_NAMES.index(o["name"]) not in TRAINING_ROWS)
    s = np.zeros(L.N_SCEN)
    s[L.S_TP] = 1.0
    s[L.S_RUNTIME] = L.RUN_FUSED
    only = np.empty((L.N_SLOTS, L.N_OF))
    select_rows(fwd, SEL_ALL, only)
    for i in range(L.N_SLOTS):
        if i not in TRAINING_ROWS:
            only[i, L.O_COUNT] = 0.0
    terms = np.empty((L.N_SLOTS, L.N_TERMS))
    changed = cost_rows(only, a, s, terms, np.zeros(L.N_ACC), True)
    assert r.results["t_forward_mb_s"] == pytest.approx(same + changed, rel=1e-12)


def test_add_row_accumulates_the_larger_of_compute_and_memory():
    acc = np.zeros(L.N_ACC)
    t = add_row(acc, 3.0, 2e-6, 5e-6, 1e-6, 0.5e-6, 1e-3, 10.0, 100.0)
    assert t == pytest.approx(3 * (5e-6 + 1e-6 + 0.5e-6))
    assert acc[L.ACC_MEM] == pytest.approx(15e-6) and acc[L.ACC_COMPUTE] == 0.0
    assert acc[L.ACC_LAT] == pytest.approx(3e-6) and acc[L.ACC_COMM] == pytest.approx(1.5e-6)
    assert (acc[L.ACC_ENERGY], acc[L.ACC_FLOPS], acc[L.ACC_DRAM]) == pytest.approx((3e-3, 30, 300))
    add_row(acc, 1.0, 4e-6, 1e-6, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert acc[L.ACC_COMPUTE] == pytest.approx(4e-6)


def test_importing_nmc_keeps_numba_cache_dir():
    """nmc caches its kernels under its own directory without setting numba.config.CACHE_DIR
    for the user's numba code (docs/architecture.md, nmc/engine/cache.py)."""
    code = ("import numba.core.config as c; before = c.CACHE_DIR; import nmc; "
            "from nmc.engine import CACHE_DIR; "
            "print(repr(before), repr(c.CACHE_DIR), CACHE_DIR != c.CACHE_DIR)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == out[1] and out[2] == "True"
    # and nmc's kernels do cache under nmc's directory
    from nmc.engine import passes
    assert passes.cost_rows._cache._cache_path.startswith(nmc.engine.CACHE_DIR)
