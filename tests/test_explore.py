"""`nmc explore` without a browser: what the page computes equals nmc.analyze / nmc.sweep, its
exports equal what the CLI prints for the equivalent command line, bad uploads give the CLI's
one line, uploads stay in the session's temporary folder, the web package is imported only by
`nmc explore`, and a missing extra is one line. The Panel layer is driven from Python when Panel
is installed (pip install 'nmc[web]'); tests/test_explore_browser.py drives it in Chromium."""
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nmc
from nmc.arch.schema import BY_NAME, PARAMS
from nmc.cli import main
from nmc.report.tables import fmt_num
from nmc.units import parse
from nmc.web import state as S

DATA = Path(__file__).parent / "data"
ARCHS = ("h100-sxm", "a100-80g-sxm", "h20", "h100+hbm3-pim")


def cli(capsys, argv, cwd=None, monkeypatch=None):
    if cwd is not None:
        monkeypatch.chdir(cwd)
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def session(tmp_path):
    root = tmp_path / "server"
    root.mkdir()
    s = S.Session(root)
    yield s
    s.close()


def test_evaluate_equals_analyze(session):
    inp = S.Inputs(model="llama-3-8b", archs=ARCHS, batch=8, context=4096)
    res = session.evaluate(inp)
    assert res.errors == [] and [r["arch"] for r in res.rows] == list(ARCHS)
    for row in res.rows:
        want = nmc.analyze("llama-3-8b", row["arch"], phase="decode", batch=8, context=4096)
        assert row["tokens_per_s"] == want.tokens_per_s
        assert row["latency_ms"] == want.latency_s * 1e3
        assert row["energy_per_token_mj"] == want.energy_per_token_j * 1e3
        assert row["memory_gb"] == want.memory_bytes / 1e9 and row["fits"] == want.fits
        assert row["bound"] == want.bound
    ops = [o for o in res.ops if o["arch"] == "h20"]
    want = nmc.analyze("llama-3-8b", "h20", batch=8, context=4096).ops
    assert [o["name"] for o in ops] == [o["name"] for o in want]
    assert [o["time_s"] for o in ops] == [o["time_s"] for o in want]


def test_what_if_override_equals_analyze_set(session):
    inp = S.Inputs(model="llama-2-7b", archs=("h100-sxm", "h20"), batch=4,
                   overrides={"mem_bw": (6.5, "TB/s"), "kernel_overhead": (2.5, "us")})
    res = session.evaluate(inp)
    for row in res.rows:
        want = nmc.analyze("llama-2-7b", row["arch"], batch=4, mem_bw="6.5 TB/s",
                           kernel_overhead="2.5 us")
        assert row["tokens_per_s"] == want.tokens_per_s
    base = nmc.analyze("llama-2-7b", "h100-sxm", batch=4)
    assert res.rows[0]["tokens_per_s"] > base.tokens_per_s      # 6.5 > 3.35 TB/s


def test_heatmap_cells_equal_analyze(session):
    inp = S.Inputs(model="llama-3-8b", archs=("h100-sxm", "h100+hbm3-pim"), tp=2, kv="fp8")
    res = session.evaluate(inp)
    heat = res.heat
    assert heat["axis"] == "context" and heat["arch"] == ["h100-sxm", "h100+hbm3-pim"]
    assert heat["batch"] == list(S.HEAT_BATCH)
    assert heat["length"] == [v for v in S.HEAT_LENGTH if v <= 8192]   # llama-3-8b: 8192 positions
    for k, arch in enumerate(heat["arch"]):
        c = heat["cells"][k]
        assert len(c["batch"]) == len(heat["batch"]) * len(heat["length"])
        for i in (0, 13, len(c["batch"]) - 1):
            r = nmc.analyze("llama-3-8b", arch, batch=c["batch"][i], context=c["length"][i], tp=2,
                            kv="fp8")
            assert c["tokens_per_s"][i] == pytest.approx(r.tokens_per_s, rel=1e-12)
            assert c["fits"][i] == r.fits and c["bound"][i] == r.bound
    # prefill: the grid spans the prompt
    res = session.evaluate(S.Inputs(model="gpt2", archs=("h20",), phase="prefill"))
    assert res.heat["axis"] == "prompt" and res.heat["length"] == [256, 512, 1024]


def test_heatmap_kept_while_only_batch_and_length_move(session):
    a = session.evaluate(S.Inputs(batch=1, context=2048))
    b = session.evaluate(S.Inputs(batch=64, context=512))
    c = session.evaluate(S.Inputs(batch=64, context=512, kv="fp8"))
    assert b.heat is a.heat and c.heat is not a.heat
    d = session.evaluate(S.Inputs(batch=64, overrides={"mem_bw": (5.0, "TB/s")}))
    assert d.heat is not c.heat


