"""Figures (matplotlib): rooflines and compare bars (roofline.py), sweep heatmaps, lines and
Pareto fronts (sweep.py), the validation scatter (validation.py)."""
from .roofline import compare_chart, roofline_chart  # noqa: F401
