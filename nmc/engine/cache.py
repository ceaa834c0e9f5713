"""Where numba caches nmc's compiled kernels, without touching anyone else's numba setting.

Numba's on-disk cache only notices edits to the file that defines a function, not to the
constants and callees it pulls in from other files. So nmc keys its cache directory by a hash of
every file the kernels depend on (engine/*.py and arch/*.py, which define the vector offsets):
any edit recompiles, and a second process with the same sources starts warm.

Numba resolves a function's cache directory once, when the function is decorated
(numba.core.caching: the locator reads numba.config.CACHE_DIR in its constructor). So
`kernels_cache_dir()` sets CACHE_DIR only while nmc's engine modules are imported and puts the
previous value back afterwards: nmc's kernels cache under nmc's directory, and numba functions
that a user defines before or after `import nmc` keep whatever CACHE_DIR (or none) they had.
Overrides: NMC_CACHE_DIR (the root; the source hash is appended), else XDG_CACHE_HOME/nmc/numba
or ~/.cache/nmc/numba."""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


def cache_dir() -> str:
    """The cache directory of this version of the kernel sources."""
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py")) + sorted((here.parent / "arch").glob("*.py"))
    h = hashlib.sha1()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    root = os.environ.get("NMC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "nmc", "numba")
    return os.path.join(root, h.hexdigest()[:16])


@contextlib.contextmanager
def kernels_cache_dir():
    """Within the block, functions decorated with @njit(cache=True) cache in cache_dir();
    numba.config.CACHE_DIR is restored on exit."""
    from numba.core import config
    before = config.CACHE_DIR
    config.CACHE_DIR = cache_dir()
    try:
        yield config.CACHE_DIR
    finally:
        config.CACHE_DIR = before
