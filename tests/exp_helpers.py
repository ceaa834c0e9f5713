"""Shared helpers of the experiment smoke tests: run a script with --quick, read its CSV,
check a PNG (+ SVG) is a real figure."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXP = ROOT / "experiments"


def run_script(name: str, out: Path) -> str:
    p = subprocess.run([sys.executable, str(EXP / f"{name}.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def read_rows(path: Path) -> list[dict]:
    assert path.exists(), path
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, path
    return rows


def check_png(path: Path, svg: bool = False) -> None:
    assert path.exists(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000          # a real figure, not an empty canvas
    if svg:
        assert path.with_suffix(".svg").exists()


def num(x) -> float:
    return float(x) if x not in ("", None) else float("nan")
