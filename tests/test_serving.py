"""The serving simulator (nmc.serve): hand-derived cases, invariants, determinism, bad input."""
import math

import numpy as np
import pytest

import nmc
from nmc.errors import NmcError
from nmc.serving.search import GROW, Layout, capacity_search, evaluate_layout, layouts, workload

M, A, TP = "llama-2-70b", "h100-sxm", 4
KEYS = ("ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p90_s", "tpot_p99_s",
        "throughput_tokens_per_s", "mean_batch")


def gen(batch, prompt, output, arch=A, tp=TP, model=M):
    return nmc.analyze(model, arch, phase="generate", batch=batch, prompt=prompt,
                       generate=output, tp=tp)


# ---- hand-derived cases --------------------------------------------------------------------
def test_one_request_alone():
    """TTFT = the prefill pass, TPOT = the mean decode step, e2e = their sum (analyze)."""
    r = nmc.serve(M, A, tp=TP, rate=1.0, n_requests=1, prompt=700, output=50)
    g = gen(1, 700, 50)
    d = r.to_dict()
    assert r.ttft[0] == pytest.approx(g.results["ttft_s"], rel=1e-12)
    assert r.tpot[0] == pytest.approx(g.results["tpot_s"], rel=1e-9)
    assert r.e2e[0] == pytest.approx(g.latency_s, rel=1e-9)
    assert d["mean_batch"] == 1.0 and d["preemptions"] == 0
    for k in KEYS:
        assert k in d


@pytest.mark.parametrize("scheduler", ["static", "continuous"])
def test_n_identical_requests_at_once(scheduler):
    """n requests at t = 0, one prefill pass of all of them, then decode steps together: every
    request finishes at analyze(generate, batch=n)'s latency."""
    n, p, o = 12, 300, 40
    r = nmc.serve(M, A, tp=TP, rate=math.inf, n_requests=n, prompt=p, output=o,
                  scheduler=scheduler)
    g = gen(n, p, o)
    assert np.allclose(r.ttft, g.results["ttft_s"], rtol=1e-12)
    assert np.allclose(r.e2e, g.latency_s, rtol=1e-9)
    assert r.to_dict()["mean_batch"] == n


def test_static_batching_pads_to_the_longest():
    """Static: the batch holds every sequence (finished ones as padding) until the longest
    ends, and admits no one meanwhile."""
    req = nmc.workload.serving.Requests(np.zeros(3), np.array([100, 100, 100]),
                                        np.array([10, 40, 5]))
    r = nmc.serve(M, A, tp=TP, requests_=req, scheduler="static", max_batch=2)
    assert r.t_done[0] < r.t_done[1]
    assert r.t_sched[2] == pytest.approx(r.t_done[1])       # waits for the whole batch
    d = r.to_dict()
    assert d["mean_batch"] > 1.8                             # padding rows counted


def test_chunked_prefill_of_one_long_prompt():
    """A 5000-token prompt with a 2048-token budget: chunks of 2048, 2048 and 904 tokens on
    0, 2048 and 4096 cached ones; only the last emits a token (the LM head runs once)."""
    from nmc.engine.serve import price_batches
    from nmc.engine.vectors import model_vector, scenario_vector
    from nmc.workload.scenario import Scenario
    r = nmc.serve(M, A, tp=TP, rate=1.0, n_requests=1, prompt=5000, output=3,
                  scheduler="chunked", max_tokens=2048)
    chunks = [(2048, 0, 0), (2048, 2048, 0), (904, 4096, 1)]
    aggs = np.array([[q, 1, lg, c + q, q * c + q * (q + 1) / 2] for q, c, lg in chunks], float)
    out = np.zeros((3, 2))
    price_batches(model_vector(nmc.load_model(M)), scenario_vector(Scenario(tp=TP)),
                  nmc.load_arch(A).vector(), aggs, out)
    assert r.ttft[0] == pytest.approx(out[:, 0].sum(), rel=1e-12)


