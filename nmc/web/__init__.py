"""`nmc explore`: a local web page to explore a model on up to four architectures, live
(docs/explore.md). Needs the optional extra: pip install 'nmc[web]'.

state.py holds what the page computes and exports (no web framework); app.py draws it with
Panel and serves it on 127.0.0.1. Only `nmc explore` imports this package."""
