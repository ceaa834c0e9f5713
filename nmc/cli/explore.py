"""`nmc explore [--port N] [--no-browser]`: the local web page (docs/explore.md). The page lives
in nmc/web and needs the optional extra `pip install 'nmc[web]'`; it is imported only here,
when the command runs, so the core install stays light."""
from __future__ import annotations

import importlib

from ..errors import NmcError

EXTRA = "nmc explore needs the web extra: pip install 'nmc[web]'"


def cmd_explore(args) -> int:
    if not 0 < args.port < 65536:
        raise NmcError(f"--port {args.port} is not a TCP port (1..65535)")
    for mod in ("panel", "bokeh", "pandas"):      # panel first: the one a core install lacks
        try:
            importlib.import_module(mod)
        except ImportError:
            raise NmcError(f"{EXTRA} ({mod} is missing)") from None
    from ..web import app
    return app.serve(port=args.port, open_browser=not args.no_browser)


def register(sub) -> None:
    q = sub.add_parser("explore", help="a local web page: pick a model and up to four "
                                       "architectures, move the scenario and any preset "
                                       "parameter, watch the roofline and the walls (needs "
                                       "pip install 'nmc[web]')")
    q.add_argument("--port", type=int, default=5006, help="serve on 127.0.0.1:PORT (default 5006)")
    q.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    q.set_defaults(func=cmd_explore)
