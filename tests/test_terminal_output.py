"""Terminal output: text tables in engineering units fitted to 120 columns (--wide: all),
memory sizes with their unit, CSV/JSON with the raw numbers; and the user-facing behaviours of
issue 17 that are not errors (list params, relative base, validate --data with bad rows)."""
import csv
import io
import json
from pathlib import Path

import pytest

from nmc.cli import main
from nmc.report.tables import cell, eng, fmt_bytes, render, sig

DATA = Path(__file__).parent / "data"
MEAS = Path(__file__).resolve().parent.parent / "models" / "measurements"


def run(argv, capsys):
    assert main(argv) == 0
    return capsys.readouterr().out


def test_engineering_numbers():
    assert eng(6.5e-5, "s") == "65.0 µs" and eng(0.01011, "s") == "10.1 ms"
    assert eng(3.35e12, "B/s") == "3.35 TB/s" and eng(989e12, "FLOP/s") == "989 TFLOP/s"
    assert eng(1.0, "J") == "1.00 J" and eng(0.0491, "J") == "49.1 mJ"
    assert eng(0.0, "s") == "0 s" and eng(float("nan"), "s") == "-"
    assert sig(3109.4) == "3109" and sig(98.87) == "98.9" and sig(0.87221) == "0.872"
    assert sig(9.9996) == "10.0"
    assert fmt_bytes(80 * 2 ** 30) == "80 GiB" and fmt_bytes(141e9) == "141 GB"
    assert fmt_bytes(16.3e9) == "16.3 GB"
    assert cell(10.11, "latency_ms") == "10.1 ms" and cell(0.8722, "memory") == "87.2%"
    assert cell(6.649e-05, "compute") == "0.0%" and cell(1121.0, "energy_per_token_mj") == "1.12 J"


def test_render_fits_width_hoists_constants_and_names_what_it_left_out():
    rows = [{"model": "m", "arch": f"arch-{i}", "summary": "x" * 200, "latency_ms": 1.0 + i,
             "compute": 0.1, "memory": 0.9, "latency": 0.0, "comm": 0.0, "other": i}
            for i in range(3)]
    text = render(rows)
    lines = text.splitlines()
    assert lines[0].startswith("model m") and "comp% 10.0%" in lines[0]   # constants above
    assert max(len(ln) for ln in lines) <= 120
    assert "…" in text                                                # long text cut
    wide = render(rows, wide=True)
    assert "x" * 200 in wide and max(len(ln) for ln in wide.splitlines()) > 200


@pytest.mark.parametrize("argv", [
    ["list", "archs"], ["list", "models"], ["list", "params"],
    ["compare", "--model", "llama-3-8b", "--arch", "a100-80g-sxm,h100-sxm,h20,l20,ascend-910b",
     "--batch", "1,8,64"],
    ["compare", "--model", "llama-2-70b", "--arch", "h100-sxm,h100+hbm3-pim", "--batch",
     "1,4,16,64,256", "--context", "4096", "--tp", "2"],
    ["analyze", "--model", "llama-2-7b", "--arch", "h100-sxm"],
    ["train", "--model", "llama-2-7b", "--arch", "h100-sxm", "--devices", "8",
     "--global-batch", "32", "--seq", "2048", "--search", "--top", "5"],
], ids=["archs", "models", "params", "compare", "compare-pim", "analyze", "train-search"])
def test_tables_fit_120_columns(argv, capsys):
    out = run(argv, capsys)
    widest = max(len(ln) for ln in out.splitlines() if not ln.startswith("  "))
    assert widest <= 120, [ln for ln in out.splitlines() if len(ln) > 120][:2]
    assert "e-0" not in out and "e+0" not in out           # no scientific notation


def test_wide_shows_every_column(capsys):
    argv = ["compare", "--model", "llama-2-70b", "--arch", "h100-sxm,h100+hbm3-pim", "--batch",
            "1,256", "--context", "4096", "--tp", "2"]
    narrow = run(argv, capsys)
    wide = run(argv + ["--wide"], capsys)
    head = next(ln for ln in narrow.splitlines() if ln.startswith("arch "))
    assert "--wide shows all" in narrow and "energy/token" not in head
    head = next(ln for ln in wide.splitlines() if ln.startswith("arch "))
    assert "energy/token" in head and "comm%" in wide and "left out" not in wide


def test_list_archs_memory_has_units_and_csv_stays_raw(capsys):
    out = run(["list", "archs"], capsys)
    h100 = next(ln for ln in out.splitlines() if ln.startswith("h100-sxm "))
    assert "80 GiB" in h100 and "3.35 TB/s" in h100 and "989 TFLOP/s" in h100
    rows = list(csv.DictReader(io.StringIO(run(["list", "archs", "--format", "csv"], capsys))))
    r = next(r for r in rows if r["name"] == "h100-sxm")
    assert float(r["mem_GB"]) == pytest.approx(80 * 2 ** 30 / 1e9)      # raw numbers
    assert float(r["mem_TB_s"]) == pytest.approx(3.35)


