"""One serving iteration = one pass (nmc/engine/serve.py): a uniform batch costs exactly what
nmc.analyze reports for the same pass; a mixed batch's operator table holds the exact sums."""
import numpy as np
import pytest

import nmc
from nmc.engine import layout as L
from nmc.engine.ops import build_ops
from nmc.engine.pim import static_power
from nmc.engine.serve import build_mixed_ops, price_batches
from nmc.engine.vectors import model_vector, scenario_vector
from nmc.workload.scenario import Scenario

CASES = [("llama-2-70b", "h100-sxm", 4), ("llama-2-7b", "h100+hbm3-pim", 1),
         ("qwen2-57b-a14b", "h20", 2), ("deepseek-v2-lite", "a100-80g-sxm", 1),
         ("llama-3.2-1b", "aimc-edge-projected", 1), ("llama-3-8b", "hbm3-pim", 1)]


def _vectors(model, arch, tp):
    return (model_vector(nmc.load_model(model)), scenario_vector(Scenario(tp=tp)),
            nmc.load_arch(arch))


def _agg(b, q, c):
    return [b * q, b, b, b * (c + q), b * (q * c + q * (q + 1) / 2)]


@pytest.mark.parametrize("model,arch,tp", CASES)
def test_pure_decode_iteration_equals_analyze(model, arch, tp):
    m, s, a = _vectors(model, arch, tp)
    out = np.zeros((2, 2))
    price_batches(m, s, a.vector(), np.array([_agg(13, 1, 777), _agg(1, 1, 0)], float), out)
    for (b, c), (t, e) in zip([(13, 777), (1, 0)], out):
        r = nmc.analyze(model, arch, phase="decode", batch=b, context=c, tp=tp)
        assert t == r.latency_s
        if a["aimc_tiles"] > 0:
            continue                # analyze adds the AIMC chips' static power (ServeReport too)
        # dynamic energy: analyze adds static power for the pass
        static = static_power(a.vector())       # p_static (+ the PIM units' on a PIM system)
        assert e == pytest.approx(r.results["energy_j"] - static * r.latency_s * tp, rel=1e-12)


@pytest.mark.parametrize("model,arch,tp", CASES)
def test_pure_prefill_iteration_equals_analyze(model, arch, tp):
    m, s, a = _vectors(model, arch, tp)
    out = np.zeros((1, 2))
    price_batches(m, s, a.vector(), np.array([_agg(3, 301, 0)], float), out)
    r = nmc.analyze(model, arch, phase="prefill", batch=3, prompt=301, tp=tp)
    assert out[0, 0] == r.latency_s


@pytest.mark.parametrize("rt", [0.0, 1.0, 2.0])        # eager, graphs, fused
def test_uniform_table_is_build_ops_bit_for_bit(rt):
    m, s, _ = _vectors("llama-2-70b", "h100-sxm", 2)
    for b, q, c in [(7, 1, 100), (2, 64, 512), (1, 4096, 0)]:
        ref = np.zeros((L.N_SLOTS, L.N_OF))
        mix = np.zeros((L.N_SLOTS, L.N_OF))
        build_ops(m, b, q, c, 2.0, 1.0, 1.0, 1.0, rt, ref)
        build_mixed_ops(m, np.array(_agg(b, q, c), float), 2.0, 1.0, 1.0, 1.0, rt, 0.0, mix)
        assert np.array_equal(ref, mix)


def test_mixed_batch_holds_exact_sums():
    """A prefill chunk of 300 (on 200 cached) with 40 decodes at 1000 cached: GEMM FLOPs are
    those of the 340 tokens, attention FLOPs and KV bytes the sums of the two parts."""
    m, s, _ = _vectors("llama-3-8b", "h100-sxm", 1)
    dec, pre = np.array(_agg(40, 1, 1000), float), np.array(_agg(1, 300, 200), float)
    mixed = dec + pre
    mixed[L.AG_LOGITS] = 41
    tabs = []
    for agg in (dec, pre, mixed):
        ops = np.zeros((L.N_SLOTS, L.N_OF))
        build_mixed_ops(m, agg, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, ops)
        tabs.append(ops)
    d, p, x = tabs
    for row in (L.OP_QKV, L.OP_OPROJ, L.OP_UP, L.OP_DOWN, L.OP_SCORE, L.OP_CONTEXT,
                L.OP_SOFTMAX, L.OP_LMHEAD):
        assert x[row, L.O_FLOPS] == pytest.approx(d[row, L.O_FLOPS] + p[row, L.O_FLOPS],
                                                  rel=1e-12)
    for row in (L.OP_SCORE, L.OP_CONTEXT):
        assert x[row, L.O_KVRD] == pytest.approx(d[row, L.O_KVRD] + p[row, L.O_KVRD], rel=1e-12)
    assert x[L.OP_SCORE, L.O_KVWR] == pytest.approx(d[L.OP_SCORE, L.O_KVWR]
                                                    + p[L.OP_SCORE, L.O_KVWR], rel=1e-12)
    assert x[L.OP_QKV, L.O_M] == 340


def test_a_partial_chunk_emits_no_logits():
    m, s, a = _vectors("llama-3-8b", "h100-sxm", 1)
    agg = np.array(_agg(1, 256, 0), float)
    agg[L.AG_LOGITS] = 0
    ops = np.zeros((L.N_SLOTS, L.N_OF))
    build_mixed_ops(m, agg, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, ops)
    assert ops[L.OP_LMHEAD, L.O_COUNT] == 0
    out = np.zeros((2, 2))
    price_batches(m, s, a.vector(), np.array([agg, _agg(1, 256, 0)], float), out)
    assert out[0, 0] < out[1, 0]


@pytest.mark.parametrize("model,arch,tp", [c for c in CASES if "pim" not in c[1]
                                           and "aimc" not in c[1]])
def test_decode_fast_path_equals_the_whole_pass(model, arch, tp):
    """The loop prices a pure decode pass as (token-wise rows, kept per batch size) +
    (attention rows): equal to pricing the whole table to rounding."""
    from nmc.engine.serve import price_decodes
    m, s, a = _vectors(model, arch, tp)
    rng = np.random.default_rng(0)
    ns = rng.integers(1, 300, 50)
    spans = ns * rng.integers(10, 5000, 50).astype(float)
    fast = np.zeros((50, 2))
    whole = np.zeros((50, 2))
    price_decodes(m, s, a.vector(), ns, spans, fast)
    aggs = np.stack([ns, ns, ns, spans, spans], axis=1).astype(float)
    price_batches(m, s, a.vector(), aggs, whole)
    assert np.allclose(fast, whole, rtol=1e-12, atol=0)
