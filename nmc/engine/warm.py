"""A first run on two cores: compile a family's kernels in two processes at once.

numba compiles in one thread, under one lock, so a cold `nmc analyze` uses one core while the
second idles. The kernels of a point entry (evaluate.point_entry: one per family) form a call
tree whose leaves do not depend on each other. `warm(family)` splits them: a helper process
(`python -c HELPER FAMILY`) compiles one half into the on-disk cache while this
process compiles the other half; then this process waits for the helper and compiles the
entry itself, whose typing loads the helper's half from the cache instead of compiling it
(docs/sweep.md, "First run").

Only a cold start pays: the split runs once per family and cache directory (a marker file in
cache.cache_dir() records it), never on a machine with one usable CPU, and not when
NMC_PARALLEL_COMPILE=0. Every failure is harmless: a helper that fails or times out only
means this process compiles those kernels itself, as it would without the split. The
signatures below are those the entries' typing infers (tests/test_warm.py compiles each
entry cold and checks that every planned signature is the one used); a stale one would cost
time, never a wrong result.

Compiling also happens at a fixed, shallow call depth here, whichever command asked for it:
CPython 3.11 allocates its frame stack in 16 KiB chunks and frees a chunk when the frame
that opened it returns, so numba's deep recursion, run from a depth that sits at a chunk
boundary, maps and unmaps a chunk per call (measured: +1.1 s of system time for `nmc compare`
over `nmc analyze`, same kernels)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading

from .cache import cache_dir

_done: set[str] = set()
_lock = threading.Lock()
HELPER_TIMEOUT_S = 300.0
# the helper's command line (`python -c`, not `-m`: nmc.engine imports this module, and runpy
# would run it a second time as __main__)
HELPER = "import sys; from nmc.engine.warm import main; sys.exit(main(sys.argv[1:]))"


def _signatures():
    """{family: (entry, this process's leaves, the helper's leaves)}; each kernel as
    (module, function, argument types), in the order compiled. A leaf's callees compile with
    it; a leaf shared by both halves (collectives.coll_time) is first in this process's list,
    so the helper, which starts later, finds it cached."""
    from numba import types as T
    F, I64 = T.float64, T.int64
    A1 = T.Array(F, 1, "C")
    A2 = T.Array(F, 2, "C")
    entry_args = (A1, A1, A1, A2, A2, A1)
    coll = ("collectives", "coll_time", (F, F, F, F, A1))
    build = ("ops", "build_ops", (A1, F, F, F, F, F, F, F, F, A2, F, F))
    foot = ("ops", "footprint", (A1, F, F, F, F, F, F, F, F))
    shape = ("gpu", "shape_efficiency", (A1, F, F, F, F, F))
    gpu_cost = ("gpu", "gpu_cost", (A2, I64, A1, F, F, A2))
    row_cost = (A2, I64, A1, A1, A2)
    prep = ("passes", "prepare_host", (A2, A1, F, A2, A1))
    terms = ("passes", "host_terms", (A2, A1, A1, T.UniTuple(F, 9), A2))
    summary = ("aimc", "aimc_summary", (A1, A1, A1, A2, A2, T.Array(F, 1, "A")))
    I1 = T.Array(I64, 1, "C")
    return {
        "host": (
            ("evaluate", "evaluate_point_host", entry_args),
            (coll, build, foot),
            (prep, terms),
        ),
        "pim": (
            ("evaluate", "evaluate_point_pim", entry_args),
            (coll, shape, gpu_cost, foot),
            (build, ("pim", "pim_cost", row_cost), ("pim", "pim_map_and_cost", row_cost)),
        ),
        "aimc": (
            ("evaluate", "evaluate_point_aimc", entry_args),
            (coll, shape, gpu_cost, build, foot, summary),
            (("aimc", "placement", (A2, A1)),
             ("aimc", "tile_part", (A2, I64, A1, F, F, F, F, F, F)),
             ("aimc", "aimc_map_and_cost", row_cost)),
        ),
        # the sweep kernel (every family's engines; sweeps.eval_range)
        "grid": (
            ("evaluate", "evaluate_grid",
             (A1, A1, A1, I1, I1, I1, A2, I1, I64, I64, T.Array(F, 2, "F"), I64)),
            (coll, build, foot, prep, terms, gpu_cost),
            (("aimc", "aimc_map_and_cost", row_cost), ("pim", "pim_cost", row_cost),
             ("pim", "pim_map_and_cost", row_cost), summary),
        ),
        # the serving event loop (every family's engines; serving.pool)
        "serve": (
            ("serve_loop", "simulate",
             (A1, A1, A1, A1, A1, I1, I1, I1, A1, A1, A1, T.Array(T.int32, 1, "C"), A1, A2)),
            (coll, ("serve", "build_mixed_ops", (A1, A1, F, F, F, F, F, F, A2, F)), prep),
            (("aimc", "aimc_map_and_cost", row_cost), ("pim", "pim_cost", row_cost),
             ("pim", "pim_map_and_cost", row_cost), gpu_cost),
        ),
        # a training step on a GPU cluster (analysis.training)
        "train": (
            ("train", "train_grid", (A1, A2, A1, A2)),
            (("train", "train_fwd_table", (A1, I64, F, F, F, F, F, F, F, F, F, A2, F, F)),
             ("train", "backward_table", (A2, F, F, A2, T.boolean)),
             ("train", "cast_rows", (A2, F, F, F, A2)),
             ("train", "fp8_weight_rows", (A2, F, F, A2)),
             ("train", "stage_params", (A1, A1, I64)),
             ("train", "zero3_exposed", (F, F, F, F, F, T.boolean, F)),
             ("train", "memory_per_device", (A1, A1, I64, F, F, A1, A2))),
            (("passes", "cost_rows", (A2, A1, A1, A2, A1, T.literal(True), T.none, T.none)),
             ("train", "optimizer_pass", (A1, I64, F, F, A2, A1, A1, A2, A1)),
             ("train", "model_parallel_comm", (A1, A1, I64, A1, A2, F, F)),
             ("train", "data_parallel_comm", (A1, I64, F, F, A1))),
        ),
    }


def _compile(kernels) -> None:
    """Compile each kernel for its planned signature. A signature that no longer types (a
    kernel changed, its plan not) is skipped: the entry's own typing then compiles what it
    needs, so a stale plan costs time, never the command (tests/test_warm.py catches it)."""
    for mod, name, args in kernels:
        try:
            f = getattr(importlib.import_module(f"{__package__}.{mod}"), name)
            f.compile(args)
        except Exception:       # noqa: BLE001  (numba's typing and lowering errors)
            continue


def _enabled() -> bool:
    if os.environ.get("NMC_PARALLEL_COMPILE", "1").strip() in ("0", "false", "no", "off"):
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus >= 2


def _marker(family: str) -> str:
    return os.path.join(cache_dir(), f"warm-{family}")


WHAT = {"host": "the GPU engine", "pim": "the PIM engines", "aimc": "the AIMC engines",
        "grid": "the sweep kernel", "serve": "the serving simulator", "train": "the training step"}


def _say(family: str) -> None:
    """One line on a terminal (never in a pipe, a log or a notebook) while a cold compile runs,
    so that a first run's wait has a reason."""
    try:
        if sys.stderr.isatty():
            print(f"nmc: compiling {WHAT.get(family, family)} for this machine (first use only; "
                  "cached afterwards)", file=sys.stderr, flush=True)
    except (AttributeError, ValueError, OSError):
        pass


