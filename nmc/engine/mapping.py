"""Which engine runs which operator, and its cost there; and which engines a compiled entry
contains.

Engine ids (T_ENGINE): 0 = host (GPU/NPU/CPU roofline, nmc/engine/gpu.py). Families add their
engines here: each returns the per-instance terms for op row i on that engine.

Engines compiled in. numba compiles every branch a function can reach, so one entry point that
can price any architecture compiles the PIM and AIMC engines too (~20 s on two cores, most of it
numba's IR inlining). The pass functions therefore take three arguments `host`, `pim`, `aimc`:
True compiles that engine in (the arch vector chooses at run time, as before), None leaves it
out. numba prunes a branch on `x is None` for an argument typed None before it types the branch
(also through inlined callees), so the code behind it is never compiled. The sweep kernel passes
True, True, True (a grid may span families); the per-point entries of `nmc analyze` /
`compare` (evaluate.point_entry) pass the engines of the arch's family only (family_of). An
entry runs the code the all-engines entry runs for an arch of its family, so the results are
the same bit for bit (tests/test_passes.py)."""
from numba import njit

from .aimc import A_AIMC_TILES, aimc_map_and_cost
from .gpu import gpu_cost
from .layout import S_RUNTIME, S_TP, T_ENGINE
from .pim import A_PIM_BANKS, pim_map_and_cost, pim_plan

ENGINE_HOST = 0
ENGINE_PIM = 1      # near-memory units (nmc/engine/pim.py)


def family_of(a) -> str:
    """The family whose engines price arch vector a: "host" (no PIM units, no AIMC tiles),
    "pim", "aimc", or "any" for a vector with both."""
    pim = a[A_PIM_BANKS] > 0.0
    aimc = a[A_AIMC_TILES] > 0.0
    if pim and aimc:
        return "any"
    return "pim" if pim else "aimc" if aimc else "host"


@njit(cache=True, inline="always")   # a non-inlined call costs ~150 ns per point
def plan_engines(ops, a, s, terms, pim):
    """Per-pass engine decisions that need the whole operator table (called by cost_ops before
    costing). Writes terms[:, T_ENGINE] where a family plans; others decide per row. pim: None
    leaves the PIM engine out (module doc)."""
    if pim is None:
        return
    if a[A_PIM_BANKS] > 0.0:             # PIM system: policy of the scenario (S_MAPPING)
        pim_plan(ops, a, s, terms)


@njit(cache=True, inline="always")   # keep inlined (sweep speed); engines it calls too
def map_and_cost(ops, i, a, s, terms, pim, aimc):
    """Choose the engine for op row i under the mapping policy and fill terms[i]. pim, aimc:
    None leaves that engine out (module doc; the arch must then not be of that family)."""
    if aimc is not None:
        if a[A_AIMC_TILES] > 0.0:        # AIMC chip: static GEMMs on tiles (2), rest digital (3)
            aimc_map_and_cost(ops, i, a, s, terms)
            return
    if pim is not None:
        if a[A_PIM_BANKS] > 0.0:         # PIM system: engine chosen by plan_engines
            pim_map_and_cost(ops, i, a, s, terms)
            return
    gpu_cost(ops, i, a, s[S_TP], s[S_RUNTIME], terms)
    terms[i, T_ENGINE] = ENGINE_HOST


