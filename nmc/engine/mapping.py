"""Which engine runs which operator, and its cost there.

Engine ids (T_ENGINE): 0 = host (GPU/NPU/CPU roofline, nmc/engine/gpu.py). Families add their
engines here: each returns the per-instance terms for op row i on that engine."""
from numba import njit

from .aimc import A_AIMC_TILES, aimc_map_and_cost
from .gpu import gpu_cost
from .layout import S_RUNTIME, S_TP, T_ENGINE
from .pim import A_PIM_BANKS, pim_map_and_cost, pim_plan

ENGINE_HOST = 0
ENGINE_PIM = 1      # near-memory units (nmc/engine/pim.py)


@njit(cache=True, inline="always")   # a non-inlined call costs ~150 ns per point
def plan_engines(ops, a, s, terms):
    """Per-pass engine decisions that need the whole operator table (called by cost_ops before
    costing). Writes terms[:, T_ENGINE] where a family plans; others decide per row."""
    if a[A_PIM_BANKS] > 0.0:             # PIM system: policy of the scenario (S_MAPPING)
        pim_plan(ops, a, s, terms)


@njit(cache=True, inline="always")   # keep inlined (sweep speed); engines it calls too
def map_and_cost(ops, i, a, s, terms):
    """Choose the engine for op row i under the mapping policy and fill terms[i]."""
    if a[A_AIMC_TILES] > 0.0:            # AIMC chip: static GEMMs on tiles (2), rest digital (3)
        aimc_map_and_cost(ops, i, a, s, terms)
        return
    if a[A_PIM_BANKS] > 0.0:             # PIM system: engine chosen by plan_engines
        pim_map_and_cost(ops, i, a, s, terms)
        return
    gpu_cost(ops, i, a, s[S_TP], s[S_RUNTIME], terms)
    terms[i, T_ENGINE] = ENGINE_HOST