def test_summary_csv_equals_the_command_line(session, capsys, monkeypatch, tmp_path):
    inp = S.Inputs(model="mixtral-8x7b", archs=("h100-sxm", "ibm-hermes", "hbm3-pim"),
                   phase="generate", batch=2, prompt=1024, generate=64, weights="int4",
                   kv="fp8", overrides={"kernel_overhead": (3.0, "us")})
    res = session.evaluate(inp)
    assert res.errors == []
    argv = shlex.split(res.command)
    assert argv[:2] == ["nmc", "compare"] and "--set" in argv
    code, out, err = cli(capsys, argv[1:] + ["--format", "csv"])
    assert code == 0, err
    assert out == S.summary_csv(res)
    # operator CSV: the rows of `nmc analyze --format csv`, arch first
    code, out, _ = cli(capsys, ["analyze", "--model", "mixtral-8x7b", "--arch", "ibm-hermes",
                                "--phase", "generate", "--batch", "2", "--prompt", "1024",
                                "--generate", "64", "--weights", "int4", "--kv", "fp8",
                                "--set", "kernel_overhead=3 us", "--format", "csv"])
    rows = [line.split(",", 1)[1] for line in S.ops_csv(res).splitlines()[1:]
            if line.startswith("ibm-hermes,")]
    assert rows == out.splitlines()[1:]
    d = json.loads(S.result_json(res))
    assert d["command"] == res.command and [r["arch"] for r in d["reports"]] == list(inp.archs)
    assert d["reports"][0]["tokens_per_s"] == res.reports[0].tokens_per_s


def test_command_line_with_uploaded_files(session, capsys, monkeypatch, tmp_path):
    cfg = (DATA / "toy-llm.json").read_bytes()
    toml = (DATA / "toy-arch.toml").read_bytes()
    m = session.upload("model", "my-model.json", cfg)
    a = session.upload("arch", "toy.toml", toml)
    assert m == "my-model (uploaded)" and m in session.model_options()
    assert a == "toy-arch (uploaded)" and a in session.arch_options()
    res = session.evaluate(S.Inputs(model=m, archs=(a, "h20"), batch=3))
    assert res.errors == [] and res.rows[0]["model"] == "my-model"
    assert "--model my-model.json --arch toy.toml,h20" in res.command
    (tmp_path / "my-model.json").write_bytes(cfg)
    (tmp_path / "toy.toml").write_bytes(toml)
    code, out, err = cli(capsys, shlex.split(res.command)[1:] + ["--format", "csv"], tmp_path,
                         monkeypatch)
    assert code == 0, err
    assert out == S.summary_csv(res)


BAD = [  # (kind, file name, content)
    ("model", "bad.json", b"{not json"),
    ("model", "list.json", b"[1, 2]"),
    ("model", "nokeys.json", b'{"model_type": "llama"}'),
    ("model", "blob.json", b"\xff\xfe\x00\x01"),
    ("arch", "bad.toml", b"family = \n"),
    ("arch", "unknown.toml", b'family = "gpu"\nfoo = 1\n'),
    ("arch", "section.toml", b'base = "h100-sxm"\n[memory]\nmem_bandwidth = "4 TB/s"\n'),
    ("arch", "range.toml", b'base = "h100-sxm"\n[efficiency]\neff_mem = 1.5\n'
                           b'[sources]\neff_mem = "typo"\n'),
]


@pytest.mark.parametrize("kind,name,data", BAD, ids=[b[1] for b in BAD])
def test_bad_upload_gives_the_cli_line(session, capsys, monkeypatch, tmp_path, kind, name, data):
    with pytest.raises(nmc.NmcError) as e:
        session.upload(kind, name, data)
    page = S.error_line(e.value)
    (tmp_path / name).write_bytes(data)
    argv = ["analyze", "--model", name if kind == "model" else "llama-2-7b",
            "--arch", name if kind == "arch" else "h100-sxm"]
    code, _, err = cli(capsys, argv, tmp_path, monkeypatch)
    assert code == 2 and err == page + "\n"
    assert "\n" not in page and str(session.dir) not in page
    assert not list(session.dir.rglob("*"))           # a rejected upload leaves nothing


