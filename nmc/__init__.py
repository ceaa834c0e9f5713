"""nmc: where LLM training and inference time goes on GPUs, near-memory compute and analog
in-memory compute. See README.md, docs/ and docs/architecture.md (the map of the package).

The public API, re-exported here:
    nmc.analyze(model, arch, ...)      inference at one point -> Report
    nmc.train(model, arch, ...)        one training step on a cluster -> TrainReport
    nmc.sweep(model, arch, grid, ...)  a grid through the sweep kernel -> Table
    nmc.band_sweep(model, arch, grid, ...)  the same with low/central/high columns over the
                                       preset's uncertainty bands (docs/bands.md)
    nmc.search(model, arch, param, target, ...)   bisection on one parameter
    nmc.best_operating_point(model, arch, tpot_max=0.05, ...)  the batch (and runtime) with the
                                       most tokens/J under a latency limit, and batch 1 beside it
    nmc.serve(model, arch, rate=..., ...)  a request stream on a fleet -> ServeReport
    nmc.load_model / list_models / load_arch / list_archs, nmc.sweeps.load(dir)"""
__version__ = "0.1.0"

from .errors import ConfigError, NmcError, ScenarioError  # noqa: F401,E402
from .workload.model import ModelSpec, list_models, load_model  # noqa: F401,E402
from .workload.scenario import Scenario  # noqa: F401,E402
from .arch.loader import Architecture, list_archs, load_arch  # noqa: F401,E402
from .analysis.inference import Report, analyze  # noqa: F401,E402
from .analysis.training import TrainReport, train  # noqa: F401,E402
from .analysis.operating_point import OperatingPoints, best_operating_point  # noqa: F401,E402
from . import sweeps  # noqa: F401,E402
from .sweeps import Table, band_sweep, search, sweep  # noqa: F401,E402
from .serving import ServeReport, serve  # noqa: F401,E402
