"""The house rules of docs/architecture.md, read from the source with ast: which package may
import which, nothing imports cli/, engine/ imports nothing above it, nmc/ never imports
experiments/, and at most six modules at the top level of nmc/."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "nmc"

# lowest first: a package may import itself and the ones before it in this list
LAYERS = ["ground", "workload", "arch", "engine", "sweeps", "analysis", "serving", "validation",
          "plot", "report", "web", "cli"]
GROUND = {"errors", "units", "paths"}
FACADES = {"__init__", "__main__"}      # nmc/__init__.py re-exports the API; __main__ runs cli


def _layer(parts: tuple[str, ...]) -> str:
    """Layer of a module path inside nmc (parts after 'nmc')."""
    if not parts:
        return "facade"
    head = parts[0]
    if head in GROUND:
        return "ground"
    if head in FACADES:
        return "facade"
    return head


def _modules():
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG).with_suffix("")
        parts = rel.parts
        yield p, parts, parts[:-1]      # the package a relative import starts from


def _imports(path: Path, pkg: tuple[str, ...]):
    """(line, imported module as a tuple of parts inside nmc or None, top-level name)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")
                if top[0] == "nmc":
                    yield node.lineno, tuple(top[1:]), top[0]
                else:
                    yield node.lineno, None, top[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                mod = (node.module or "").split(".")
                if mod[0] == "nmc":
                    base = tuple(mod[1:])
                    if not base:            # from nmc import x: x is a module or an API name
                        for a in node.names:
                            yield node.lineno, (a.name,), "nmc"
                    else:
                        yield node.lineno, base, "nmc"
                else:
                    yield node.lineno, None, mod[0]
            else:
                base = pkg[:len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                if node.level - 1 > len(pkg):
                    raise AssertionError(f"{path}: relative import above nmc")
                mod = tuple(node.module.split(".")) if node.module else ()
                full = base + mod
                if not mod:                 # from . import a, b
                    for a in node.names:
                        yield node.lineno, full + (a.name,), "nmc"
                else:
                    yield node.lineno, full, "nmc"


def _violations():
    out = []
    for path, parts, pkg in _modules():
        me = _layer(parts)
        for line, target, top in _imports(path, pkg):
            where = f"nmc/{'/'.join(parts)}.py:{line}"
            if top == "experiments" or (target is None and top == "_common"):
                out.append(f"{where} imports experiments/")
                continue
            if target is None:
                continue
            other = _layer(target)
            if target and not ((PKG / target[0]).is_dir() or (PKG / f"{target[0]}.py").exists()):
                other = "facade"            # a name re-exported by nmc/__init__.py
            if other == "cli" and me != "cli" and parts[-1] != "__main__":
                out.append(f"{where} imports cli ({'.'.join(target)})")
                continue
            if me == "facade":
                continue
            if other == "facade" and me != "cli":
                out.append(f"{where} imports the nmc facade ({'.'.join(target) or 'nmc'}); "
                           f"import the module that defines the name")
                continue
            if other == "facade":
                continue
            if me not in LAYERS or other not in LAYERS:
                out.append(f"{where}: package {me!r} or {other!r} is not in the layer list "
                           f"of docs/architecture.md")
                continue
            if LAYERS.index(other) > LAYERS.index(me):
                out.append(f"{where}: {me} imports {other} ({'.'.join(target)}), which is above it")
    return out


def test_imports_follow_the_layers():
    v = _violations()
    assert not v, "\n".join(v)


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    """The rule above can fail: an engine module importing analysis is reported."""
    fake = tmp_path / "nmc"
    (fake / "engine").mkdir(parents=True)
    (fake / "analysis").mkdir()
    (fake / "engine" / "bad.py").write_text("from ..analysis import inference\n")
    (fake / "analysis" / "ok.py").write_text("from ..engine import bad\nimport experiments\n")
    (fake / "sweeps").mkdir()
    (fake / "cli").mkdir()
    (fake / "sweeps" / "x.py").write_text("from ..cli import main\n")
    monkeypatch.setitem(globals(), "PKG", fake)
    v = _violations()
    assert any("engine imports analysis" in x for x in v)
    assert any("imports experiments/" in x for x in v)
    assert any("imports cli" in x for x in v)
    assert not any("ok.py:1" in x for x in v)


def test_at_most_six_top_level_modules():
    files = sorted(p.name for p in PKG.glob("*.py"))
    assert len(files) <= 6, files


def test_every_package_is_in_the_map():
    doc = (PKG.parent / "docs" / "architecture.md").read_text()
    for d in sorted(p for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        assert d.name in LAYERS, f"nmc/{d.name}/ is not in the layer list"
        assert f"{d.name}/" in doc, f"docs/architecture.md does not mention nmc/{d.name}/"


@pytest.mark.parametrize("name", ["analyze", "train", "sweep", "search", "load_model",
                                  "load_arch", "list_models", "list_archs", "Table", "Report",
                                  "TrainReport", "NmcError", "ConfigError", "ScenarioError"])
def test_public_api_stays_importable(name):
    import nmc
    assert getattr(nmc, name) is not None
    assert callable(nmc.sweep) and hasattr(nmc.sweeps, "load")
