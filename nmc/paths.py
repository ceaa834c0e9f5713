"""Where the bundled data lives: models/ in a source checkout, nmc/data/ in an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir() -> Path:
    """Root holding llm/, arch/, measurements/ and traces/."""
    repo = _PKG.parent / "models"
    if (repo / "llm").is_dir():
        return repo
    return _PKG / "data"


def llm_dir() -> Path:
    return data_dir() / "llm"


def arch_dir() -> Path:
    return data_dir() / "arch"


def measurements_dir() -> Path:
    return data_dir() / "measurements"


def traces_dir() -> Path:
    return data_dir() / "traces"
