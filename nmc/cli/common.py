"""Helpers shared by the subcommand modules: value lists, --set overrides, the model and
scenario options, and printing rows as a table, CSV or JSON."""
from __future__ import annotations

import argparse
import sys

from ..errors import NmcError
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
        except ValueError:
            raise NmcError(f"--{what}: {part!r} is not an integer") from None
        out.append(v)
    return out


def names(text: str) -> list[str]:
    return [t.strip() for t in str(text).split(",") if t.strip()]


def key_values(items, option: str = "--set", example: str = "mem_bw='4 TB/s'") -> dict:
    """KEY=VALUE strings (a repeated option) -> {key: value text}."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise NmcError(f"{option} expects KEY=VALUE (e.g. {example}), got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def overrides(items) -> dict:
    """--set KEY=VALUE items -> {key: number, or the text where it has a unit}."""
    out = {}
    for k, v in key_values(items).items():
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


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


def scenario_kw(args, batch: int) -> dict:
    return dict(phase=args.phase, batch=batch, prompt=args.prompt, context=args.context,
                generate=args.generate, tp=args.tp, weights=args.weights,
                activations=args.activations, kv=args.kv, mapping=args.mapping, runtime=args.runtime, ep=args.ep,
                dequant=_dequant(args.dequant),
                **overrides(args.set))


def emit(rows, fmt, columns=None):
    if fmt == "json":
        print(to_json(rows))
    elif fmt == "csv":
        sys.stdout.write(to_csv(rows, columns))
    else:
        print(render(rows, columns))
