"""`nmc report --check`: the docs-numbers registry (nmc/report/checks) finds a drifted number,
a drifted table and a phrase that is gone, rewrites them with --write, and passes on the
repository's own docs (the quick subset)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nmc.cli import main
from nmc.report import checks as C

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A private registry: one quick source from nmc.analyze, one phrase, one table."""
    monkeypatch.setattr(C, "SOURCES", {})
    monkeypatch.setattr(C, "QUOTES", [])
    monkeypatch.setattr(C, "BLOCKS", [])
    monkeypatch.setattr(C, "load_all", lambda: None)
    import nmc

    @C.source("toy", quick=True)
    def _toy():
        r = nmc.analyze("llama-3.2-1b", "h100-sxm", phase="decode", batch=1, context=2048)
        return {"tok_s": r.tokens_per_s, "mj": 1e3 * r.energy_per_token_j, "arch": "h100-sxm",
                "table": f"| arch | tokens/s |\n|---|---|\n| h100-sxm | {C.fmt(r.tokens_per_s, '.4S')} |"}

    @C.source("slow", quick=False)
    def _slow():
        return {"x": 2.5}

    C.quote("docs/a.md", "the {toy.arch} decodes {toy.tok_s:.3S} tokens/s at {toy.mj:.3S} mJ per token")
    C.block("docs/a.md", "toy_table", "toy", lambda v: v["table"])
    C.quote("docs/a.md", "slow is {slow.x:.2f} here")
    (tmp_path / "docs").mkdir()
    return tmp_path


GOOD = """# A

On one GPU the h100-sxm decodes 660 tokens/s at
228 mJ per token (a phrase that wraps).

<!-- nmc:toy_table -->
| arch | tokens/s |
|---|---|
| h100-sxm | 660.3 |
<!-- /nmc:toy_table -->

slow is 2.50 here.
"""


def test_format_specs():
    assert C.fmt(46123.4, ".3S") == "46 100"
    assert C.fmt(1157.4, ".4S") == "1 157"
    assert C.fmt(0.1504, ".2S") == "0.15"
    assert C.fmt(9.96, ".2S") == "10"
    assert C.fmt(9712.2, ".4R") == "9712"
    assert C.fmt(1.21e8, ".2E") == "1.2e8"
    assert C.fmt(0.456, ".0P") == "46"
    assert C.fmt(None, ".2S") == C.fmt(float("nan"), "") == "–"
    assert C.fmt(0.5, ".0%") == "50%"


def test_check_passes_then_catches_drift(toy):
    doc = toy / "docs" / "a.md"
    doc.write_text(GOOD)
    res = C.check(root=toy)
    assert res.ok, res.differences
    assert (res.quotes, res.blocks) == (2, 1)
    assert res.numbers == 3 + 1             # two + one quoted fields, one number in the table
    quick = C.check(root=toy, quick=True)
    assert quick.ok and quick.quotes == 1 and "slow" not in quick.sources

    # a drifted number in the prose and in the table
    doc.write_text(GOOD.replace("660 tokens/s", "700 tokens/s").replace("| 660.3 |", "| 650.0 |"))
    res = C.check(root=toy, quick=True)
    assert not res.ok
    assert any(d.startswith("docs/a.md:3: toy.tok_s: doc '700', code '660'") for d in res.differences)
    assert any("block toy_table differs" in d and "| h100-sxm | 650.0 |" in d for d in res.differences)
    assert len(res.differences) == 2

    # --write puts the code's values back; the check passes again
    w = C.check(root=toy, quick=True, write=True)
    assert w.written == ["docs/a.md"]
    assert doc.read_text() == GOOD
    assert C.check(root=toy).ok


def test_missing_phrase_and_markers_are_differences(toy):
    doc = toy / "docs" / "a.md"
    doc.write_text(GOOD.replace("decodes", "runs").replace("<!-- /nmc:toy_table -->", ""))
    res = C.check(root=toy)
    assert any("phrase not found" in d and "h100-sxm decodes 660 tokens/s" in d
               for d in res.differences)
    assert any("markers" in d for d in res.differences)


def test_cli_exit_codes(toy, capsys):
    doc = toy / "docs" / "a.md"
    doc.write_text(GOOD)
    assert main(["report", "--check", "--quick", "--root", str(toy)]) == 0
    out = capsys.readouterr().out
    assert "3 numbers in 1 phrases and 1 tables, 0 differences" in out
    doc.write_text(GOOD.replace("228 mJ", "229 mJ"))
    assert main(["report", "--check", "--root", str(toy)]) == 1
    out = capsys.readouterr().out
    assert "toy.mj: doc '229', code '228'" in out and "1 difference " in out


def test_quote_must_end_with_text():
    with pytest.raises(ValueError):
        C.quote("docs/x.md", "ends with {a.b:.2S}")
    with pytest.raises(ValueError):
        C.quote("docs/x.md", "no field at all")


def test_repository_docs_policy_and_bands(tmp_path):
    """The repository's docs agree with the code on two fast sources (CI runs the whole quick
    subset: `nmc report --check --quick` in .ci/run), and a copy with one drifted table cell
    does not."""
    res = C.check(quick=True, only="policy")
    assert res.ok, "\n".join(res.differences)
    assert res.numbers > 100
    res = C.check(quick=True, only="bands")
    assert res.ok and res.quotes == 2 and res.blocks == 1, "\n".join(res.differences)
    for d in ("docs", ):
        shutil.copytree(ROOT / d, tmp_path / d)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    p = tmp_path / "docs" / "policy.md"
    p.write_text(p.read_text().replace("| h20 | 2368 |", "| h20 | 2400 |", 1))
    bad = C.check(root=tmp_path, quick=True, only="policy")
    assert len(bad.differences) == 1 and "block policy_table differs" in bad.differences[0]


def test_from_template_gives_unique_phrases(toy):
    vals = {"toy": C.SOURCES["toy"].fn()}
    tmpl = ("# A\n\nThe {toy.arch} decodes {toy.tok_s:.3S} tokens/s.\n\nIt decodes {toy.tok_s:.3S} "
            "tokens/s at batch 1 and spends {toy.mj:.3S} mJ per token there.\n")
    text, phrases = C.from_template(tmpl, "docs/a.md", vals)
    assert "The h100-sxm decodes 660 tokens/s." in text and "spends 228 mJ per token" in text
    assert len(phrases) == 3
    (toy / "docs" / "a.md").write_text(text)
    C.QUOTES.clear()
    C.BLOCKS.clear()
    C.quotes("docs/a.md", *phrases)
    res = C.check(root=toy, only="toy")
    assert res.ok and res.quotes == 3, res.differences
    (toy / "docs" / "a.md").write_text(text.replace("spends 228", "spends 230"))
    assert C.check(root=toy, only="toy").differences == [
        "docs/a.md:5: toy.mj: doc '230', code '228'"]
