"""Properties of the training step (nmc/engine/train.py, docs/training.md) and hand-derived cases
for its FP8, ZeRO-3, FlashAttention and context-parallel terms.

Properties: more peak, bandwidth or link speed is never slower; recompute none <= selective <=
full; every rate x2 (latencies / 2) halves the step; energy >= static power x time. Hand cases
on the toy cluster (round numbers, no L2 term, 1x1 tiles): FA backward FLOPs, the FP8 step
against the BF16 step (GEMM time saved, cast kernels added), ZeRO-3's exposed gathers, the
context-parallel causal split."""
import json
import math

import numpy as np
import pytest

import nmc
from nmc.analysis.training import train
from nmc.engine import layout as L
from nmc.engine.train import backward_table, train_fwd_table
from nmc.engine.vectors import model_vector

TOY = "tests/data/toy-cluster.toml"
GPT = {"model_type": "gpt2", "n_embd": 1024, "n_layer": 8, "n_head": 16, "vocab_size": 32000,
       "n_positions": 8192}
BIG = "10 TB"


@pytest.fixture(scope="module")
def gpt(tmp_path_factory):
    p = tmp_path_factory.mktemp("m") / "gpt-small.json"
    p.write_text(json.dumps(GPT))
    return str(p)


# configurations covering every term of the step: TP, PP with interleaving, ZeRO-1/2/3, FP8
# (both recipes), context parallelism, expert parallelism, hybrid sharding, several nodes
def _configs(gpt):
    return [
        dict(model=gpt, devices=16, tp=2, pp=2, global_batch=32, seq=1024, zero=1),
        dict(model=gpt, devices=16, tp=1, pp=4, vpp=2, global_batch=32, seq=1024, zero=2),
        dict(model=gpt, devices=16, global_batch=16, seq=2048, zero=3),
        dict(model=gpt, devices=16, global_batch=16, seq=2048, zero=3, zero3_reshard=False,
             zero_group=8),
        dict(model=gpt, devices=16, tp=2, global_batch=16, seq=2048, dtype="fp8"),
        dict(model=gpt, devices=16, tp=2, global_batch=16, seq=2048, dtype="fp8",
             fp8_recipe="current", zero=3),
        dict(model=gpt, devices=16, tp=2, cp=4, global_batch=4, seq=4096, zero=1),
        dict(model="mixtral-8x7b", devices=16, ep=8, global_batch=16, seq=512, zero=1),
        dict(model="mixtral-8x7b", devices=16, ep=8, global_batch=16, seq=512, zero=1,
             dtype="fp8", overlap_ep=True, recompute="full"),
    ]


def _step(cfg, arch, **over):
    kw = {"recompute": "selective", "mem_capacity": BIG}
    kw.update(cfg)
    model = kw.pop("model")
    kw.update(over)
    r = train(model, arch, **kw)
    assert r.fits
    return r


# ---- properties ---------------------------------------------------------------------------------

FASTER = [("peak_bf16", 1.5), ("peak_fp8", 1.5), ("peak_fp32", 1.5), ("mem_bw", 1.5),
          ("sram_bw", 1.5), ("link_bw", 1.5), ("net_bw", 1.5), ("link_latency", 0.5),
          ("net_latency", 0.5), ("kernel_overhead", 0.5), ("eff_compute", 1.2),
          ("eff_link", 1.2)]


@pytest.mark.parametrize("arch", ["h100-sxm", TOY])
def test_more_peak_bandwidth_or_link_speed_is_never_slower(arch, gpt):
    a = nmc.load_arch(arch)
    for cfg in _configs(gpt):
        base = _step(cfg, a).results["step_time_s"]
        for name, f in FASTER:
            if a[name] <= 0:
                continue
            v = a[name] * f
            if name.startswith("eff_"):
                v = min(v, 1.0)
            t = _step(cfg, a.with_(**{name: v})).results["step_time_s"]
            assert t <= base * (1 + 1e-12), (cfg, name)


