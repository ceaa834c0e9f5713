"""nmc: where LLM training and inference time goes on GPUs, near-memory compute and analog
in-memory compute. See README.md and docs/."""
from .errors import NmcError, ConfigError, ScenarioError  # noqa: F401
from .workload.model import load_model, list_models, ModelSpec  # noqa: F401
from .workload.scenario import Scenario  # noqa: F401
from .arch.loader import load_arch, list_archs, Architecture  # noqa: F401
from .api import analyze, Report  # noqa: F401
from . import sweep  # noqa: F401,E402  (callable: nmc.sweep(model=..., arch=..., grid={...}))
from .sweep import search, Table  # noqa: F401
from .training import train, TrainReport  # noqa: F401

__version__ = "0.1.0"
