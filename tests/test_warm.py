"""The two-process cold compile (nmc/engine/warm.py): its planned signatures are the ones the
point entries' typing uses, it runs once per cache directory, and a missing helper changes
nothing but the time."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

# every family's entry, compiled cold in a fresh cache directory; then, for each planned
# kernel, the signatures its dispatcher holds
SCRIPT = textwrap.dedent("""
    import json, os, sys
    import nmc
    from nmc.engine import warm as W
    from nmc.engine.cache import cache_dir
    import importlib
    out = {"tokens": {}, "kernels": {}, "markers": []}
    archs = {"host": "h100-sxm", "pim": "hbm3-pim", "aimc": "ibm-hermes"}
    for family in sys.argv[1:]:
        arch = archs[family]
        r = nmc.analyze("llama-3.2-1b", arch, phase="decode", batch=2, context=256)
        out["tokens"][family] = r.tokens_per_s
        entry, mine, theirs = W._signatures()[family]
        for mod, name, args in (entry,) + tuple(mine) + tuple(theirs):
            f = getattr(importlib.import_module("nmc.engine." + mod), name)
            out["kernels"][f"{family}:{mod}.{name}"] = [
                [str(f.signatures[k]), list(f.signatures[k]) == list(args)]
                for k in range(len(f.signatures))]
        out["markers"].append(os.path.exists(os.path.join(cache_dir(), "warm-" + family)))
    print(json.dumps(out))
""")


def _run(tmp_path, parallel: str, families=("host", "pim", "aimc")):
    env = dict(os.environ, NMC_CACHE_DIR=str(tmp_path / f"cache-{parallel}"),
               NMC_PARALLEL_COMPILE=parallel)
    r = subprocess.run([sys.executable, "-c", SCRIPT, *families], env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("warm"), "1")


def test_planned_signatures_are_the_ones_the_entries_use(cold):
    # one compiled variant per kernel, equal to the plan: a planned signature the typing did not
    # infer would show up as a second variant (this process's half) or as a different one (the
    # helper's half, loaded from the cache only when the types agree)
    for kernel, sigs in cold["kernels"].items():
        assert len(sigs) == 1, (kernel, sigs)
        assert sigs[0][1], (kernel, sigs[0][0])


def test_marker_written_per_family(cold):
    assert cold["markers"] == [True, True, True]


def test_results_do_not_depend_on_the_split(cold, tmp_path):
    serial = _run(tmp_path, "0", ("host",))     # everything compiled in this one process
    assert serial["tokens"]["host"] == cold["tokens"]["host"]
    assert serial["markers"] == [True]
    assert all(len(sigs) == 1 and sigs[0][1] for sigs in serial["kernels"].values())


def test_helper_usage_errors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nmc.engine.warm", "nope"], capture_output=True,
                       text=True, env=dict(os.environ, NMC_CACHE_DIR=str(tmp_path)))
    assert r.returncode == 2
    assert "usage" in r.stderr and "host" in r.stderr
