"""Validation against published measurements: measurements.py (the CSV schema and loader), one
predictor module per group (gpu, training, pim, aimc, kernel) registered in registry.py,
runner.py (predict rows, error per group) and calibrate.py (fit efficiency parameters)."""
from .runner import run, summarize  # noqa: F401
