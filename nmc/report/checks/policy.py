"""Numbers of docs/policy.md: the parts x rules table (`nmc.arch.export.policy_table()`)."""
from __future__ import annotations

from ...arch import export
from . import block, source


@source("policy", quick=True)
def _policy() -> dict:
    return {"table": export.policy_table()}


block("docs/policy.md", "policy_table", "policy", lambda v: v["table"],
      start="<!-- policy_table -->", end="<!-- /policy_table -->")
