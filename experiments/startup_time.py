"""How long does a first `nmc` command take, with and without the numba cache?

Runs each command in fresh processes: `cold` on an empty numba cache (NMC_CACHE_DIR pointing to a
new temporary directory: every kernel the command needs is compiled), then `cached` on the
cache the cold run wrote (what every later run pays). Prints wall-clock and CPU seconds (the
child's user + system time: on a shared machine CPU time moves less with the load than wall
time) of each repeat, and the best. Docs: README ("First run") and docs/sweep.md.

    python experiments/startup_time.py                 # analyze + compare, 3 repeats
    python experiments/startup_time.py --quick         # one repeat
    python experiments/startup_time.py --repeats 5 --cmd "nmc analyze --model llama-2-7b --arch hbm3-pim"
"""
from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

COMMANDS = (
    "nmc analyze --model llama-2-7b --arch h100-sxm --phase decode --batch 8 --context 2048",
    "nmc compare --model llama-3-8b --arch a100-80g-sxm,h100-sxm,h20,l20,ascend-910b "
    "--phase decode --batch 1,8,64",
)


def nmc_script() -> str:
    """The `nmc` console script of this interpreter's environment (what a user runs), else
    `python -m nmc`'s equivalent through the same entry point."""
    here = os.path.join(os.path.dirname(sys.executable), "nmc")
    return here if os.path.exists(here) else (shutil.which("nmc") or "nmc")


def run_once(argv: list[str], cache: str) -> tuple[float, float]:
    """(wall s, CPU s) of one fresh process running `nmc ...` with NMC_CACHE_DIR=cache."""
    env = dict(os.environ, NMC_CACHE_DIR=cache)
    cmd = [nmc_script()] + argv[1:] if argv[0] == "nmc" else argv
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(command: str, repeats: int) -> dict:
    argv = shlex.split(command)
    out = {"cold": [], "cached": []}
    for _ in range(repeats):
        cache = tempfile.mkdtemp(prefix="nmc-startup-")
        try:
            out["cold"].append(run_once(argv, cache))
            out["cached"].append(run_once(argv, cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="cold + cached pairs per command")
    ap.add_argument("--quick", action="store_true", help="one repeat")
    ap.add_argument("--cmd", action="append", help="command to time (repeatable; default: "
                    "nmc analyze and nmc compare on GPU presets)")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else max(1, args.repeats)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; {repeats} repeat(s) per command")
    for command in args.cmd or COMMANDS:
        res = measure(command, repeats)
        print(command)
        for label in ("cold", "cached"):
            runs = res[label]
            each = ", ".join(f"{w:.2f}" for w, _ in runs)
            print(f"  {label:6s} best {min(w for w, _ in runs):6.2f} s wall "
                  f"({min(c for _, c in runs):6.2f} s CPU); each: {each} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
