"""Object layer -> flat kernel vectors: a ModelSpec and a Scenario as the model (M_*) and
scenario (S_*) vectors of layout.py."""
from __future__ import annotations

import numpy as np

from .layout import (
    MODEL_FIELDS, N_MODEL, N_SCEN, PHASE_NAMES, S_ADT, S_BATCH, S_CONTEXT, S_GEN, S_KVDT,
    S_DEQUANT, S_EP, S_MAPPING, S_PHASE, S_PROMPT, S_RUNTIME, S_TP, S_WDT,
)
from ..workload.model import ModelSpec
from ..workload.scenario import MAPPINGS, RUNTIMES, Scenario, dtype_code

PHASE_CODE = {name: code for code, name in enumerate(PHASE_NAMES)}


def model_vector(spec: ModelSpec) -> np.ndarray:
    v = np.empty(N_MODEL)
    for i, f in enumerate(MODEL_FIELDS):
        v[i] = float(spec.params() if f == "params_total" else getattr(spec, f))
    return v


def scenario_vector(sc: Scenario) -> np.ndarray:
    v = np.empty(N_SCEN)
    v[S_PHASE] = PHASE_CODE[sc.phase]
    v[S_BATCH] = sc.batch
    v[S_PROMPT] = sc.prompt
    v[S_CONTEXT] = sc.context
    v[S_GEN] = sc.generate
    v[S_TP] = sc.tp
    v[S_WDT] = dtype_code(sc.weights)
    v[S_ADT] = dtype_code(sc.activations)
    v[S_KVDT] = dtype_code(sc.kv)
    v[S_MAPPING] = MAPPINGS.index(sc.mapping)
    v[S_RUNTIME] = RUNTIMES.index(sc.runtime)
    v[S_DEQUANT] = sc.dequant_ops
    v[S_EP] = sc.ep
    return v
