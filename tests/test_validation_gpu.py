"""GPU inference validation driven by explicit columns (issue 18, deliverables 3, 4): the rows for
the export-compliant parts (H20, L20, A800, Ascend 910B), the fixed-batch and load-benchmark
paths of the predictor, and the evaluation headline of `nmc validate`."""
import json
import math

import pytest

import nmc
from nmc.cli import main
from nmc.paths import measurements_dir
from nmc.validation import measurements
from nmc.validation.gpu import predict_gpu
from nmc.validation.registry import Skip
from nmc.validation.runner import by_split, run

from measurement_rows import row as _row, write_rows as _write


def _load(tmp_path, rows):
    return measurements.load([_write(tmp_path / "m.csv", rows)])


@pytest.fixture(scope="module")
def cutdown():
    return measurements.load([measurements_dir() / "cutdown.csv"])


# ---- the rows ----------------------------------------------------------------------------------
def test_cutdown_rows_have_source_quote_and_the_explicit_columns(cutdown):
    assert len(cutdown) >= 30
    for r in cutdown:
        assert r["source"] and r["quote"], r["id"]
        assert r["group"] in ("gpu-decode", "gpu-prefill", "gpu-serving"), r["id"]
        assert r["model"] in nmc.list_models(), r["id"]
        if r["group"] == "gpu-serving":
            assert r["prompt"] and r["output"], r["id"]       # fixed lengths, no trace needed
        else:
            assert r["batch"] and r["tp"], r["id"]
    # every third new row within a group (file order) is calibration, the first of each three,
    # and so is a row derived from a calibration row (the L20 total throughput: 5 x the output)
    for g in {r["group"] for r in cutdown}:
        rows = [r for r in cutdown if r["group"] == g]
        for i, r in enumerate(rows):
            derived = "derived from" in (r["notes"] or "")
            assert r["split"] == ("calibration" if i % 3 == 0 or derived else "evaluation"), r["id"]
    rows = {r["id"]: r for r in cutdown}
    total, out = (rows[f"vllm-pr15322-l20x24-dsr1-pp3tp8-c16-{k}"] for k in ("total", "out"))
    assert total["value"] == pytest.approx(5 * out["value"], rel=1e-4)
    assert total["split"] == out["split"] == "calibration"


def test_at_least_five_rows_per_part_or_the_reason(cutdown):
    """H20, L20 and 910B2 rows are predicted (>= 5 each); the A800 rows found do not state
    the load and are kept with that reason; the 910B rows without a variant have no preset."""
    by_arch = {}
    for r in cutdown:
        by_arch.setdefault(r["arch"] or "", []).append(r)
    for arch in ("h20", "l20", "ascend-910b", "a800-80g-sxm"):
        assert len(by_arch[arch]) >= 5, arch
    a800 = by_arch["a800-80g-sxm"]
    for r in a800:
        with pytest.raises(Skip, match="no load stated"):
            predict_gpu(r)
    for r in by_arch[""]:
        with pytest.raises(Skip, match="no preset"):
            predict_gpu(r)


def test_one_new_row_per_predicted_part_is_close_to_its_measurement(cutdown):
    """Real values (docs/validation.md): Chitu Qwen3-32B batch 8 on one H20 (319.07 tok/s),
    on two 910B2 (146.98), SGLang Qwen3-30B-A3B on 2 L20 at 10 req/s (1410.99)."""
    rows = {r["id"]: r for r in cutdown}
    for rid, lo, hi in (("chitu-h20-qwen3-32b-bs8", 0.9, 1.25),
                        ("chitu-910b2x2-qwen3-32b-bs8", 1.2, 1.8),
                        ("sglang-pr5877-l20x2-qwen3-30b-a3b-tp2", 0.95, 1.3)):
        r = rows[rid]
        assert lo < predict_gpu(r) / r["value"] < hi, rid


# ---- the fixed-batch path ----------------------------------------------------------------------
def test_prediction_reads_columns_not_source_unit_or_notes(tmp_path, toy_arch):
    a, b = _load(tmp_path, [
        _row(id="a", arch=toy_arch, batch=4, source="gpt-fast", unit="tokens/s", notes=""),
        _row(id="b", arch=toy_arch, batch=4, source="TensorRT-LLM perf", system="other",
             unit="output tokens/s per GPU (aggregate)", notes="per gpu; framework: vllm")])
    assert predict_gpu(a) == predict_gpu(b)


