"""numba only: the operator tables, the one cost kernel per family (gpu, pim, aimc), the
collectives, the pass loop and its accumulator (passes.py) used by inference, training and the
kernel API, and the point/grid evaluation. docs/model.md writes the equations out.

Every kernel module is imported here, inside cache.kernels_cache_dir(), so that numba caches
them under nmc's own directory without changing numba's global setting for anyone else."""
from __future__ import annotations

from .cache import cache_dir, kernels_cache_dir

with kernels_cache_dir():
    from . import (  # noqa: F401  (decorating the kernels: their cache path is fixed here)
        aimc, aimc_train, collectives, gpu, mapping, ops, passes, pim, train, evaluate, serve, serve_loop,
    )
    from .evaluate import evaluate_grid, evaluate_point, point_entry  # noqa: F401

CACHE_DIR = cache_dir()     # where this process's kernels cache (sweep fingerprints use it)
