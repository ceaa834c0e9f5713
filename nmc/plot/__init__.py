"""Figures (matplotlib, Agg backend): roofline charts and comparison bars."""
from .roofline import roofline_chart, compare_chart  # noqa: F401