def test_recompute_none_selective_full_are_ordered(gpt):
    """Non-strict: where exposed per-step traffic outlasts the last backward (one micro-batch,
    ZeRO-1 gradients of a 47B MoE), recomputation only fills the wait (equal steps)."""
    a = nmc.load_arch("h100-sxm")
    strict = 0
    for cfg in _configs(gpt):
        cfg = {k: v for k, v in cfg.items() if k != "recompute"}
        t = {rc: _step(cfg, a, recompute=rc).results["step_time_s"]
             for rc in ("none", "selective", "full")}
        # equal steps (a hidden wait) may differ in the last bit of a sum in another order
        assert t["none"] <= t["selective"] * (1 + 1e-12), cfg
        assert t["selective"] <= t["full"] * (1 + 1e-12), cfg
        strict += t["none"] < t["selective"] < t["full"]
    assert strict >= len(_configs(gpt)) - 2


def test_every_rate_twice_halves_the_step(gpt):
    """Peaks, bandwidths, link and network bandwidth x2, latencies and the kernel overhead / 2:
    every term of the step is a time, so the step halves exactly."""
    a = nmc.load_arch("h100-sxm")
    rates = ("peak_fp32", "peak_bf16", "peak_fp16", "peak_fp8", "peak_int8", "mem_bw",
             "sram_bw", "link_bw", "net_bw")
    lats = ("link_latency", "net_latency", "kernel_overhead")
    fast = a.with_(**{k: 2 * a[k] for k in rates}, **{k: a[k] / 2 for k in lats})
    for cfg in _configs(gpt):
        r1 = _step(cfg, a).results
        r2 = _step(cfg, fast).results
        assert r2["step_time_s"] == pytest.approx(r1["step_time_s"] / 2, rel=1e-9), cfg
        assert r2["mfu"] == pytest.approx(r1["mfu"], rel=1e-9)


def test_energy_is_at_least_static_power_times_time(gpt):
    a = nmc.load_arch("h100-sxm")
    for cfg in _configs(gpt):
        r = _step(cfg, a)
        d = r.to_dict()
        static = a["p_static"] * d["step_time_s"] * r.config.devices
        assert d["energy_per_step_j"] > static > 0, cfg


# ---- FlashAttention backward --------------------------------------------------------------------

def test_flash_attention_backward_is_2p5_forward_flops_by_hand(gpt):
    """FA-2 recomputes S = QK^T in its backward: 5 matmuls of the forward's size-2 pair, 2.5x
    the forward's 4 b h d s(s+1)/2 FLOPs per layer; unfused attention keeps S and P: 2x its
    4 b h d s^2."""
    spec = nmc.load_model(gpt)
    m = model_vector(spec)
    b, s, h, dh = 2, 1024, 16, 64
    ops = np.empty((L.N_SLOTS, L.N_OF))
    bops = np.empty((2 * L.N_SLOTS, L.N_OF))
    for unfused, fwd_flops, factor in ((False, 4 * b * h * dh * s * (s + 1) / 2, 2.5),
                                       (True, 4 * b * h * dh * s * s, 2.0)):
        train_fwd_table(m, 8.0, b, s, 1.0, 1.0, 1.0, 1.0, True, True, unfused, ops)
        assert ops[L.OP_SCORE, L.O_FLOPS] + ops[L.OP_CONTEXT, L.O_FLOPS] == fwd_flops
        backward_table(ops, 2.0, 2.0, bops, unfused)
        bwd = bops[2 * L.OP_SCORE, L.O_FLOPS] + bops[2 * L.OP_CONTEXT, L.O_FLOPS]
        assert bwd == factor * fwd_flops
        assert bwd == {False: 2.5 * 4 * 2 * 16 * 64 * 524800,
                       True: 2.0 * 4 * 2 * 16 * 64 * 1024 ** 2}[unfused]


# ---- FP8 ------------------------------------------------------------------------------------------

