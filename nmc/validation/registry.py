"""The predictor registry: one predictor per measurement group, registered with
@predictor("group"); Skip(reason) marks a row the model cannot express (listed, never dropped)."""
from __future__ import annotations

PREDICTORS: dict = {}


class Skip(Exception):
    """The model cannot express this row; the message says why."""


def predictor(*groups):
    def deco(fn):
        for g in groups:
            PREDICTORS[g] = fn
        return fn
    return deco
