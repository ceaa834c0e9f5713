"""Parameter sweeps: grid specs, planning, chunked evaluation with the numba grid kernel,
resumable output, Dask, and bisection search (docs/sweep.md).

    t = nmc.sweep(model="llama-2-7b", arch="h100-sxm",
                  grid={"mem_bw": {"logspace": ["1 TB/s", "16 TB/s", 9]}, "batch": [1, 8, 64]},
                  phase="decode", context=4096)
    t["tokens_per_s"], t.to_pandas()
    nmc.sweeps.load("results/bw")          # a sweep directory written with out=...

A grid maps parameter names to values. Names are architecture parameters (nmc.arch.schema, any
family block) or scenario fields (nmc.engine.layout.SCEN_FIELDS: phase, batch, prompt, context,
generate, tp, weights, activations, kv, mapping ...). Values are a list, {linspace = [a, b, n]},
{logspace = [a, b, n]} (n points evenly spaced in log between the endpoints a and b, which are
values, not exponents) or, for a key "p,q" naming several parameters, a list of tuples that are
zipped (moved together). Unit strings ("3.35 TB/s") are accepted wherever the parameter has a
unit. `model` and `arch` may be one name or a list; a list becomes a dimension of the grid.

Modules: spec (names, values, grids, spec files) -> plan (kernel axes) -> evaluate (the grid
kernel over chunks) -> run (in-process or Dask, resumable) -> store (chunk files, manifest,
lock, load) and table (the result Table); search (bisection on one parameter); bands
(low/central/high of every result over a preset's uncertainty bands: band_sweep, docs/bands.md).

The package is `sweeps` because `nmc.sweep` is the function (docs/architecture.md)."""
from .bands import Band, band_sweep, evaluate_band  # noqa: F401
from .evaluate import chunk_columns, eval_range, param_columns, result_buffer  # noqa: F401
from .plan import Dim, Plan, make_plan, plan_from_spec  # noqa: F401
from .guard import Estimate, Limits, SweepTooLarge, estimate  # noqa: F401
from .run import DEFAULT_CHUNK, run, set_threads, sweep  # noqa: F401
from .search import LOWER_IS_BETTER, SearchResult, search  # noqa: F401
from .spec import SHARE_COLS, check_columns, load_spec, parse_grid  # noqa: F401
from .store import MANIFEST, load  # noqa: F401
from .table import Table  # noqa: F401