def test_closed_loop_of_one_is_sequential():
    n, p, o = 5, 256, 20
    r = nmc.serve(M, A, tp=TP, concurrency=1, n_requests=n, prompt=p, output=o)
    one = gen(1, p, o).latency_s
    assert np.allclose(r.e2e, one, rtol=1e-9)
    assert np.allclose(r.arrival[1:], r.t_done[:-1])
    assert r.duration_s == pytest.approx(n * one, rel=1e-9)


def test_littles_law_bookkeeping():
    """Time-average running sequences = throughput x mean time from first scheduling to the
    last token (each request is in the running list exactly that long)."""
    r = nmc.serve(M, A, tp=TP, rate=6.0, n_requests=800, trace="chat", seed=3)
    d = r.to_dict()
    w = np.mean(r.t_done - r.t_sched)
    assert d["mean_running"] == pytest.approx(d["requests_per_s"] * w, rel=1e-9)


def test_throughput_matches_a_stable_rate():
    d = nmc.serve(M, A, tp=TP, rate=4.0, n_requests=4000, prompt="uniform:100:900",
                  output="uniform:50:250").to_dict()
    assert d["requests_per_s"] == pytest.approx(4.0, rel=0.05)
    assert d["preemptions"] == 0 and d["slo_attainment"] > 0.95


def test_disaggregated_single_request():
    """Prefill on one pool, KV over the network, decode steps on the other pool (GPU+PIM)."""
    p, o = 500, 30
    r = nmc.serve(M, A, tp=TP, rate=1.0, n_requests=1, prompt=p, output=o,
                  scheduler="disaggregated", decode_arch="h100+hbm3-pim")
    pre = nmc.analyze(M, A, phase="prefill", prompt=p, tp=TP).latency_s
    dec = gen(1, p, o, arch="h100+hbm3-pim")
    steps = dec.latency_s - dec.results["ttft_s"]
    a = nmc.load_arch(A)
    kv_bytes = p * 80 * 8 * 128 * 2 * 2                     # layers x kv heads x dim x K,V x bf16
    t_kv = a["net_latency"] + kv_bytes / (a["net_bw"] * a["eff_link"] * TP)
    assert r.ttft[0] == pytest.approx(pre, rel=1e-12)
    assert r.e2e[0] == pytest.approx(pre + t_kv + steps, rel=1e-9)
    d = r.to_dict()
    assert d["devices"] == 8 and d["kv_transfer_mean_s"] == pytest.approx(t_kv)


def test_pipeline_parallel_adds_stage_handoffs():
    one = nmc.serve(M, A, tp=4, pp=1, rate=1.0, n_requests=1, prompt=128, output=2)
    two = nmc.serve(M, A, tp=4, pp=2, rate=1.0, n_requests=1, prompt=128, output=2)
    a = nmc.load_arch(A)
    hop = 128 * 8192 * 2 / (a["link_bw"] * a["eff_link"]) + a["link_latency"]
    assert two.ttft[0] == pytest.approx(one.ttft[0] + hop, rel=1e-9)
    d = two.to_dict()
    assert d["devices"] == 8 and d["layout"]["serve"]["pp"] == 2


def test_preemption_when_kv_is_full():
    """A small KV cache: decodes run out of blocks, the newest sequences are preempted and
    every request still completes; recompute redoes prompt work, swap moves KV instead."""
    kw = dict(tp=TP, rate=math.inf, n_requests=60, prompt=2000, output=400,
              mem_capacity="40 GiB", max_tokens=4096)
    rc = nmc.serve(M, A, preemption="recompute", **kw)
    sw = nmc.serve(M, A, preemption="swap", **kw)
    for r in (rc, sw):
        d = r.to_dict()
        assert d["preemptions"] > 0
        assert np.all(np.isfinite(r.t_done))
        assert d["kv_use_peak"] <= 1.0
    assert rc.stats["serve"]["prefill_tokens"] > 60 * 2000
    assert sw.stats["serve"]["prefill_tokens"] == 60 * 2000
    assert sw.stats["serve"]["swap_s"] > 0


