"""The command line `nmc`: argparse only. ONE registry (COMMANDS below) lists the subcommand
modules in help order; each module has register(subparsers) and its cmd_* functions, and calls
the library (analysis, sweeps, validation, report). Nothing imports this package.

A user mistake (NmcError) prints one line and exits with status 2, never a traceback."""
from __future__ import annotations

import argparse
import gc
import signal
import sys

from .. import __version__
from ..errors import NmcError
from . import aimc, explore, inference, pim, policy, report, serve, sweep, train, validate

COMMANDS = (inference, serve, train, sweep, validate, aimc, pim, policy, report, explore)


class Parser(argparse.ArgumentParser):
    """argparse with usage mistakes as one line (`nmc analyze: error: ... (nmc analyze
    --help)`), exit status 2, like every other user mistake."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="nmc", description="Where LLM time goes on GPUs, near-memory "
               "compute and analog in-memory compute.")
    p.add_argument("--version", action="version", version=f"nmc {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    for module in COMMANDS:
        module.register(sub)
    return p


def fewer_collections() -> None:
    """A command is a short process, and its first run compiles numba kernels: numba builds
    millions of objects, over which Python's cyclic GC would run thousands of collections
    (~1.5 s of a ~9 s cold start on two cores). Freeze what the imports made (never collected
    again) and collect the youngest generation every 50000 allocations instead of 700."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    fewer_collections()
    try:       # SIGTERM (kill, a scheduler's timeout) unwinds like Ctrl-C: finally blocks run
        signal.signal(signal.SIGTERM, _interrupt)      # (a sweep's lock is removed)
    except ValueError:                                  # not the main thread
        pass
    try:
        return args.func(args) or 0
    except NmcError as e:
        print(f"nmc: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nmc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