def test_per_gpu_throughput_is_an_explicit_metric(tmp_path, toy_arch):
    agg, per = _load(tmp_path, [
        _row(id="a", arch=toy_arch, group="gpu-serving", batch=8, tp=2, devices=2,
             phase="generate", prompt=128, output=32, metric="throughput_tokens_per_s"),
        _row(id="b", arch=toy_arch, group="gpu-serving", batch=8, tp=2, devices=2,
             phase="generate", prompt=128, output=32,
             metric="throughput_tokens_per_s_per_gpu")])
    assert predict_gpu(per) == pytest.approx(predict_gpu(agg) / 2)
    rep = nmc.analyze("llama-2-7b", toy_arch, phase="generate", batch=8, prompt=128, generate=32,
                      tp=2)
    assert predict_gpu(agg) == pytest.approx(rep.tokens_per_s)


def test_total_throughput_counts_prompt_and_output(tmp_path, toy_arch):
    (r,) = _load(tmp_path, [_row(arch=toy_arch, phase="generate", batch=2, prompt=300,
                                 output=100, metric="total_throughput_tokens_per_s")])
    rep = nmc.analyze("llama-2-7b", toy_arch, phase="generate", batch=2, prompt=300,
                      generate=100)
    assert predict_gpu(r) == pytest.approx(400 * 2 / rep.latency_s)
    assert predict_gpu(r) == pytest.approx(rep.tokens_per_s * 4)


def test_rows_the_fixed_batch_path_cannot_express_are_skipped(tmp_path, toy_arch):
    no_batch, pp, ep, serving = _load(tmp_path, [
        _row(id="a", arch=toy_arch, batch=""),
        _row(id="b", arch=toy_arch, pp=2, tp=2, devices=4),
        _row(id="c", arch=toy_arch, ep=8),
        _row(id="d", arch=toy_arch, group="gpu-serving", batch="", prompt=128, output=32)])
    with pytest.raises(Skip, match="batch not stated"):
        predict_gpu(no_batch)
    with pytest.raises(Skip, match="pipeline parallelism"):
        predict_gpu(pp)
    with pytest.raises(Skip, match="expert parallelism"):
        predict_gpu(ep)
    with pytest.raises(Skip, match="no load stated"):
        predict_gpu(serving)


# ---- the load-benchmark path -------------------------------------------------------------------
def test_serving_rows_with_a_load_go_through_the_simulator(tmp_path, toy_arch):
    base = dict(arch=toy_arch, group="gpu-serving", phase="generate", prompt=256, output=64,
                batch="", framework="SGLang", requests=12)
    closed, rate, ttft, tpot = _load(tmp_path, [
        _row(id="a", concurrency=4, request_rate="inf", metric="throughput_tokens_per_s", **base),
        _row(id="b", request_rate=2, metric="total_throughput_tokens_per_s", **base),
        _row(id="c", concurrency=4, metric="ttft_ms", **base),
        _row(id="d", concurrency=4, metric="ms_per_token", **base)])
    # SGLang: prefill batches apart from decodes (continuous), chunked_prefill_size 8192,
    # the running batch limited by the KV pool (4096), CUDA graphs (FRAMEWORKS)
    sg = dict(scheduler="continuous", max_batch=4096, max_tokens=8192, runtime="graphs")
    rep = nmc.serve("llama-2-7b", toy_arch, concurrency=4, n_requests=12, prompt=256, output=64,
                    **sg).to_dict()
    assert predict_gpu(closed) == pytest.approx(rep["throughput_tokens_per_s"])
    assert predict_gpu(ttft) == pytest.approx(rep["ttft_mean_s"] * 1e3)
    assert predict_gpu(tpot) == pytest.approx(rep["tpot_mean_s"] * 1e3)
    rr = nmc.serve("llama-2-7b", toy_arch, rate=2.0, n_requests=12, prompt=256, output=64,
                   **sg).to_dict()
    assert predict_gpu(rate) == pytest.approx(rr["throughput_tokens_per_s"]
                                              + rr["input_tokens_per_s"])
    # 12 requests of 64 output tokens, 256 prompt tokens each
    assert rr["n_requests"] == 12
    # the scheduler comes from the framework column, never from notes: vLLM 0.8+ is V1
    # (chunked prefill, max_num_seqs 256, 2048 tokens per step)
    (vllm,) = _load(tmp_path, [_row(id="e", concurrency=4, metric="throughput_tokens_per_s",
                                    notes="static batching, sglang",
                                    **{**base, "framework": "vLLM 0.8"})])
    v1 = nmc.serve("llama-2-7b", toy_arch, concurrency=4, n_requests=12, prompt=256, output=64,
                   scheduler="chunked", max_batch=256, max_tokens=2048).to_dict()
    assert predict_gpu(vllm) == pytest.approx(v1["throughput_tokens_per_s"])