def test_chunked_prefill_mixes_decodes_and_chunks():
    d = nmc.serve(M, A, tp=TP, rate=6.0, n_requests=500, trace="chat",
                  scheduler="chunked", max_tokens=512).to_dict()
    c = nmc.serve(M, A, tp=TP, rate=6.0, n_requests=500, trace="chat").to_dict()
    assert d["tpot_p99_s"] < c["tpot_p99_s"]        # decodes are not stalled by long prompts
    assert d["n_requests"] == 500


def test_replicas_behind_the_balancer():
    one = nmc.serve(M, A, tp=TP, rate=math.inf, n_requests=400, prompt=400, output=100)
    two = nmc.serve(M, A, tp=TP, rate=math.inf, n_requests=400, prompt=400, output=100,
                    replicas=2)
    assert two.to_dict()["devices"] == 8
    assert two.duration_s < 0.6 * one.duration_s


def test_cost_and_energy():
    d = nmc.serve(M, A, tp=TP, rate=2.0, n_requests=200, price_per_hour=2.5).to_dict()
    tokens = 200 * 128
    assert d["cost_usd"] == pytest.approx(4 * 2.5 * d["duration_s"] / 3600)
    assert d["cost_per_million_tokens"] == pytest.approx(d["cost_usd"] / tokens * 1e6)
    a = nmc.load_arch(A)
    assert d["energy_j"] > 4 * a["p_static"] * d["duration_s"]
    d = nmc.serve(M, A, tp=TP, rate=2.0, n_requests=20).to_dict()      # the preset's price
    assert d["cost_usd"] == pytest.approx(4 * a["price_per_hour"] * d["duration_s"] / 3600)
    d = nmc.serve(M, "h20", tp=TP, rate=2.0, n_requests=20).to_dict()   # no price known
    assert d["cost_usd"] is None and d["price_unknown_for"] == ["h20"]


def test_time_series(tmp_path):
    r = nmc.serve(M, A, tp=TP, rate=5.0, n_requests=300, series_points=64)
    rows = r.series_rows()
    assert 2 <= len(rows) <= 64
    assert all(0 <= x["kv_use"] <= 1 for x in rows)
    assert [x["time_s"] for x in rows] == sorted(x["time_s"] for x in rows)
    p = r.write_series(tmp_path / "s.csv")
    assert open(p).readline().strip() == "time_s,pool,batch,queue,kv_use,tokens"


# ---- invariants ----------------------------------------------------------------------------
def test_more_bandwidth_is_never_slower():
    kw = dict(tp=TP, rate=6.0, n_requests=600, trace="chat", seed=1)
    lo = nmc.serve(M, A, **kw).to_dict()
    hi = nmc.serve(M, A, mem_bw="6 TB/s", **kw).to_dict()
    for k in ("ttft_p90_s", "tpot_p50_s", "tpot_p99_s", "e2e_p90_s"):
        assert hi[k] <= lo[k]


def test_higher_rate_never_lowers_ttft_p90_when_stable():
    vals = [nmc.serve(M, A, tp=TP, rate=r, n_requests=1500, prompt="uniform:100:900",
                      output="uniform:50:250").to_dict()["ttft_p90_s"] for r in (1, 2, 4, 6)]
    assert vals == sorted(vals)


def test_deterministic_with_a_seed():
    a = nmc.serve(M, A, tp=TP, rate=5.0, n_requests=300, trace="chat", seed=7).to_dict()
    b = nmc.serve(M, A, tp=TP, rate=5.0, n_requests=300, trace="chat", seed=7).to_dict()
    c = nmc.serve(M, A, tp=TP, rate=5.0, n_requests=300, trace="chat", seed=8).to_dict()
    assert a == b
    assert a["ttft_p90_s"] != c["ttft_p90_s"]


