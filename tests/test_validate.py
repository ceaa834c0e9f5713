"""Validation and calibration: loader checks, predictions, calibration recovers known parameters."""
import json

import numpy as np
import pytest

import nmc
from nmc.validation import measurements
from nmc.validation.calibrate import calibrate, write_preset
from nmc.cli import main
from nmc.errors import ConfigError
from nmc.validation.gpu import predict_gpu
from nmc.validation.runner import run

from measurement_rows import row as _row, write_rows as _write


def test_bundled_measurements_load():
    rows = measurements.load()
    assert len(rows) > 50
    assert {r["group"] for r in rows} >= {"gpu-decode", "gpu-prefill", "training"}
    assert all(r["source"] for r in rows)


def test_rows_derived_from_calibration_rows_are_calibration():
    """A row whose prediction is a rescaling of a calibration row says so in its notes
    ("derived from <id>") and is itself a calibration row (issue 18: per core /64 and four-phase
    /4 of the HERMES rows that set the preset)."""
    import re
    rows = {r["id"]: r for r in measurements.load()}
    derived = {i: re.search(r"derived from ([a-z0-9][\w.]*-[\w.-]+)", r.get("notes") or "")
               for i, r in rows.items()}
    derived = {i: m.group(1) for i, m in derived.items() if m}
    assert {"hermescore-tops", "hermescore-topsw", "hermes-4phase-tops"} <= set(derived)
    for i, src in derived.items():
        assert rows[i]["split"] == "calibration", i
        assert src in rows and rows[src]["split"] == "calibration", (i, src)


@pytest.mark.parametrize("edit,msg", [
    (dict(source=""), "empty required field 'source'"),
    (dict(value="fast"), "not a number"),
    (dict(value="-3"), "must be > 0"),
    (dict(group="gpu"), "group 'gpu' not one of"),
    (dict(split="train"), "split 'train'"),
    (dict(kind="guess"), "kind 'guess'"),
])
def test_loader_rejects_bad_rows(tmp_path, edit, msg):
    p = _write(tmp_path / "m.csv", [_row(**edit)])
    with pytest.raises(ConfigError, match=msg) as e:
        measurements.load([p])
    assert "m.csv:2" in str(e.value)


def test_loader_rejects_duplicate_ids(tmp_path):
    p = _write(tmp_path / "m.csv", [_row(), _row()])
    with pytest.raises(ConfigError, match="duplicate id"):
        measurements.load([p])


def test_gpu_predictor_matches_analyze(toy_arch):
    r = measurements.load([_write_tmp(toy_arch)])[0]
    pred = predict_gpu(r, arch=toy_arch)
    want = nmc.analyze("llama-2-7b", toy_arch, phase="decode", batch=1, context=512).tokens_per_s
    assert pred == pytest.approx(want)


def _write_tmp(toy_arch, tmpdir=[None]):
    import tempfile
    d = tempfile.mkdtemp()
    return _write(f"{d}/m.csv", [_row(arch=toy_arch)])


def test_skipped_rows_are_listed_with_reason(tmp_path, toy_arch):
    p = _write(tmp_path / "m.csv", [_row(id="a", arch=toy_arch), _row(id="b", arch=""),
                                    _row(id="c", arch=toy_arch, model="no-such-model")])
    res = run(measurements.load([p]))
    assert [r["id"] for r in res["rows"]] == ["a"]
    reasons = {s["id"]: s["reason"] for s in res["skipped"]}
    assert "no preset" in reasons["b"] and "unknown model" in reasons["c"]
    assert res["groups"]["gpu-decode"]["n"] == 1


def _synthetic_rows(truth, n=24, noise=0.02, seed=0):
    from conftest import DATA
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        b = int(rng.choice([1, 4, 16, 64]))
        ctx = int(rng.choice([128, 1024, 4096]))
        phase = "prefill" if i % 3 == 0 else "decode"
        r = _row(id=f"s{i}", batch=b, context=ctx, phase=phase,
                 group="gpu-prefill" if phase == "prefill" else "gpu-decode",
                 prompt=512 if phase == "prefill" else "",
                 model="llama-2-7b" if i % 2 else str(DATA / "toy-llm.json"))
        r["prompt"] = 512 if phase == "prefill" else None
        for c in ("devices", "batch", "context", "prompt"):
            r[c] = r[c] if r[c] not in ("",) else None
        r["value"] = predict_gpu(r, arch=truth) * float(np.exp(rng.normal(0, noise)))
        rows.append(r)
    return rows


def test_calibration_recovers_known_parameters(toy_arch):
    truth = nmc.load_arch(toy_arch).with_(eff_mem=0.7, kernel_overhead=3e-6, eff_compute=0.6)
    rows = _synthetic_rows(truth)
    res = calibrate(toy_arch, rows, ("eff_compute", "eff_mem", "kernel_overhead"))
    fitted = dict(zip(res["params"], res["x"]))
    assert fitted["eff_mem"] == pytest.approx(0.7, rel=0.05)
    assert fitted["kernel_overhead"] == pytest.approx(3e-6, rel=0.15)
    assert fitted["eff_compute"] == pytest.approx(0.6, rel=0.1)
    assert res["median_ape_after"] < 0.03 < res["median_ape_before"]


def test_calibrated_preset_round_trips(tmp_path, toy_arch):
    truth = nmc.load_arch(toy_arch).with_(eff_mem=0.8)
    res = calibrate(toy_arch, _synthetic_rows(truth, n=8, noise=0.0), ("eff_mem",))
    p = write_preset(res, tmp_path / "toy-cal.toml", "synthetic.csv")
    a = nmc.load_arch(p)
    assert a["eff_mem"] == pytest.approx(0.8, rel=1e-3)
    assert "nmc calibrate" in a.sources["eff_mem"]["ref"]


def test_validate_cli_writes_csv_json_and_scatter(tmp_path, capsys, toy_arch):
    p = _write(tmp_path / "m.csv", [_row(id="a", arch=toy_arch),
                                    _row(id="b", arch=toy_arch, batch=8, value=500)])
    code = main(["validate", "--data", str(p), "--format", "json", "-o", str(tmp_path / "out")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["headline_split"] == "evaluation"
    ev = out["splits"]["evaluation"]
    assert ev["groups"]["gpu-decode"]["n"] == 2
    assert set(ev["groups"]["gpu-decode"]) >= {"n", "median_ape", "mean_ape"}
    assert out["splits"]["calibration"]["groups"] == {}
    assert (tmp_path / "out" / "validation.csv").exists()
    assert (tmp_path / "out" / "validation_scatter.png").stat().st_size > 5000
