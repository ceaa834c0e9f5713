"""Helpers shared by the subcommand modules: value lists, --set overrides, the model and
scenario options, and printing rows as a table, CSV or JSON."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import NmcError
from ..paths import output_file, write_error
from ..report.tables import render, to_csv, to_json
from ..workload.families import SUPPORTED
from ..workload.model import load_model


def ints(text: str, what: str) -> list[int]:
    out = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            v = int(float(part))
            if v != float(part):
                raise ValueError
        except (ValueError, OverflowError):
            raise NmcError(f"--{what}: {part!r} is not an integer") from None
        out.append(v)
    return out


def floats(text: str, what: str) -> list[float]:
    """A comma list of numbers (--pim 0,1,2,4)."""
    out = []
    for part in str(text).split(","):
        try:
            v = float(part)
        except ValueError:
            raise NmcError(f"--{what}: {part.strip()!r} is not a number") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise NmcError(f"--{what}: {part.strip()!r} is not a finite number")
        out.append(v)
    return out


def names(text: str, what: str | None = None) -> list[str]:
    """A comma list of names; empty is an error naming the option `what` when given."""
    out = [t.strip() for t in str(text).split(",") if t.strip()]
    if not out and what:
        raise NmcError(f"--{what}: no name given")
    return out


def key_values(items, option: str = "--set", example: str = "mem_bw='4 TB/s'") -> dict:
    """KEY=VALUE strings (a repeated option) -> {key: value text}."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise NmcError(f"{option} expects KEY=VALUE (e.g. {example}), got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def overrides(items, args=None) -> dict:
    """--set KEY=VALUE items -> {key: number, or the text where it has a unit}. KEY must be an
    architecture parameter (`nmc list params`); a scenario field or another option of the
    command (tp, batch, phase, weights, ...) names its own option instead."""
    from ..arch.schema import BY_NAME
    from ..workload.scenario import Scenario
    out = {}
    own = set(vars(args)) if args is not None else set()
    for k, v in key_values(items).items():
        if k not in BY_NAME:
            opt = k.replace("_", "-")
            if k in Scenario.__dataclass_fields__ or k in own:
                raise NmcError(f"--set {k}={v}: {k} is not an architecture parameter but an "
                               f"option of this command: use --{opt} {v}")
            raise NmcError(f"--set {k}={v}: unknown architecture parameter {k!r}"
                           f"{_did_you_mean(k, BY_NAME)} (list: `nmc list params`)")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def _did_you_mean(name: str, known) -> str:
    import difflib
    close = difflib.get_close_matches(name, list(known), n=3)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _dequant(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def add_model_args(p: argparse.ArgumentParser, required: bool = True, multi: bool = False,
                   help: str | None = None) -> None:
    """--model and --assume, for every subcommand that reads a model."""
    p.add_argument("--model", required=required, help=help or (
        "bundled model name(s) or config.json path(s), comma separated" if multi
        else "bundled model name or config.json path"))
    p.add_argument("--assume", metavar="FAMILY",
                   help="read a config.json whose model_type nmc does not know with this "
                        "family's rules (the result carries a warning); one of "
                        + ", ".join(SUPPORTED))


def model_spec(args, name: str, announce: bool = True):
    """Load one --model entry with --assume; `announce` prints its load warnings to stderr
    (commands that print a report's warnings themselves pass False)."""
    spec = load_model(name, assume=getattr(args, "assume", None))
    if announce:
        for w in spec.warnings:
            print(f"nmc: warning: {w}", file=sys.stderr)
    return spec


def add_scenario_args(p: argparse.ArgumentParser, multi: bool = False) -> None:
    add_model_args(p, multi=multi)
    p.add_argument("--arch", required=True, help="preset name(s) or TOML path(s), comma separated" if multi else "preset name or TOML path")
    p.add_argument("--phase", default="decode", choices=["prefill", "decode", "generate"])
    p.add_argument("--batch", default="1", help="batch size" + (" (comma list)" if multi else ""))
    p.add_argument("--prompt", type=int, default=512, help="prompt tokens (prefill, generate)")
    p.add_argument("--context", type=int, default=2048, help="tokens in the KV cache (decode)")
    p.add_argument("--generate", type=int, default=128, help="new tokens (generate)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel devices")
    p.add_argument("--weights", default="bf16", help="weight dtype: fp32 bf16 fp16 fp8 int8 int4")
    p.add_argument("--activations", default="bf16", help="activation/compute dtype")
    p.add_argument("--kv", default="bf16", help="KV-cache dtype")
    p.add_argument("--mapping", default="auto",
                   choices=["host-only", "pim-gemv", "pim-attention", "pim-all-decode", "auto"],
                   help="which engine runs which operator on a PIM system (docs/nmc.md); "
                        "auto = the faster engine per operator group (host-only without PIM)")
    p.add_argument("--ep", type=int, default=1,
                   help="expert-parallel degree (MoE): data-parallel attention over ep groups of "
                        "tp devices, experts split, two all-to-alls per MoE layer")
    p.add_argument("--runtime", default="graphs", choices=["eager", "graphs", "fused"],
                   help="how kernels run (docs/model.md, Runtime modes): eager PyTorch launches, "
                        "CUDA graphs as vLLM/SGLang decode (default), fused as TensorRT-LLM")
    p.add_argument("--dequant", default="fused",
                   help="weight-only int8/int4 kernels: fused (Marlin/TensorRT-LLM class, at the "
                        "memory roofline; default), torch (PyTorch/gpt-fast), or ALU ops per weight")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override an architecture parameter, e.g. --set mem_bw='4 TB/s'")
    p.add_argument("--format", default="text", choices=["text", "json", "csv"])
    add_wide(p)


def scenario_kw(args, batch: int) -> dict:
    return dict(phase=args.phase, batch=batch, prompt=args.prompt, context=args.context,
                generate=args.generate, tp=args.tp, weights=args.weights,
                activations=args.activations, kv=args.kv, mapping=args.mapping, runtime=args.runtime, ep=args.ep,
                dequant=_dequant(args.dequant),
                **overrides(args.set, args))


def write_text(path, text: str, default_name: str | None = None) -> Path:
    """Write a text output file (CSV, JSON): its folder created; errors are one line."""
    p = output_file(path, default_name)
    try:
        p.write_text(text, encoding="utf-8")
    except OSError as e:
        raise write_error(p, e) from None
    return p


def check_outputs(args, **defaults) -> None:
    """Check, before any work, that each output option given (attribute -> default file name
    for a directory) names a writable place; creates the folders."""
    for attr, default in defaults.items():
        v = getattr(args, attr, None)
        if v:
            setattr(args, attr, str(output_file(v, default)))


def emit(rows, fmt, columns=None, wide: bool = False):
    """Rows as JSON, CSV (raw numbers) or a text table (engineering units, fitted to 120
    characters unless wide)."""
    if fmt == "json":
        print(to_json(rows))
    elif fmt == "csv":
        sys.stdout.write(to_csv(rows, columns))
    else:
        print(render(rows, columns, wide=wide))


def add_wide(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wide", action="store_true", help="text tables: every column, in full "
                   "(default: fitted to 120 characters)")