def test_length_distributions():
    from nmc.workload.serving import lengths, requests
    rng = np.random.default_rng(0)
    x = lengths("lognormal:mean=800,median=500").sample(200000, rng)
    assert np.median(x) == pytest.approx(500, rel=0.02)
    assert x.mean() == pytest.approx(800, rel=0.03)
    u = lengths("uniform:10:20").sample(1000, rng)
    assert u.min() == 10 and u.max() == 20
    assert lengths(64).sample(3, rng).tolist() == [64, 64, 64]
    t = requests(50, trace="chat")                       # the trace's own arrivals
    assert t.arrival[0] == 0 and np.all(np.diff(t.arrival) >= 0)
    c = requests(10, concurrency=3)
    assert c.concurrency == 3 and np.isinf(c.arrival[3:]).all()


# ---- capacity search -----------------------------------------------------------------------
def test_layout_rate_under_slo_is_a_bisection_bracket():
    wl = workload(300, trace="chat")
    lay = Layout(A, 4, 1, "continuous", 128, 8192)
    row = evaluate_layout(M, lay, wl, (1.0, 0.05), steps=5)
    assert row["feasible"] and 0 < row["rate_per_unit"] <= 2 ** GROW * row["saturation_rate"]


def test_capacity_search_small():
    cands = [Layout(A, 4, 1, "continuous", 256, 8192), Layout(A, 8, 1, "chunked", 256, 2048)]
    res = capacity_search(M, [A], rate=10.0, n_requests=300, trace="chat", candidates=cands,
                          steps=4, threads=1)
    d = res.to_dict()
    assert d["layouts"] == 2 and res.best["devices"] >= res.best["devices_per_unit"]
    assert res.best["units"] == math.ceil(10.0 / res.best["rate_per_unit"])
    assert res.verify is not None


def test_default_layout_grid_has_200_layouts():
    assert len(layouts(M, [A], disaggregated=True)) >= 200


# ---- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0, -1.0, "x"])
def test_bad_rate(rate):
    with pytest.raises(NmcError, match="rate"):
        nmc.serve(M, A, tp=TP, rate=rate, n_requests=10)


def test_bad_lengths():
    with pytest.raises(NmcError, match="lognormal"):
        nmc.serve(M, A, tp=TP, rate=1, prompt="lognormal:mean=100,median=500")
    with pytest.raises(NmcError, match="prompt"):
        nmc.serve(M, A, tp=TP, rate=1, prompt=0)


