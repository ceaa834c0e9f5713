"""The request-level serving simulator and the capacity search, on top of engine/ (whose
serve.py prices one iteration as one pass and serve_loop.py runs the event loop):
pool.py (a pool of replicas as flat vectors), api.py (nmc.serve -> ServeReport),
search.py (fewest devices meeting an SLO, highest rate per device, cost-latency Pareto)."""
from .api import ServeReport, serve  # noqa: F401
from .pool import Pool  # noqa: F401
