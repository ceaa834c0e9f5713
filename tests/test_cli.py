"""The CLI: every subcommand runs, machine-readable output parses, user mistakes give one clear
line and exit code 2, never a traceback."""
import csv
import io
import json
import subprocess
import sys

import pytest

from nmc.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list(capsys):
    code, out, _ = run(capsys, "list", "models")
    assert code == 0 and "llama-2-7b" in out and "mixtral-8x7b" in out
    code, out, _ = run(capsys, "list", "archs", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and {"h100-sxm", "a100-80g-sxm"} <= {r["name"] for r in rows}


def test_analyze_text_json_csv(capsys, toy_arch):
    code, out, _ = run(capsys, "analyze", "--model", "llama-2-7b", "--arch", toy_arch,
                       "--batch", "8", "--context", "2048")
    assert code == 0 and "bound:" in out and "qkv_proj" in out
    code, out, _ = run(capsys, "analyze", "--model", "llama-2-7b", "--arch", toy_arch,
                       "--format", "json", "--weights", "int4", "--kv", "fp8")
    d = json.loads(out)
    assert code == 0
    assert d["scenario"]["weights"] == "int4" and d["latency_s"] > 0
    assert set(d["bound_shares"]) == {"compute", "memory", "latency", "comm"}
    code, out, _ = run(capsys, "analyze", "--model", "llama-2-7b", "--arch", toy_arch,
                       "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows[0]["name"] == "embed"


def test_compare_writes_chart(capsys, tmp_path):
    out_png = tmp_path / "cmp.png"
    code, out, _ = run(capsys, "compare", "--model", "llama-3-8b", "--arch",
                       "a100-80g-sxm,h100-sxm,h20", "--batch", "1,8", "--format", "csv",
                       "-o", str(out_png))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 6
    assert out_png.exists() and out_png.with_suffix(".svg").exists()


def test_compare_and_analyze_aimc(capsys):
    """An AIMC preset beside a GPU: the AIMC columns (resident share of the hybrid mapping,
    re-programming, effective bits) appear, empty for the GPU."""
    code, out, _ = run(capsys, "compare", "--model", "llama-3-8b", "--arch",
                       "aimc-edge-projected,h100-sxm", "--format", "csv")
    rows = {r["arch"]: r for r in csv.DictReader(io.StringIO(out))}
    assert code == 0
    a = rows["aimc-edge-projected"]
    assert 0.3 < float(a["aimc_resident"]) < 0.5 and a["aimc_reprogram"] == "False"
    assert float(a["aimc_eff_bits"]) == pytest.approx(3.84, abs=0.01)
    assert rows["h100-sxm"]["aimc_resident"] in ("", "-")
    code, out, _ = run(capsys, "analyze", "--model", "llama-3-8b", "--arch", "aimc-edge-projected")
    assert code == 0 and "resident on the tiles (policy layers)" in out and "effective precision" in out


def test_roofline_writes_png_and_svg(capsys, tmp_path):
    p = tmp_path / "r.png"
    code, out, _ = run(capsys, "roofline", "--model", "llama-2-70b", "--arch",
                       "a100-80g-sxm,h100-sxm", "--tp", "4", "-o", str(p))
    assert code == 0
    assert p.stat().st_size > 10_000 and p.with_suffix(".svg").exists()


@pytest.mark.parametrize("argv,msg", [
    (["analyze", "--model", "nope", "--arch", "h100-sxm"], "unknown model 'nope'"),
    (["analyze", "--model", "llama-2-7b", "--arch", "nope"], "unknown architecture 'nope'"),
    (["analyze", "--model", "llama-2-7b", "--arch", "h100-sxm", "--batch", "0"], "batch must be"),
    (["analyze", "--model", "llama-2-7b", "--arch", "h100-sxm", "--batch", "x"], "not an integer"),
    (["analyze", "--model", "llama-2-7b", "--arch", "h100-sxm", "--set", "mem_bw=-3"], "out of range"),
    (["analyze", "--model", "llama-2-7b", "--arch", "h100-sxm", "--tp", "3"], "divide"),
    (["analyze", "--model", "llama-2-7b", "--arch", "/no/such.toml"], "file not found"),
])
def test_user_errors_are_one_line(capsys, argv, msg):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert msg in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "nmc.cli", "analyze", "--model", "nope", "--arch",
                        "h100-sxm"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_compare_with_aimc_and_pim_columns(capsys):
    """compare over GPU, PIM and AIMC presets at once: one CSV with the family columns of each
    (this used to fail with an AttributeError when an AIMC preset was in the list)."""
    import nmc
    code, out, err = run(capsys, "compare", "--model", "llama-3.2-1b", "--arch",
                         "ibm-hermes,h100-sxm,hbm3-pim", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["arch"] for r in rows] == ["ibm-hermes", "h100-sxm", "hbm3-pim"]
    assert rows[0]["aimc_chips"] != "" and rows[1]["aimc_chips"] == ""
    assert rows[2]["pim_share"] != "" and rows[1]["pim_share"] == ""
    want = nmc.analyze("llama-3.2-1b", "hbm3-pim").tokens_per_s
    assert float(rows[2]["tokens_per_s"]) == pytest.approx(want, rel=1e-12)


def test_binary_config_files_give_one_line(capsys, tmp_path):
    """A config or preset that is not UTF-8 text is a user mistake: one line, exit 2."""
    blob = b"\xff\xfe\x00\x01 not text"
    (tmp_path / "bin.json").write_bytes(blob)
    (tmp_path / "bin.toml").write_bytes(blob)
    code, _, err = run(capsys, "analyze", "--model", str(tmp_path / "bin.json"), "--arch", "h100-sxm")
    assert code == 2 and err == f"nmc: error: {tmp_path / 'bin.json'}: not valid JSON (not UTF-8 text)\n"
    code, _, err = run(capsys, "analyze", "--model", "llama-2-7b", "--arch", str(tmp_path / "bin.toml"))
    assert code == 2 and err == f"nmc: error: {tmp_path / 'bin.toml'}: malformed TOML (not UTF-8 text)\n"
    code, _, err = run(capsys, "sweep", str(tmp_path / "bin.toml"), "-o", str(tmp_path / "out"))
    assert code == 2 and err == f"nmc: error: {tmp_path / 'bin.toml'}: malformed TOML (not UTF-8 text)\n"
