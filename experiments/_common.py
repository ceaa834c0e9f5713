"""Command-line plumbing of the experiment scripts: --quick, --out DIR (default
results/<name>/), --docs (copy the figure to docs/figures/); the rest of the shared plumbing
(write_csv, save, say, ...) is nmc.report.studies.common, re-exported here."""
from __future__ import annotations

import argparse
from pathlib import Path

from nmc.report.studies.common import *  # noqa: F401,F403
from nmc.report.studies.common import say

ROOT = Path(__file__).resolve().parent.parent


def parse_args(name: str, doc: str, argv=None) -> argparse.Namespace:
    """--quick (reduced grid, seconds) and --out DIR (default results/<name>/)."""
    ap = argparse.ArgumentParser(prog=f"{name}.py", description=(doc or "").strip().splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced grid that runs in a few seconds")
    ap.add_argument("--out", default=None, help=f"output folder (default results/{name}/)")
    ap.add_argument("--docs", action="store_true",
                    help="also copy the figure(s), palette-compressed, to docs/figures/")
    args = ap.parse_args(argv)
    args.out = Path(args.out) if args.out else ROOT / "results" / name
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def to_docs(png, name: str, max_kb: int = 300) -> Path:
    """Copy a PNG to docs/figures/<name>.png as a 256-colour palette image (commit-sized)."""
    from PIL import Image
    dst = ROOT / "docs" / "figures" / f"{name}.png"
    dst.parent.mkdir(parents=True, exist_ok=True)
    img = Image.open(png).convert("RGB")
    for colors in (256, 128, 64):
        img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
        if dst.stat().st_size <= max_kb * 1024:
            break
    return dst


def main(name: str, doc: str, run, argv=None) -> int:
    """The command line of a one-figure experiment: parse --quick/--out/--docs, call
    run(quick, out) -> headline dict with "figures", copy the first figure to docs/ on --docs."""
    args = parse_args(name, doc, argv)
    h = run(args.quick, args.out)
    if args.docs:
        say("docs: " + str(to_docs(h["figures"][0], name)))
    return 0