def test_compare_csv_json_are_raw_and_text_marks_what_does_not_fit(capsys):
    argv = ["compare", "--model", "llama-2-70b", "--arch", "h100-sxm", "--batch", "1,64",
            "--context", "4096", "--tp", "2"]
    rows = list(csv.DictReader(io.StringIO(run(argv + ["--format", "csv"], capsys))))
    assert rows[1]["fits"] == "False" and float(rows[1]["tokens_per_s"]) > 0
    js = json.loads(run(argv + ["--format", "json"], capsys))
    assert js[0]["latency_ms"] == pytest.approx(float(rows[0]["latency_ms"]), rel=1e-15)
    text = run(argv, capsys)
    assert text.splitlines()[0].startswith("model llama-2-70b, arch h100-sxm")   # hoisted
    body = text.splitlines()[3:5]
    assert body[0].split()[0] == "1" and " *" not in body[0]
    assert body[1].split()[0] == "64" and " *" in body[1]
    assert "does not fit in memory" in text


def test_list_params(capsys):
    out = run(["list", "params", "--wide"], capsys)
    mem_bw = next(ln for ln in out.splitlines() if ln.startswith("mem_bw "))
    assert "memory" in mem_bw and "B/s" in mem_bw and "required" in mem_bw and "> 0" in mem_bw
    dpn = next(ln for ln in out.splitlines() if ln.startswith("devices_per_node "))
    assert "whole" in dpn
    rows = json.loads(run(["list", "params", "--format", "json"], capsys))
    eff = next(r for r in rows if r["name"] == "eff_mem")
    assert eff["default"] == 0.85 and eff["section"] == "efficiency"


def test_relative_base_resolves_against_the_preset_folder(tmp_path, capsys, monkeypatch):
    sub = tmp_path / "presets"
    sub.mkdir()
    (sub / "toy.toml").write_text((DATA / "toy-arch.toml").read_text())
    (sub / "child.toml").write_text('base = "toy.toml"\nname = "child"\n')
    (sub / "child2.toml").write_text('base = "toy"\nname = "child2"\n')     # NAME.toml beside
    monkeypatch.chdir(tmp_path.parent)              # the cwd holds no toy.toml
    for f in ("child.toml", "child2.toml"):
        out = run(["analyze", "--model", "llama-2-7b", "--arch", str(sub / f)], capsys)
        assert "on child" in out


def test_integer_parameters_and_tp_splits_are_refused_with_reasons(capsys):
    assert main(["analyze", "--model", "llama-2-7b", "--arch", "h100-sxm", "--set",
                 "devices_per_node=2.5"]) == 2
    assert "devices_per_node = 2.5 must be a whole number" in capsys.readouterr().err
    assert main(["analyze", "--model", "qwen2-0.5b", "--arch", "h100-sxm", "--tp", "7"]) == 2
    err = capsys.readouterr().err
    assert "tp=7 must divide the 2 KV heads" in err or "MLP width" in err
    assert main(["analyze", "--model", "llama-2-7b", "--arch", "h100-sxm", "--set", "tp=2"]) == 2
    assert "use --tp 2" in capsys.readouterr().err


def test_validate_data_reports_every_bad_row_the_same_way(tmp_path, capsys):
    lines = (MEAS / "gpu_inference.csv").read_text().splitlines()
    header, good = lines[0], lines[1:4]
    n = header.count(",")
    bad = [",".join(["bad-value", "gpu-decode"] + [""] * (n - 1)),            # empty fields
           good[0].replace(good[0].split(",")[0], "unknown-model", 1).replace(
               "llama-2-7b", "llama-9b"),
           ",".join(["bad-group", "nonsense"] + [""] * (n - 1))]
    p = tmp_path / "mine.csv"
    p.write_text("\n".join([header, *good, *bad]) + "\n")
    out = run(["validate", "--data", str(p)], capsys)
    assert "3 rows predicted" in out or "rows predicted" in out
    assert "invalid rows" in out and "not predicted: bad-value" in out
    assert "not predicted: bad-group" in out
    assert "unknown-model" in out and "llama-9b" in out
    js = json.loads(run(["validate", "--data", str(p), "--format", "json"], capsys))
    ids = {s["id"] for s in js["invalid"]} | {s["id"] for sp in js["splits"].values()
                                               for s in sp["skipped"]}
    assert {"bad-value", "bad-group", "unknown-model"} <= ids