def test_framework_table():
    """Each framework maps to a scheduler, runtime mode and batch limits (FRAMEWORKS)."""
    from nmc.serving.rows import framework_of, measurement_kwargs
    cases = {"vLLM v0.5.4": ("continuous", "graphs"), "vLLM 0.4.3+rocm614": ("continuous", "graphs"),
             "vLLM (main, March 2025)": ("continuous", "graphs"),
             "vLLM 0.9.1": ("chunked", "graphs"), "vllm 1.2": ("chunked", "graphs"),
             "SGLang (April 2025)": ("continuous", "graphs"),
             "TensorRT-LLM v1.0 (trtllm-bench throughput, PyTorch backend)": ("chunked", "graphs"),
             "NVIDIA TensorRT-LLM (MLPerf 'TRT' system)": ("chunked", "fused"),
             "": ("continuous", "graphs"), "llama.cpp": ("continuous", "graphs")}
    for text, (sched, rt) in cases.items():
        fw = framework_of({"framework": text})
        assert (fw.scheduler, fw.runtime) == (sched, rt), text
    row = {"id": "x", "model": "llama-2-70b", "arch": "h100-sxm", "framework": "vLLM v0.5.4",
           "prompt": 100, "output": 10, "request_rate": 3}
    kw = measurement_kwargs(row)
    # V0: max_num_seqs 256, max_num_batched_tokens = max(max_model_len, 2048) = 4096
    assert (kw["max_batch"], kw["max_tokens"], kw["admission"]) == (256, 4096, "greedy")
    assert kw["n_requests"] == 5000 and kw["rate"] == 3.0
    kw = measurement_kwargs({**row, "framework": "TensorRT-LLM", "batch": 896, "runtime": ""})
    assert (kw["max_batch"], kw["max_tokens"], kw["admission"]) == (896, 8192, "reserve")
    assert kw["runtime"] == "fused"
    # a trace names the prompts, the row's output length is kept
    kw = measurement_kwargs({**row, "dataset": "mlperf-openorca", "prompt": ""})
    assert kw["prompt"] == "trace:mlperf-openorca" and kw["output"] == 10


def test_one_serving_row_by_hand(tmp_path):
    """A vLLM V0 load benchmark whose 8 requests all arrive at once and fit one prefill
    (8 x 512 tokens <= max_num_batched_tokens = max(8192 positions, 2048)): the prompts
    prefill in one pass, then the 8 sequences decode together. So the row's mean TTFT is
    analyze's prefill of batch 8, its mean TPOT analyze's generate TPOT, its throughput 8 x 64
    tokens over analyze's generate latency."""
    base = dict(arch="h100-sxm", model="llama-3-8b", group="gpu-serving", phase="generate",
                batch="", prompt=512, output=64, framework="vLLM v0.5.4", runtime="graphs",
                concurrency=8, requests=8, weights="bf16")
    ttft, tpot, thr = _load(tmp_path, [_row(id="t", metric="ttft_ms", **base),
                                       _row(id="p", metric="ms_per_token", **base),
                                       _row(id="r", metric="throughput_tokens_per_s", **base)])
    g = nmc.analyze("llama-3-8b", "h100-sxm", phase="generate", batch=8, prompt=512,
                    generate=64)
    pre = nmc.analyze("llama-3-8b", "h100-sxm", phase="prefill", batch=8, prompt=512)
    assert predict_gpu(ttft) == pytest.approx(pre.latency_s * 1e3, rel=1e-9)
    assert predict_gpu(tpot) == pytest.approx(g.results["tpot_s"] * 1e3, rel=1e-9)
    assert predict_gpu(thr) == pytest.approx(8 * 64 / g.latency_s, rel=1e-9)


def test_trtllm_bench_heuristic_by_hand():
    """trtllm-bench's max batch / tokens (tuning.py) for Llama-3-8B FP8 on one H100, ISL/OSL
    1000/1000, fp8 KV: 2 x 32 layers x 8 heads x 128 x 1 B = 64 KiB per token; weights
    8.03e9 B; KV room (mem - weights) x 0.90 / (2000 tokens x 64 KiB); then min(., 4096),
    rounded up to 128 (256 <= bs < 1024); tokens = bs x (1 + 1000/1000) rounded up to 256,
    at least 2048, and at least ISL + max batch."""
    import math
    from nmc.serving.rows import trtllm_bench_settings
    spec, arch = nmc.load_model("llama-3-8b"), nmc.load_arch("h100-sxm")
    gib = 1024.0 ** 3
    room = (arch["mem_capacity"] - spec.params()) / gib * 0.90
    reqs = room / (2 * 32 * 8 * 128 / gib * 2000)
    raw = min(reqs, 4096)
    bs = 128 * math.ceil(raw / 128) if raw < 1024 else 256 * math.ceil(raw / 256)
    assert 256 <= raw < 1024 and raw * 2 < 4096       # this case's branches:
    tok = max(2048, 256 * math.ceil(raw * 2 / 256))
    assert trtllm_bench_settings(spec, arch, 1, 1, 1000, 1000, "fp8", "fp8") == \
        (bs, max(tok, 1000 + bs)) == (640, 2048)