def warm(family: str) -> None:
    """Compile `family`'s entry (a point entry, the sweep kernel, the serving loop or the
    training step, with their kernels) in two processes when this cache directory has not seen
    it yet; otherwise return at once (one os.path.exists per family and process)."""
    if family in _done:
        return
    with _lock:
        if family in _done:
            return
        _done.add(family)
        plans = _signatures()
        if family not in plans or os.path.exists(_marker(family)):
            return
        entry, mine, theirs = plans[family]
        _say(family)
        helper = None
        if _enabled():
            try:
                helper = subprocess.Popen(
                    [sys.executable, "-c", HELPER, family], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                helper = None
        try:
            _compile(mine)
            if helper is not None:
                helper.wait(timeout=HELPER_TIMEOUT_S)
        except BaseException:       # Ctrl-C, SIGTERM, a helper past its time: stop it now
            if helper is not None and helper.poll() is None:
                helper.kill()
                helper.wait()
            if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise
        _compile([entry])           # loads the helper's half from the cache (or compiles it)
        try:
            os.makedirs(cache_dir(), exist_ok=True)
            with open(_marker(family), "w") as fh:
                fh.write("compiled\n")
        except OSError:
            pass


def main(argv=None) -> int:
    """The helper: compile the second half of a family's kernels into the cache."""
    argv = sys.argv[1:] if argv is None else argv
    plans = _signatures()
    if len(argv) != 1 or argv[0] not in plans:
        print(f"usage: python -c '{HELPER}' {{{','.join(plans)}}}", file=sys.stderr)
        return 2
    _compile(plans[argv[0]][2])
    return 0

