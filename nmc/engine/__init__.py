"""The numba kernels: the one implementation of the cost equations (docs/model.md).

Numba's on-disk cache only notices edits to the file that defines a function, not to the
constants and callees it pulls in from other files. So the cache directory is keyed by a hash
of every file the kernels depend on: any edit to them recompiles, a second process with the
same sources starts warm."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba


def _cache_dir() -> str:
    here = Path(__file__).resolve().parent
    # arch/*.py: schema.py and the family *_params.py modules define the arch vector indices
    files = sorted(here.glob("*.py")) + sorted((here.parent / "arch").glob("*.py"))
    h = hashlib.sha1()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    root = os.environ.get("NMC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "nmc", "numba")
    return os.path.join(root, h.hexdigest()[:16])


numba.config.CACHE_DIR = _cache_dir()

from .layout import *  # noqa: E402,F401,F403
from .kernels import evaluate_point, evaluate_grid  # noqa: E402,F401