def test_uploads_stay_in_the_session_folder(tmp_path):
    root = tmp_path / "server"
    root.mkdir()
    s = S.Session(root)
    label = s.upload("model", "../../../../etc/evil name.json", (DATA / "toy-llm.json").read_bytes())
    files = [p for p in root.rglob("*") if p.is_file()]
    assert [p.name for p in files] == ["evil_name.json"]
    assert all(s.dir in p.parents for p in files) and label == "evil_name (uploaded)"
    with pytest.raises(nmc.NmcError, match="too large"):
        s.upload("arch", "big.toml", b"#" * (S.MAX_UPLOAD + 1))
    with pytest.raises(nmc.NmcError, match="empty file"):
        s.upload("arch", "empty.toml", b"")
    assert [p for p in root.rglob("*") if p.is_file()] == files
    s.close()
    assert not list(root.iterdir())


def test_per_arch_errors_keep_the_others(session):
    res = session.evaluate(S.Inputs(model="llama-3-8b", archs=("h100-sxm", "ibm-hermes"), tp=2))
    assert [r["arch"] for r in res.rows] == ["h100-sxm"]
    with pytest.raises(nmc.NmcError) as e:
        nmc.analyze("llama-3-8b", "ibm-hermes", tp=2)
    assert res.errors == [f"nmc: error: {e.value}"] and "ibm-hermes" in res.errors[0]
    res = session.evaluate(S.Inputs(model="llama-3-8b", archs=ARCHS, tp=3))
    assert res.rows == [] and res.heat is None
    assert res.errors == ["nmc: error: tp=3 must divide the number of attention heads (32) of "
                          "llama-3-8b"]                         # once, not four times


@pytest.mark.parametrize("arch", ["h100-sxm", "hbm3-pim", "ibm-hermes"])
def test_sliders_every_parameter(arch):
    a = nmc.load_arch(arch)
    for p in PARAMS:
        sl = S.slider_for(p.name, [a])
        assert sl.start <= sl.value <= sl.end and sl.step > 0
        assert sl.start * sl.factor >= p.lo and sl.end * sl.factor <= p.hi
        if sl.unit:                                    # the unit text parses back
            assert parse(f"1 {sl.unit}", p.kind) == sl.factor
        v = S.override_text(sl.value, sl.unit)
        si = parse(v, p.kind)
        if a[p.name] and sl.start <= a[p.name] / sl.factor <= sl.end:
            assert si == pytest.approx(a[p.name], rel=1e-5)   # six significant digits
    sl = S.slider_for("mem_bw", [a])
    assert sl.unit in ("TB/s", "GB/s") and sl.start > 0       # mem_bw must be > 0


def test_display_units():
    assert S.display_unit(BY_NAME["mem_bw"], 3.35e12) == ("TB/s", 1e12)
    assert S.display_unit(BY_NAME["kernel_overhead"], 4e-6) == ("us", 1e-6)
    assert S.display_unit(BY_NAME["mem_capacity"], 80e9) == ("GB", 1e9)
    assert S.display_unit(BY_NAME["e_mem"], 0.0) == ("pJ/B", 1e-12)
    assert S.display_unit(BY_NAME["pim_banks"], 16) == ("", 1.0)


