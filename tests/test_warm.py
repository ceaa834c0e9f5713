"""The two-process cold compile (nmc/engine/warm.py): its planned signatures are the ones the
entries' typing uses, it runs once per cache directory, and a missing helper changes nothing
but the time. Each family compiles cold in a fresh cache directory and process of its own (a
kernel loaded from the cache as part of a caller compiled earlier would not show its
signature); the point entries run by default, the sweep kernel, the serving loop and the
training step (20 s, 17 s, 10 s cold) are marked slow (CI runs them)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

# one family's entry, compiled cold; then, for each planned kernel, the signatures its
# dispatcher holds
SCRIPT = textwrap.dedent("""
    import importlib, json, os, sys
    import nmc
    from nmc.engine import warm as W
    from nmc.engine.cache import cache_dir
    family = sys.argv[1]
    archs = {"host": "h100-sxm", "pim": "hbm3-pim", "aimc": "ibm-hermes"}
    if family == "grid":                # the sweep kernel
        value = nmc.best_operating_point("llama-3.2-1b", "h100-sxm").best.tokens_per_s
    elif family == "serve":             # the serving event loop
        value = float(nmc.serve("llama-3.2-1b", "h100-sxm", rate=2.0, trace="chat",
                                n_requests=50).duration_s)
    elif family == "train":             # a training step
        value = nmc.train("llama-3.2-1b", "h100-sxm", devices=8, tp=2, global_batch=64,
                          seq=2048).step_time_s
    else:
        value = nmc.analyze("llama-3.2-1b", archs[family], phase="decode", batch=2,
                            context=256).tokens_per_s
    entry, mine, theirs = W._signatures()[family]
    kernels = {}
    for mod, name, args in (entry,) + tuple(mine) + tuple(theirs):
        f = getattr(importlib.import_module("nmc.engine." + mod), name)
        kernels[f"{mod}.{name}"] = [[str(s), list(s) == list(args)] for s in f.signatures]
    print(json.dumps({"value": value, "kernels": kernels,
                      "marker": os.path.exists(os.path.join(cache_dir(), "warm-" + family))}))
""")


def cold_run(tmp_path, family: str, parallel: str = "1") -> dict:
    env = dict(os.environ, NMC_CACHE_DIR=str(tmp_path / f"cache-{family}-{parallel}"),
               NMC_PARALLEL_COMPILE=parallel)
    r = subprocess.run([sys.executable, "-c", SCRIPT, family], env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("family", [
    "host", "pim", "aimc",
    pytest.param("grid", marks=pytest.mark.slow), pytest.param("serve", marks=pytest.mark.slow),
    pytest.param("train", marks=pytest.mark.slow),
])
def test_planned_signatures_are_the_ones_the_entry_uses(tmp_path, family):
    # one compiled variant per kernel, equal to the plan: a planned signature the typing did not
    # infer would show up as a second variant (this process's half) or as a different one (the
    # helper's half, loaded from the cache only when the types agree)
    out = cold_run(tmp_path, family)
    for kernel, sigs in out["kernels"].items():
        assert len(sigs) == 1, (family, kernel, sigs)
        assert sigs[0][1], (family, kernel, sigs[0][0])
    assert out["marker"]


def test_results_and_signatures_do_not_depend_on_the_split(tmp_path):
    two = cold_run(tmp_path, "host", "1")
    one = cold_run(tmp_path, "host", "0")      # everything compiled in this one process
    assert one["value"] == two["value"]
    assert one["marker"]
    assert all(len(sigs) == 1 and sigs[0][1] for sigs in one["kernels"].values())


def test_helper_usage_errors(tmp_path):
    from nmc.engine.warm import HELPER
    r = subprocess.run([sys.executable, "-c", HELPER, "nope"], capture_output=True, text=True,
                       env=dict(os.environ, NMC_CACHE_DIR=str(tmp_path)))
    assert r.returncode == 2
    assert "usage" in r.stderr and "host" in r.stderr


def test_a_stale_plan_costs_time_not_the_command():
    # a planned signature that does not type (the kernel changed, its plan not) is skipped
    from numba import types

    from nmc.engine import warm as W
    W._compile([("ops", "footprint", (types.unicode_type,)), ("nope", "missing", ())])


def test_a_terminal_is_told_why_the_first_run_waits(monkeypatch, capsys):
    import io

    from nmc.engine import warm as W

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    W._say("serve")
    assert tty.getvalue() == ("nmc: compiling the serving simulator for this machine (first use "
                              "only; cached afterwards)\n")
    monkeypatch.setattr(sys, "stderr", io.StringIO())      # a pipe or a log: nothing
    W._say("serve")
    assert sys.stderr.getvalue() == ""
