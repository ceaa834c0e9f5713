"""`nmc sweep | plot | search | bench`: grids through the sweep kernel, their figures, the
bisection search and the speed benchmark."""
from __future__ import annotations

import json
import math
import sys
import time

from ..errors import NmcError
from ..paths import output_file
from .common import add_scenario_args, ints, key_values, model_spec, scenario_kw


def _client(address: str | None):
    if not address:
        return None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise NmcError("--scheduler needs Dask: pip install 'nmc[dask]'") from None
    if address == "local":
        # one worker process per core, each kernel on one numba thread
        return Client(LocalCluster(processes=True, threads_per_worker=1,
                                   env={"NUMBA_NUM_THREADS": "1"}))
    return Client(address)


def _limits(args):
    from ..sweeps.guard import Limits
    return Limits.of(args.max_points, args.max_memory, args.max_disk, args.max_hours)


def cmd_sweep(args) -> int:
    from .. import sweeps as sw
    from ..sweeps.guard import check, check_grid_size, estimate
    from ..sweeps.run import _done_points
    if args.threads is not None:
        sw.set_threads(args.threads)
    if args.chunk_size is not None and args.chunk_size < 1:
        raise NmcError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    limits = _limits(args)
    spec = sw.load_spec(args.spec)
    if args.columns:
        spec["columns"] = sw.check_columns(args.columns, "--columns")
    check_grid_size(spec["model"], spec["arch"], spec["grid"], limits, cli=True)
    plan = sw.plan_from_spec(spec, limits)
    n = plan.n_points
    cs = args.chunk_size or spec["chunk_size"] or sw.DEFAULT_CHUNK
    fmt = args.format or spec["format"] or ("parquet" if sw.store.have_pyarrow() else "csv")
    prec = args.precision or spec.get("precision") or "float64"
    from pathlib import Path
    out = Path(args.output)
    before = 0 if args.overwrite else _done_points(out, plan, cs, prec)
    import numba
    est = estimate(plan, out, chunk_size=cs, fmt=fmt, precision=prec,
                   threads=numba.get_num_threads(), done_points=before)
    def announce(e=est):
        print(f"{spec['name']}: {n} points ({' x '.join(str(d.size) for d in plan.dims)}; "
              f"{', '.join(plan.param_names)}) -> {args.output}", file=sys.stderr)
        print(f"estimate: {e.describe()}", file=sys.stderr)

    if args.estimate:
        check(est, limits, cli=True)
        from ..sweeps.guard import describe_limits
        announce()
        print(f"within the limits ({describe_limits(limits, out)})", file=sys.stderr)
        return 0
    client = _client(args.scheduler)
    t = time.perf_counter()
    try:
        man = sw.run(plan, args.output, chunk_size=cs, fmt=fmt, client=client,
                     precision=prec, progress=not args.quiet, overwrite=args.overwrite,
                     limits=limits, cli=True, announce=announce)
    finally:
        if client is not None:
            client.close()
    dt = time.perf_counter() - t
    done = sum(c["hi"] - c["lo"] for c in man["chunks"].values())
    new = done - before
    print(f"{done} of {n} points in {len(man['chunks'])} {man['format']} chunk(s) in "
          f"{args.output}; this run: {new} points in {dt:.2f} s "
          f"({new / max(dt, 1e-9) / 1e6:.3g} M points/s)" + (f", {before} resumed" if before else "")
          + ("" if man["complete"] else "; incomplete: run again to resume"))
    return 0


def cmd_plot(args) -> int:
    from .. import sweeps as sw
    from ..plot import sweep as ps
    t = sw.load(args.results)
    kind = args.kind
    if kind == "auto":
        kind = "heatmap" if args.y and args.y in t.params else (
            "pareto" if args.y else "line")
    out = args.output or f"{args.results.rstrip('/')}/{kind}.png"
    out = str(output_file(out, f"{kind}.png"))
    w = key_values(args.where, "--where", "context=2048")
    if kind == "heatmap":
        if not (args.x and args.y and args.metric):
            raise NmcError("heatmap needs --x PARAM --y PARAM --metric METRIC")
        paths = ps.heatmap(t, args.x, args.y, args.metric, out, where=w)
    elif kind == "line":
        if not (args.x and args.metric):
            raise NmcError("line needs --x PARAM --metric METRIC (and optionally --by)")
        paths = ps.line(t, args.x, args.metric, out, by=args.by, where=w)
    else:
        x = args.x or "tokens_per_s"
        y = args.y or args.metric or "energy_per_token_j"
        paths = ps.pareto(t, x, y, out, where=w)
    print("wrote " + ", ".join(map(str, paths)))
    return 0