def test_fp8_step_is_faster_only_by_what_the_casts_allow(gpt):
    """Toy cluster: bf16 100 TFLOPS, fp8 200, 1 TB/s, 1 us per kernel, no L2 term, 1x1 tiles.
    GPT d 1024, ff 4096, 8 layers, one device, 4 micro-batches of 2048 tokens. Every linear GEMM
    is compute-bound in both precisions, so the FP8 step differs from the BF16 step by

      - the linear GEMM FLOPs (forward, dgrad, wgrad) at 1/200 instead of 1/100 per TFLOP,
      + the forward casts of the GEMM inputs not written by a norm (o_proj: T x d, mlp_down:
        T x ff), 2 bytes read + 2 written (FP8 X and X^T) per element and one kernel each,
      + the backward casts of every GEMM's output gradient (qkv T x 3d, o T x d, up T x ff,
        down T x d), likewise,
      + the amax-history update (1024 x 3 fp32 entries per GEMM read and written, 2 kernels)
        per micro-batch,
      + once per step the weight casts (2 + 2 bytes per weight, one kernel per GEMM);

    attention, norms, LM head and optimizer are the same BF16 kernels in both."""
    a = nmc.load_arch(TOY)
    kw = dict(devices=1, global_batch=4, micro_batch=1, seq=2048, recompute="none", zero=0,
              mem_capacity=BIG)
    bf = train(gpt, a, **kw).results["step_time_s"]
    f8 = train(gpt, a, dtype="fp8", **kw).results["step_time_s"]
    T, d, ff, Ly, nm = 2048, 1024, 4096, 8, 4
    bw, ovh = 1e12, 1e-6
    gemm_flops = 3 * Ly * 2 * T * d * (3 * d + d + ff + ff)      # fwd + dgrad + wgrad
    saved = gemm_flops * (1 / 100e12 - 1 / 200e12)
    cast = lambda elems: 4 * elems / bw + ovh
    casts_f = Ly * (cast(T * d) + cast(T * ff))
    casts_b = Ly * (cast(T * 3 * d) + cast(T * d) + cast(T * ff) + cast(T * d))
    n_gemm = 4 * Ly
    amax = 2 * 4 * 1024 * 3 * n_gemm / bw + 2 * ovh
    w = Ly * (3 * d * d + d * d + 2 * d * ff)
    wcast = 4 * w / bw + n_gemm * ovh
    expect = nm * (casts_f + casts_b + amax - saved) + wcast
    assert f8 - bf == pytest.approx(expect, rel=1e-9)
    assert f8 < bf                                  # here the GEMM saving outweighs the casts


def test_fp8_current_scaling_adds_an_amax_pass_and_unfuses_the_norm_casts(gpt):
    """Current (per-tensor) scaling: every cast reads its BF16 tensor once more in its own
    kernel, and the QKV and MLP-up inputs are cast outside the norm; the amax history is gone."""
    a = nmc.load_arch(TOY)
    kw = dict(devices=1, global_batch=4, micro_batch=1, seq=2048, recompute="none", zero=0,
              mem_capacity=BIG, dtype="fp8")
    dl = train(gpt, a, **kw).results["step_time_s"]
    cu = train(gpt, a, fp8_recipe="current", **kw).results["step_time_s"]
    T, d, ff, Ly, nm = 2048, 1024, 4096, 8, 4
    bw, ovh = 1e12, 1e-6
    amax_pass = lambda elems: 2 * elems / bw + ovh
    cast = lambda elems: 4 * elems / bw + ovh
    per_mb = (Ly * (amax_pass(T * d) + amax_pass(T * ff))          # existing forward casts
              + Ly * (cast(T * d) + amax_pass(T * d) + cast(T * d) + amax_pass(T * d))  # qkv, up
              + Ly * sum(amax_pass(e) for e in (T * 3 * d, T * d, T * ff, T * d))   # backward
              - (2 * 4 * 1024 * 3 * 4 * Ly / bw + 2 * ovh))        # no amax history
    w = Ly * (3 * d * d + d * d + 2 * d * ff)
    per_step = 2 * w / bw + 4 * Ly * ovh                           # weights: one more pass
    assert cu - dl == pytest.approx(nm * per_mb + per_step, rel=1e-9)


