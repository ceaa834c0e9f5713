"""`nmc serve` and `nmc bench --serve` on the command line."""
import json

import pytest

import nmc
from nmc.cli import main

BASE = ["serve", "--model", "llama-2-70b", "--arch", "h100-sxm", "--tp", "4"]


def test_json_is_the_report_dict(capsys):
    assert main(BASE + ["--rate", "3", "--n-requests", "200", "--trace", "chat",
                        "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    ref = nmc.serve("llama-2-70b", "h100-sxm", tp=4, rate=3.0, n_requests=200,
                    trace="chat").to_dict()
    assert d == json.loads(json.dumps(ref))
    for k in ("ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p90_s",
              "tpot_p99_s", "throughput_tokens_per_s", "mean_batch"):
        assert isinstance(d[k], float)


def test_text_series_plot_and_requests(tmp_path, capsys):
    s, p, r = tmp_path / "s.csv", tmp_path / "s.png", tmp_path / "r.csv"
    assert main(BASE + ["--rate", "4", "--n-requests", "100", "--prompt", "uniform:100:300",
                        "--output", "lognormal:mean=80,median=60", "--price-per-hour", "3",
                        "--series", str(s), "--plot", str(p), "--requests", str(r)]) == 0
    out = capsys.readouterr().out
    assert "TTFT p90" in out and "USD per million output tokens" in out
    assert s.exists() and p.exists() and len(r.read_text().splitlines()) == 101


def test_closed_loop_and_disaggregated(capsys):
    assert main(BASE + ["--concurrency", "4", "--n-requests", "40"]) == 0
    assert main(BASE + ["--rate", "2", "--n-requests", "40", "--scheduler", "disaggregated",
                        "--decode-arch", "h100+hbm3-pim"]) == 0
    out = capsys.readouterr().out
    assert "closed loop, 4 users" in out and "prefill pool" in out


def test_search(tmp_path, capsys):
    pareto = tmp_path / "p.png"
    assert main(BASE[:3] + ["--arch", "h100-sxm,h20", "--search", "--rate", "8", "--tp", "4,8",
                            "--max-batch", "128", "--max-tokens", "8192", "--n-requests",
                            "200", "--steps", "3", "--pareto", str(pareto), "-q"]) == 0
    out = capsys.readouterr().out
    assert "fewest devices" in out and "highest rate per device" in out
    assert pareto.exists()


@pytest.mark.parametrize("args,msg", [
    (["--rate", "-2"], "rate must be > 0"),
    (["--trace", "nope"], "unknown trace"),
    (["--rate", "1", "--scheduler", "fifo"], "scheduler must be one of"),
    (["--search", "--rate", "5", "--slo-ttft", "0.0001", "--max-batch", "64",
      "--max-tokens", "8192", "--n-requests", "50"], "no fleet meets"),
])
def test_bad_input_one_line(args, msg, capsys):
    assert main(BASE + args) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_bench_serve_json(capsys):
    assert main(["bench", "--serve", "--quick", "--no-search", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["serve_requests_per_s"] > 0 and d["serve_case"]["tp"] == 4


def test_ep_runtime_and_admission_on_the_command_line(capsys):
    """--ep, --runtime, --dequant and --admission reach nmc.serve; an EP layout counts its
    tp x ep devices; a dense model with --ep is a one-line error."""
    moe = ["serve", "--model", "qwen3-30b-a3b", "--arch", "h100-sxm", "--tp", "2", "--ep", "2",
           "--rate", "5", "--n-requests", "60", "--runtime", "fused", "--admission", "reserve",
           "--format", "json"]
    assert main(moe) == 0
    d = json.loads(capsys.readouterr().out)
    ref = nmc.serve("qwen3-30b-a3b", "h100-sxm", tp=2, ep=2, rate=5.0, n_requests=60,
                    runtime="fused", admission="reserve").to_dict()
    assert d == json.loads(json.dumps(ref)) and d["devices"] == 4
    assert d["layout"]["serve"]["runtime"] == "fused"
    assert main(BASE + ["--ep", "2", "--rate", "1"]) == 2
    err = capsys.readouterr().err
    assert "mixture-of-experts" in err and err.count("\n") == 1
    assert main(moe[:-2] + ["--search", "--tp", "1,2", "--ep", "1,2", "--max-batch", "64",
                            "--scheduler", "chunked", "--steps", "2", "-q",
                            "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert {(r["tp"], r["ep"]) for r in res["rows"]} == {(1, 1), (1, 2), (2, 1), (2, 2)}