# ---- the headline: evaluation rows; calibration rows separately --------------------------------
def test_validate_headline_is_evaluation_and_calibration_is_separate(tmp_path, capsys, toy_arch):
    p = _write(tmp_path / "m.csv", [
        _row(id="cal-a", arch=toy_arch, split="calibration", value=1.0),
        _row(id="ev-a", arch=toy_arch, batch=4, value=100.0),
        _row(id="ev-b", arch="", value=100.0)])
    assert main(["validate", "--data", str(p)]) == 0
    out = capsys.readouterr().out
    ev, cal = out.index("evaluation rows (the headline"), out.index("calibration rows")
    assert ev < cal
    assert "1 rows predicted, 1 not predicted" in out[ev:cal]
    assert "cal-a" in out[cal:] and "cal-a" not in out[ev:cal]
    assert main(["validate", "--data", str(p), "--split", "evaluation"]) == 0
    only = capsys.readouterr().out
    assert "calibration rows" not in only and "ev-a" in only
    assert main(["validate", "--data", str(p), "--format", "json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["headline_split"] == "evaluation"
    assert js["splits"]["evaluation"]["groups"]["gpu-decode"]["n"] == 1
    assert js["splits"]["calibration"]["groups"]["gpu-decode"]["worst"]["id"] == "cal-a"
    assert [s["id"] for s in js["splits"]["evaluation"]["skipped"]] == ["ev-b"]
    assert js["splits"]["calibration"]["skipped"] == []


def test_by_split_never_mixes(tmp_path, toy_arch):
    rows = _load(tmp_path, [_row(id=f"r{i}", arch=toy_arch, batch=1 + i,
                                 split="calibration" if i % 3 == 0 else "evaluation")
                            for i in range(6)])
    parts = by_split(run(rows))
    assert [r["id"] for r in parts["calibration"]["rows"]] == ["r0", "r3"]
    assert [r["id"] for r in parts["evaluation"]["rows"]] == ["r1", "r2", "r4", "r5"]
    assert parts["evaluation"]["groups"]["gpu-decode"]["n"] == 4
    assert math.isfinite(parts["calibration"]["groups"]["gpu-decode"]["median_ape"])


def test_docs_tables_are_the_cli_output(capsys):
    """docs/validation.md's two headline tables are `nmc validate --format markdown` (the
    evaluation table there has one more column, the goal)."""
    from pathlib import Path
    assert main(["validate", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    doc = (Path(__file__).parents[1] / "docs" / "validation.md").read_text()

    def tables(text, first, second):
        a = text.index(first)
        b = text.index(second, a)
        rows = lambda t: [tuple(c.strip() for c in ln.strip("|").split("|"))[:7]  # noqa: E731
                          for ln in t.splitlines() if ln.startswith("| ") and "---" not in ln]
        return rows(text[a:b]), rows(text[b:text.index("rows predicted", b)])

    ev_doc, cal_doc = tables(doc, "Evaluation rows (the headline", "Calibration rows (reported")
    ev_cli, cal_cli = tables(out, "Evaluation rows (the headline", "Calibration rows (reported")
    assert ev_doc == ev_cli
    assert cal_doc == cal_cli


def test_docs_framework_table_is_the_code():
    """docs/serving.md's framework table lists every FRAMEWORKS entry with its scheduler and
    runtime mode."""
    from pathlib import Path

    from nmc.serving.rows import FRAMEWORKS
    doc = (Path(__file__).parents[1] / "docs" / "serving.md").read_text()
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:]]
            for ln in doc.splitlines() if ln.startswith("| ") and ln.count("|") >= 8}
    for fw in FRAMEWORKS:
        assert fw.name in rows, fw.name
        sched, rt = rows[fw.name][:2]
        assert (sched, rt) == (fw.scheduler, fw.runtime), fw.name
        assert rows[fw.name][4] == fw.admission or fw.scheduler == "static"