def test_fp8_without_fp8_units_is_slower_than_bf16():
    """On the A100 (no FP8 tensor cores: fp8 runs at the fp16 peak) FP8 only adds casts."""
    kw = dict(devices=8, global_batch=16, seq=4096, recompute="selective", zero=1)
    bf = train("llama-2-7b", "a100-80g-sxm", **kw).results["step_time_s"]
    f8 = train("llama-2-7b", "a100-80g-sxm", dtype="fp8", **kw).results["step_time_s"]
    assert f8 > bf


def test_fp8_memory_adds_the_cached_fp8_weights():
    kw = dict(devices=8, global_batch=16, seq=2048, recompute="full", zero=1,
              mem_capacity=BIG)
    bf = train("llama-2-7b", "h100-sxm", **kw).results
    f8 = train("llama-2-7b", "h100-sxm", dtype="fp8", **kw).results
    assert f8["mem_weights_bytes"] - bf["mem_weights_bytes"] == pytest.approx(
        2 * bf["params_per_device"], rel=1e-12)


# ---- ZeRO-3 ---------------------------------------------------------------------------------------

def _zero3(gpt, a, **over):
    kw = dict(devices=8, global_batch=32, micro_batch=2, seq=4096, zero=3, recompute="none",
              mem_capacity=BIG)
    kw.update(over)
    return train(gpt, a, **kw)


def test_zero3_exposes_only_the_first_gather_and_the_last_reduce_scatter_when_compute_bound(gpt):
    """8 devices in one node (100 GB/s, 1 us per ring step), 2 micro-batches of 8192 tokens: a
    layer's gather (2 bytes per parameter) and gradient reduce-scatter (2 bytes) take well under
    its compute, so per micro-batch only layer 1's gather and layer 1's last reduce-scatter
    show: 2 x (7/8 x 2 psi_layer / 100 GB/s + 7 us)."""
    a = nmc.load_arch(TOY)
    r = _zero3(gpt, a).results
    psi = nmc.load_model(gpt).params()
    one = 7 / 8 * 2 * psi / 8 / 100e9 + 7e-6
    assert r["t_forward_mb_s"] / 8 > one and r["t_backward_mb_s"] / 8 > 2 * one
    assert r["t_comm_dp_s"] == pytest.approx(2 * (one + one), rel=1e-9)


def test_zero3_comm_bound_layers_show_the_excess_over_compute(gpt):
    """At 0.5 GB/s a layer's gather outlasts its compute: forward a + 7 (a - c_f); backward
    the gather of the next layer and the reduce-scatter of the previous share each window:
    (a - c_b) + 6 (a + r - c_b) + (r - c_b) + r."""
    a = nmc.load_arch(TOY).with_(link_bw="0.5 GB/s")
    r = _zero3(gpt, a).results
    psi = nmc.load_model(gpt).params()
    ag = 7 / 8 * 2 * psi / 8 / 0.5e9 + 7e-6
    rs = ag
    c_f = r["t_forward_mb_s"] / 8
    c_b = r["t_backward_mb_s"] / 8
    assert ag - c_f > 0 and rs - c_b > 0
    per_mb = (ag + 7 * (ag - c_f)) + ((ag - c_b) + 6 * (ag + rs - c_b) + (rs - c_b) + rs)
    assert r["t_comm_dp_s"] == pytest.approx(2 * per_mb, rel=1e-9)
    # kept gathered after the forward (no re-gather in backward): the gathers leave backward
    kept = _zero3(gpt, a, zero3_reshard=False).results
    per_mb = (ag + 7 * (ag - c_f)) + (6 * (rs - c_b) + (rs - c_b) + rs)
    assert kept["t_comm_dp_s"] == pytest.approx(2 * per_mb, rel=1e-9)
    # no overlap at all: every gather and reduce-scatter is exposed
    none = _zero3(gpt, a, overlap_dp=False).results
    assert none["t_comm_dp_s"] == pytest.approx(2 * (16 * ag + 8 * rs), rel=1e-9)