def cmd_search(args) -> int:
    from ..sweeps import search
    from ..workload.scenario import Scenario
    batch = ints(args.batch, "batch")
    if len(batch) != 1:
        raise NmcError("search takes one --batch")
    if not math.isfinite(args.target):
        raise NmcError(f"--target must be a finite number, got {args.target}")
    kw = scenario_kw(args, batch[0])           # scenario fields + --set overrides
    fields = set(Scenario.__dataclass_fields__)
    scen = {k: v for k, v in kw.items() if k in fields}
    arch_set = {k: v for k, v in kw.items() if k not in fields}
    r = search(model_spec(args, args.model), args.arch, args.param, args.target, metric=args.metric,
               lo=args.lo, hi=args.hi, arch_set=arch_set or None, **scen)
    if args.format == "json":
        print(json.dumps(r.to_dict(), indent=1))
    else:
        print(f"{args.model} on {args.arch}: {r.message} ({r.evaluations} evaluations)")
    return 0 if r.value is not None else 1


def cmd_bench(args) -> int:
    from ..report.bench import format_report, format_serve_report, run_bench, run_serve_bench
    if args.serve:
        r = run_serve_bench(quick=args.quick, search=not args.no_search)
        print(json.dumps(r, indent=1) if args.json else format_serve_report(r))
        return 0
    r = run_bench(quick=args.quick, disk=not args.no_disk, jit=not (args.no_jit or args.quick))
    print(json.dumps(r, indent=1) if args.json else format_report(r))
    return 0


def register(sub) -> None:
    q = sub.add_parser("sweep", help="evaluate a sweep spec (TOML) into chunked, resumable output")
    q.add_argument("spec", help="sweep spec TOML (see experiments/sweeps/)")
    q.add_argument("-o", "--output", required=True, help="output directory (resumes if it holds "
                   "an unfinished run of the same sweep)")
    q.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786) or 'local'")
    q.add_argument("--chunk-size", type=int, help="points per chunk file (default 524288)")
    q.add_argument("--format", choices=["parquet", "csv"], help="default: parquet if pyarrow "
                   "is installed, else csv")
    q.add_argument("--precision", choices=["float64", "float32"], help="result columns on disk "
                   "(default float64, exact; float32 halves size and write time)")
    q.add_argument("--threads", type=int, help="numba threads (default: all cores)")
    q.add_argument("--max-points", type=float, metavar="N", help="refuse sweeps of more points "
                   "(default 1e10)")
    q.add_argument("--max-memory", metavar="BYTES", help="refuse sweeps that need more memory, "
                   "e.g. '64 GB' (default: half of the memory available)")
    q.add_argument("--max-disk", metavar="BYTES", help="refuse sweeps that write more, e.g. "
                   "'2 TB' (default: the free space of the output's file system)")
    q.add_argument("--max-hours", type=float, metavar="H", help="refuse sweeps estimated to "
                   "take longer (default 24)")
    q.add_argument("--estimate", action="store_true", help="print the estimate (points, "
                   "memory, disk, time) and whether it is within the limits; run nothing")
    q.add_argument("--columns", help="result columns to write, comma separated (default: all; "
                   "swept parameters are always written), e.g. tokens_per_s,bound,fits")
    q.add_argument("--overwrite", action="store_true", help="discard results of another sweep")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_sweep)

    q = sub.add_parser("plot", help="heatmap / line / Pareto chart from a sweep directory")
    q.add_argument("results", help="sweep output directory")
    q.add_argument("--kind", default="auto", choices=["auto", "heatmap", "line", "pareto"])
    q.add_argument("--x", help="parameter (heatmap, line) or metric (pareto) on the x axis")
    q.add_argument("--y", help="parameter (heatmap) or metric (pareto) on the y axis")
    q.add_argument("--metric", help="metric shown (e.g. tokens_per_s, energy_per_token_j)")
    q.add_argument("--by", help="line chart: one line per value of this parameter")
    q.add_argument("--where", action="append", metavar="PARAM=VALUE",
                   help="fix another swept parameter (default: its first value)")
    q.add_argument("-o", "--output", help="PNG path (default: RESULTS/<kind>.png; SVG beside)")
    q.set_defaults(func=cmd_plot)

    q = sub.add_parser("search", help="smallest parameter value meeting a target (bisection)")
    add_scenario_args(q)
    q.add_argument("--param", required=True, help="architecture parameter, e.g. mem_bw")
    q.add_argument("--target", type=float, required=True, help="target value of --metric")
    q.add_argument("--metric", default="tokens_per_s", help="result metric (default tokens_per_s)")
    q.add_argument("--lo", help="lower end of the search range (units allowed)")
    q.add_argument("--hi", help="upper end of the search range (units allowed)")
    q.set_defaults(func=cmd_search)

    q = sub.add_parser("bench", help="speed of the sweep kernel vs the per-point API")
    q.add_argument("--json", action="store_true", help="one JSON object")
    q.add_argument("--quick", action="store_true", help="smaller grids")
    q.add_argument("--no-disk", action="store_true", help="skip the sweep-to-disk measurement")
    q.add_argument("--no-jit", action="store_true", help="skip the cold-compile measurement "
                   "(two fresh processes on an empty numba cache)")
    q.add_argument("--serve", action="store_true", help="the serving simulator instead: "
                   "simulated requests/s for 1M requests on a Llama-2-70B TP4 H100 replica, "
                   "and a capacity search over >= 200 layouts")
    q.add_argument("--no-search", action="store_true", help="--serve without the search")
    q.set_defaults(func=cmd_bench)
