"""What nmc prints and writes for people: text tables and CSV/JSON (tables.py), the headline
report (headline.py) over the studies (studies/, the experiments' library half), and the speed
benchmark (bench.py)."""