def test_trace_errors_name_the_line(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("# comment\narrival_s,prompt_tokens,output_tokens\n0,10,5\n1.0,-3,5\n")
    with pytest.raises(NmcError, match=r"t.csv:4: prompt_tokens must be an integer >= 1"):
        nmc.serve(M, A, tp=TP, trace=str(p))
    p.write_text("arrival_s,prompt_tokens,output_tokens\n0,10,5\n2.0,10,5\n1.0,10,5\n")
    with pytest.raises(NmcError, match=r"t.csv:4: arrival times must not decrease"):
        nmc.serve(M, A, tp=TP, trace=str(p))
    p.write_text("arrival_s,prompt\n0,10\n")
    with pytest.raises(NmcError, match="missing column"):
        nmc.serve(M, A, tp=TP, trace=str(p))


def test_does_not_fit():
    with pytest.raises(NmcError, match="does not fit"):
        nmc.serve(M, A, tp=1, rate=1, n_requests=5)
    with pytest.raises(NmcError, match="KV blocks"):
        nmc.serve(M, A, tp=4, rate=1, n_requests=2, prompt=600000, output=10)


def test_unmeetable_slo_gives_the_best_reachable():
    cands = [Layout(A, 4, 1, "continuous", 256, 8192)]
    with pytest.raises(NmcError, match=r"no fleet meets .* best reachable.*p90 TTFT"):
        capacity_search(M, [A], rate=5.0, slo_ttft=0.001, slo_tpot=0.001, n_requests=100,
                        candidates=cands, verify=False)


def test_cli_errors_are_one_line(capsys):
    from nmc.cli import main
    assert main(["serve", "--model", M, "--arch", A, "--tp", "4", "--rate", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nmc: error:") and err.count("\n") == 1


# ---- measurement rows (the validation hook) ------------------------------------------------
def test_measurement_row_to_serve():
    from nmc.serving.rows import measurement_kwargs, serve_row
    from nmc.validation.measurements import load
    rows = [r for r in load() if r["group"] == "gpu-serving"]
    static = next(r for r in rows if "gptSessionBenchmark" in (r.get("notes") or ""))
    kw = measurement_kwargs(static)
    assert kw["scheduler"] == "static" and kw["max_batch"] == static["batch"]
    assert kw["rate"] == math.inf and kw["n_requests"] == static["batch"]
    row = {"id": "x", "model": "llama-3-8b", "arch": "h100-sxm", "tp": 1, "dataset": "chat",
           "concurrency": 8, "framework": "vLLM 0.6", "metric": "ttft_ms"}
    kw = measurement_kwargs(row)
    assert kw["concurrency"] == 8 and kw["prompt"] == kw["output"] == "trace:chat"
    assert kw["scheduler"] == "continuous"
    rep, field = serve_row({**row, "concurrency": 2}, n_requests=20)
    assert field == "ttft_mean_s" and rep.to_dict()[field] > 0


# ---- expert parallelism in a replica (tp x ep x pp devices) ---------------------------------
MOE = "qwen3-30b-a3b"


def test_ep_pure_decode_and_prefill_equal_analyze():
    """A replica of ep = 4 groups of tp = 2: n identical requests at t = 0 (n a multiple of
    ep) prefill in one pass and decode together, each pass exactly analyze(..., ep=4)'s."""
    n, p, o = 8, 200, 6
    r = nmc.serve(MOE, A, tp=2, ep=4, rate=math.inf, n_requests=n, prompt=p, output=o)
    g = nmc.analyze(MOE, A, phase="generate", batch=n, prompt=p, generate=o, tp=2, ep=4)
    assert np.allclose(r.ttft, g.results["ttft_s"], rtol=1e-12)
    assert np.allclose(r.e2e, g.latency_s, rtol=1e-9)
    d = r.to_dict()
    assert d["devices"] == 8 and d["layout"]["serve"]["ep"] == 4


def test_ep_pool_memory_and_devices_by_hand():
    """Weights per device = non-expert params / tp + expert params / (tp x ep); KV blocks of
    the engine = ep x those of one group; devices, static power and cost count tp x ep x pp."""
    from nmc.serving.pool import Pool
    spec, arch = nmc.load_model(MOE), nmc.load_arch(A)
    expert = spec.n_moe_layers * spec.n_experts * 3 * spec.d_model * spec.d_ff_expert
    one = Pool(spec, arch, tp=2, ep=1, pp=1, max_batch=64, max_tokens=4096)
    four = Pool(spec, arch, tp=2, ep=4, pp=2, replicas=3, max_batch=64, max_tokens=4096,
                price_per_hour=2.0)
    assert one.weight_bytes == pytest.approx(spec.params() * 2 / 2, rel=1e-12)
    assert four.weight_bytes == pytest.approx(
        ((spec.params() - expert) / 2 + expert / 8) * 2 / 2, rel=1e-12)   # bf16, / pp = 2
    assert four.kv_blocks == 4 * four.kv_blocks_group
    assert four.devices == 2 * 4 * 2 * 3 and four.devices_per_replica == 16
    assert four.static_power_w == pytest.approx(48 * arch["p_static"], rel=1e-12)
    cfg = four.config()
    assert cfg[nmc.engine.layout.SV_MAX_BATCH] == 64 * 4     # per group x groups
    r = nmc.serve(MOE, A, tp=2, ep=4, replicas=2, rate=20, n_requests=60, prompt=300,
                  output=20, price_per_hour=2.0)
    d = r.to_dict()
    assert d["devices"] == 16
    assert d["cost_usd"] == pytest.approx(16 * 2.0 * d["duration_s"] / 3600, rel=1e-12)


def test_ep_errors_and_search():
    with pytest.raises(NmcError, match="mixture-of-experts"):
        nmc.serve(M, A, tp=4, ep=2, rate=1, n_requests=2)
    with pytest.raises(NmcError, match="must divide"):
        nmc.serve(MOE, A, ep=3, rate=1, n_requests=2)
    with pytest.raises(NmcError, match="mixture-of-experts"):
        layouts(M, [A], eps=(1, 2))
    lays = layouts(MOE, [A], tps=(1, 2), pps=(1,), schedulers=("chunked",), max_batches=(64,),
                   max_tokens=(2048,))
    assert sorted((x.tp, x.ep) for x in lays) == [(1, 1), (1, 2), (1, 4), (1, 8), (2, 1),
                                                   (2, 2), (2, 4), (2, 8)]
    assert all(x.devices == x.tp * x.ep for x in lays)
    assert {x.ep for x in layouts(M, [A], tps=(4,), pps=(1,))} == {1}   # dense: ep 1 only


def test_runtime_and_dequant_reach_the_passes():
    """runtime and dequant as in nmc.analyze: one request's TTFT is analyze's prefill."""
    for rt, dq, w in (("eager", "fused", "bf16"), ("fused", "torch", "int4")):
        r = nmc.serve("llama-3-8b", A, rate=1.0, n_requests=1, prompt=300, output=2,
                      runtime=rt, dequant=dq, weights=w)
        g = nmc.analyze("llama-3-8b", A, phase="prefill", prompt=300, runtime=rt, dequant=dq,
                        weights=w)
        assert r.ttft[0] == pytest.approx(g.latency_s, rel=1e-12)
    with pytest.raises(NmcError, match="runtime"):
        nmc.serve("llama-3-8b", A, rate=1.0, n_requests=1, runtime="jit")


def test_reserve_admission_never_preempts():
    """A KV cache that holds 3.2 whole requests (mem_usable set for it): greedy admission (the
    prompt's blocks) admits more and thrashes; reserve admission (prompt + output at once,
    TensorRT-LLM's no-evict policy) runs at most 3 and never preempts; a lone request costs
    the same either way."""
    from nmc.serving.pool import Pool
    spec, arch = nmc.load_model(M), nmc.load_arch(A)
    ref = Pool(spec, arch, tp=TP, max_batch=64, max_tokens=2048)
    usable = ref.weight_bytes + ref.activation_bytes + 3.2 * 2000 * ref.kv_token_bytes
    over = {"mem_usable": usable / arch["mem_capacity"]}
    kw = dict(tp=TP, rate=math.inf, n_requests=40, prompt=1000, output=1000, max_batch=64,
              max_tokens=2048, scheduler="chunked", **over)
    g = nmc.serve(M, A, admission="greedy", **kw).to_dict()
    r = nmc.serve(M, A, admission="reserve", **kw).to_dict()
    assert 3 * 2000 <= g["kv_tokens_per_engine"] < 4 * 2000
    assert g["preemptions"] > 0 and r["preemptions"] == 0
    assert r["mean_batch"] <= 3.0 and r["layout"]["serve"]["admission"] == "reserve"
    one = dict(tp=TP, rate=1.0, n_requests=1, prompt=700, output=50)
    assert nmc.serve(M, A, admission="reserve", **one).ttft[0] == \
        nmc.serve(M, A, admission="greedy", **one).ttft[0]
    with pytest.raises(NmcError, match="admission"):
        nmc.serve(M, A, admission="eager", **one)
