"""Workload side: LLM configs and the scenarios run on them."""
from .model import ModelSpec, load_model, list_models  # noqa: F401
from .scenario import Scenario, DTYPES, dtype_code  # noqa: F401