# ---- the command -----------------------------------------------------------------------------
def test_web_package_is_not_imported_by_the_core_or_the_cli():
    code = ("import sys, nmc, nmc.cli; nmc.cli.build_parser(); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('panel', 'bokeh', 'pandas')"
            " or m.startswith('nmc.web')); print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_explore_help_and_missing_extra(capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["explore", "--help"])
    out = capsys.readouterr().out
    assert "--port" in out and "--no-browser" in out
    monkeypatch.setitem(sys.modules, "panel", None)           # as if the extra were missing
    code, _, err = cli(capsys, ["explore", "--no-browser"])
    assert code == 2
    assert err == "nmc: error: nmc explore needs the web extra: pip install 'nmc[web]' (panel is missing)\n"
    code, _, err = cli(capsys, ["explore", "--port", "70000"])
    assert code == 2 and err == "nmc: error: --port 70000 is not a TCP port (1..65535)\n"


# ---- the Panel layer, driven from Python ---------------------------------------------------
@pytest.fixture
def explorer(tmp_path):
    pytest.importorskip("panel")
    from nmc.web.app import Explorer
    ex = Explorer(str(tmp_path))
    yield ex
    ex.session.close()


def kpi(ex, arch, key):
    import re
    m = re.search(rf'data-arch="{re.escape(arch)}" data-key="{key}" data-value="([^"]*)"[^>]*>([^<]*)<',
                  ex.kpi.object)
    return m.group(1), m.group(2)


def test_panel_page_follows_the_controls(explorer):
    ex = explorer
    ex.model.value = "llama-2-7b"
    ex.archs[1].value = "h200-sxm"
    ex.batch.value = 8
    want = nmc.analyze("llama-2-7b", "h200-sxm", batch=8, context=2048)
    value, text = kpi(ex, "h200-sxm", "tokens_per_s")
    assert float(value) == want.tokens_per_s and text == fmt_num(want.tokens_per_s)
    assert ex.table.value["arch"].tolist().count("h200-sxm") == len(want.ops)
    assert ex.result.command.startswith("nmc compare --model llama-2-7b --arch h100-sxm,h200-sxm,")
    # the roofline has one point per operator with FLOPs and device-memory traffic, per arch
    n = sum(1 for o in want.ops if o["flops"] > 0 and 0 < o["intensity"] < float("inf"))
    assert ex.pts_src.data["arch"].count("h200-sxm") == n
    shares = dict(zip(ex.share_src.data["arch"], ex.share_src.data["memory"]))
    assert shares["h200-sxm"] == pytest.approx(want.bound_shares["memory"] * 100)
    # a what-if slider: same numbers as analyze(..., mem_bw=...)
    ex.add_slider("mem_bw")
    w = ex.sliders["mem_bw"][0]
    assert getattr(w, "label", w.name) == "mem_bw (TB/s)" and w.value == 3.35   # h100-sxm
    w.value = 7.5
    want = nmc.analyze("llama-2-7b", "h20", batch=8, mem_bw="7.5 TB/s")
    assert float(kpi(ex, "h20", "tokens_per_s")[0]) == want.tokens_per_s
    assert "--set 'mem_bw=7.5 TB/s'" in ex.result.command
    ex.remove_slider("mem_bw")
    assert float(kpi(ex, "h20", "tokens_per_s")[0]) == nmc.analyze("llama-2-7b", "h20", batch=8).tokens_per_s
    # the phase shows its own lengths
    ex.phase.value = "generate"
    assert ex.generate.visible and ex.prompt.visible and not ex.context.visible
    assert "TTFT" in ex.kpi.object


def test_panel_bad_upload_and_a_bug_never_crash(explorer, monkeypatch):
    ex = explorer
    ex.model_upload.filename = "bad.json"
    ex.model_upload.value = b"{not json"
    assert "nmc: error: bad.json: not valid JSON (line 1: Expecting property name enclosed in " \
           "double quotes)" in ex.errors.object
    assert ex.model.value == "llama-3-8b" and ex.result.rows       # the page goes on
    ex.arch_upload.filename = "toy.toml"
    ex.arch_upload.value = (DATA / "toy-arch.toml").read_bytes()
    # all four slots were taken: the upload replaces the last one
    assert [w.value for w in ex.archs] == ["h100-sxm", "a100-80g-sxm", "h20", "toy-arch (uploaded)"]
    assert "toy-arch (uploaded)" in ex.archs[0].options
    want = nmc.analyze("llama-3-8b", str(DATA / "toy-arch.toml"))
    assert float(kpi(ex, "toy-arch", "tokens_per_s")[0]) == want.tokens_per_s
    assert "bad.json" not in ex.errors.object                      # a good upload clears it
    monkeypatch.setattr(ex.session, "evaluate", lambda *a, **k: 1 / 0)
    ex.batch.value = 2                                             # a bug: one line, no raise
    assert "nmc: internal error: ZeroDivisionError" in ex.errors.object


def test_panel_update_time(explorer):
    """One change = read the controls, analyze on four archs, rebuild what the page shows.
    The browser test measures the full round trip; this is the server's share."""
    ex = explorer
    times = []
    for b in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11):
        t = time.perf_counter()
        ex.batch.value = b
        times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2]
    print(f"server-side update: median {median * 1e3:.1f} ms over {len(times)} changes")
    assert median < 0.2


def test_panel_page_every_bundled_preset_and_phase(explorer):
    """Every bundled preset (GPU, PIM, AIMC) in every phase: numbers or the CLI's one-line
    errors, never an internal error."""
    ex = explorer
    archs = nmc.list_archs()
    ex.model.value = "llama-3.2-1b"
    for i in range(0, len(archs), 4):
        group = archs[i:i + 4] + [None] * (4 - len(archs[i:i + 4]))
        for w, a in zip(ex.archs, group):
            w.value = a if a is not None else "(none)"
        for phase in ("prefill", "decode", "generate"):
            ex.phase.value = phase
            assert "internal error" not in ex.errors.object, (group, phase)
            shown = [r["arch"] for r in ex.result.rows]
            for a in filter(None, group):                 # shown, or its one-line error
                assert a in shown or any(a in e for e in ex.result.errors), (a, phase)
            for r in ex.result.rows:
                want = nmc.analyze("llama-3.2-1b", r["arch"], phase=phase)
                assert float(kpi(ex, r["arch"], "latency_ms")[0]) == want.latency_s * 1e3
