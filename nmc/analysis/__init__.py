"""The Python API per question, each a thin layer over the engine: inference (analyze), training
(train, search), kernel (one GEMM or attention kernel), pim (derived figures, crossover), aimc
(chip figures, training step) and policy (best design under an export-control cap)."""
from .inference import Report, analyze  # noqa: F401
from .training import TrainReport, train  # noqa: F401