def test_hybrid_sharding_adds_a_replica_all_reduce(gpt):
    """zero_group = 8 on 16 devices (2 nodes): gather and reduce-scatter stay in the node,
    and each 1/8 gradient shard is all-reduced over the 2 replicas across the network."""
    a = nmc.load_arch(TOY).with_(link_bw="0.5 GB/s")
    full = _zero3(gpt, a, devices=16, global_batch=64).results
    hyb = _zero3(gpt, a, devices=16, global_batch=64, zero_group=8).results
    assert hyb["mem_optimizer_bytes"] == pytest.approx(2 * full["mem_optimizer_bytes"],
                                                       rel=1e-12)
    psi = nmc.load_model(gpt).params()
    ag = 7 / 8 * 2 * psi / 8 / 0.5e9 + 7e-6
    rs = ag + (2 * 1 / 2 * 2 * psi / 8 / 8 / 10e9 + 2 * 5e-6)   # + all-reduce of the shard
    c_f = hyb["t_forward_mb_s"] / 8
    c_b = hyb["t_backward_mb_s"] / 8
    per_mb = (ag + 7 * (ag - c_f)) + ((ag - c_b) + 6 * (ag + rs - c_b) + (rs - c_b) + rs)
    assert hyb["t_comm_dp_s"] == pytest.approx(2 * per_mb, rel=1e-9)


# ---- context parallelism --------------------------------------------------------------------------

def test_context_parallel_rank_holds_one_cp_th_of_the_causal_pairs(gpt):
    spec = nmc.load_model(gpt)
    m = model_vector(spec)
    ops = np.empty((L.N_SLOTS, L.N_OF))
    s, cp, b = 4096, 4, 1
    train_fwd_table(m, 8.0, b, s, 1.0, 1.0, 1.0, 1.0, True, True, False, ops, float(cp))
    assert ops[L.OP_SCORE, L.O_FLOPS] == pytest.approx(
        2 * b * 16 * 64 * s * (s + 1) / 2 / cp, rel=1e-12)
    assert ops[L.OP_QKV, L.O_M] == b * s / cp


def test_context_parallel_ring_hides_behind_attention_only_up_to_it(gpt):
    """cp = 4 in one node: per layer the rank's keys and values (T = 1024 tokens x 2 x 1024
    elements x 2 bytes) go 3 hops forward and, with their gradients, twice that backward. A
    1 TB/s link hides the ring; at 0.5 GB/s what shows is 3 ring passes minus the attention."""
    fast = _step(dict(model=gpt, devices=4, cp=4, global_batch=1, seq=4096, zero=1),
                 nmc.load_arch(TOY).with_(link_bw="1 TB/s"), recompute="none").results
    assert fast["t_comm_cp_s"] == 0.0
    slow_arch = nmc.load_arch(TOY).with_(link_bw="0.5 GB/s")
    slow = _step(dict(model=gpt, devices=4, cp=4, global_batch=1, seq=4096, zero=1),
                 slow_arch, recompute="none").results
    S = 1024 * 2 * 1024 * 2
    ring = 3 * (S / 0.5e9 + 1e-6)
    assert 8 * 3 * ring > slow["t_comm_cp_s"] > 8 * 3 * ring - (
        slow["t_forward_mb_s"] + slow["t_backward_mb_s"])
    assert fast["model_flops_per_step"] == slow["model_flops_per_step"]
    assert math.isclose(fast["tokens_per_step"], 4096)


def test_cli_takes_the_new_training_options(capsys):
    from nmc.cli import main
    rc = main(["train", "--model", "llama-2-7b", "--arch", "h100-sxm", "--devices", "16", "--tp",
               "2", "--cp", "2", "--global-batch", "16", "--seq", "4096", "--dtype", "fp8",
               "--fp8-recipe", "current", "--zero", "3", "--zero3-keep", "--zero-group", "4",
               "--recompute", "full", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["fits"]
    c = d["config"]
    assert (c["cp"], c["dp"], c["fp8_recipe"], c["zero3_reshard"], c["zero_group"]) == (
        2, 4, "current", False, 4)
