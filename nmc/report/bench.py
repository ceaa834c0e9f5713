"""`nmc bench`: speed of the sweep engine (a benchmark that prints figures, not a timed test).

Measures, for decode sweeps of a dense 7B model (llama-2-7b), an MoE (qwen2-57b-a14b: the
bundled MoE closest to the 70B class, 57.4B parameters, 14.2B active, 64 experts top-8 plus a
shared expert) and a dense 70B (llama-3-70b):
  - points/s of the numba grid kernel (nmc.engine.evaluate_grid) on 1 thread and on all threads,
  - points/s of the same grid through the per-point Python API (nmc.analyze) on a sample,
  - their ratio,
  - first-call time (JIT compile, or loading the on-disk cache in a fresh process) vs warm time,
  - time of a sweep written to disk (chunks + manifest) and its extrapolation to 100M points."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import numpy as np

from ..arch.loader import Architecture, load_arch
from ..arch.schema import PARAMS
from ..errors import ConfigError

MODELS = (("dense-7b", "llama-2-7b"), ("moe", "qwen2-57b-a14b"), ("dense-70b", "llama-3-70b"))


def bench_arch() -> Architecture:
    """The h100-sxm preset when bundled, else a synthetic H100-like device (speed does not
    depend on the numbers)."""
    try:
        return load_arch("h100-sxm")
    except ConfigError:
        vals = {p.name: (p.default if p.default is not None else 0.0) for p in PARAMS}
        vals.update(peak_fp32=67e12, peak_bf16=989e12, peak_fp8=1979e12, n_cores=132,
                    mem_capacity=80e9, mem_bw=3.35e12, sram_capacity=50e6, sram_bw=10e12,
                    link_bw=450e9, devices_per_node=8)
        return Architecture("bench-gpu (synthetic, H100-like)", "gpu", vals)


def bench_grid(quick: bool) -> dict:
    """Decode sweep: memory bandwidth x matrix peak x batch x context."""
    n_bw, n_pk, n_b, n_c = (32, 8, 8, 16) if quick else (64, 16, 16, 64)
    return {"mem_bw": {"logspace": [0.5e12, 16e12, n_bw]},
            "peak_bf16": {"logspace": [100e12, 4000e12, n_pk]},
            "batch": [int(b) for b in np.unique(np.geomspace(1, 256, n_b).round())],
            "context": {"linspace": [256, 32768, n_c]}}


def _time_kernel(payload, n, threads, repeats=7):
    """Points/s of the kernel alone: best and median of `repeats` runs into one preallocated
    result buffer (as a sweep reuses its buffers; a fresh array per run would add its page
    faults). Best is the figure for the machine; the median shows how noisy it was."""
    import numba

    from ..sweeps import eval_range, result_buffer
    numba.set_num_threads(threads)
    buf = result_buffer(n)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        eval_range(payload, 0, n, n_chunks=4 * threads, out=buf)
        times.append(time.perf_counter() - t)
    return n / min(times), n / float(np.median(times))


def _time_api(model, arch, plan, n_sample):
    """nmc.analyze per point on an evenly spread sample of the grid's points."""
    from ..analysis.inference import analyze
    from ..sweeps import param_columns
    pts = np.linspace(0, plan.n_points - 1, n_sample).astype(np.int64)
    rows = [{k: v[0] for k, v in param_columns(plan.dims, int(p), int(p) + 1).items()}
            for p in pts]
    def one(r):
        analyze(model, arch, phase="decode", batch=int(r["batch"]), context=int(r["context"]),
                    mem_bw=float(r["mem_bw"]), peak_bf16=float(r["peak_bf16"]))
    one(rows[0])                 # JIT compile or cache load of evaluate_point: not per point
    t = time.perf_counter()
    for r in rows:
        one(r)
    return n_sample / (time.perf_counter() - t)


_PROBE = """
import time
t0 = time.perf_counter()
from nmc import sweeps as sw
from nmc.report.bench import bench_arch
plan = sw.make_plan("llama-2-7b", bench_arch(), {"batch": [1, 2]}, {"phase": "decode"})
t1 = time.perf_counter()
sw.eval_range(plan.payload(), 0, 2, n_chunks=1)
t2 = time.perf_counter()
sw.eval_range(plan.payload(), 0, 2, n_chunks=1)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def jit_times() -> dict:
    """Fresh processes on an empty numba cache: the first compiles (cold), the second loads the
    cache that the first wrote (what every later `nmc sweep` pays)."""
    import subprocess
    tmp = tempfile.mkdtemp(prefix="nmc-bench-cache-")
    env = dict(os.environ, NMC_CACHE_DIR=tmp)
    out = {}
    try:
        for label in ("cold", "cached"):
            r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                               text=True, timeout=900, check=False)
            if r.returncode != 0:
                raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr else "failed")
            imp, first, warm = (float(x) for x in r.stdout.split()[-3:])
            out[label] = {"import_s": imp, "first_call_s": first, "warm_call_s": warm}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_bench(quick: bool = False, disk: bool = True, api_sample: int | None = None,
              jit: bool = True) -> dict:
    import numba

    from ..engine import CACHE_DIR
    from ..sweeps import make_plan
    max_threads = numba.config.NUMBA_NUM_THREADS
    cache_dir = CACHE_DIR
    cache_warm = any("evaluate_grid" in f for _, _, fs in os.walk(cache_dir) for f in fs)
    arch = bench_arch()
    grid = bench_grid(quick)
    out = {"machine": {"cpus": os.cpu_count(), "numba_threads": max_threads,
                       "load_average_before": os.getloadavg()[0],
                       "python": sys.version.split()[0], "numba": numba.__version__},
           "arch": arch.name, "grid": "decode: mem_bw x peak_bf16 x batch x context",
           "numba_cache_was_warm": cache_warm, "models": {}}
    plans = {}
    t0 = time.perf_counter()
    for key, model in MODELS:
        plans[key] = make_plan(model, arch, grid, {"phase": "decode"})
    out["plan_s"] = time.perf_counter() - t0

    from ..sweeps import eval_range
    p0 = plans["dense-7b"].payload()
    t = time.perf_counter()
    eval_range(p0, 0, 1, n_chunks=1)            # JIT compile or cache load
    out["first_call_s"] = time.perf_counter() - t
    t = time.perf_counter()
    eval_range(p0, 0, 1, n_chunks=1)
    out["warm_call_s"] = time.perf_counter() - t

    if jit:
        out["jit"] = jit_times()
    api_sample = api_sample or (100 if quick else 400)
    for key, model in MODELS:
        plan = plans[key]
        n = plan.n_points
        r = {"model": model, "points": n}
        for th in sorted({1, max_threads}):
            best, med = _time_kernel(plan.payload(), n, th)
            r[f"kernel_points_per_s_{th}_thread{'s' if th > 1 else ''}"] = best
            r[f"kernel_points_per_s_{th}_thread{'s' if th > 1 else ''}_median"] = med
        r["kernel_points_per_s"] = max(v for k, v in r.items()
                                       if k.startswith("kernel_points") and "median" not in k)
        r["api_points_per_s"] = _time_api(model, arch, plan, api_sample)
        r["kernel_over_api"] = r["kernel_points_per_s"] / r["api_points_per_s"]
        out["models"][key] = r
    numba.set_num_threads(max_threads)
    d7 = out["models"]["dense-7b"]
    out["kernel_points_per_s"] = d7["kernel_points_per_s"]
    out["api_points_per_s"] = d7["api_points_per_s"]
    out["kernel_over_api"] = d7["kernel_over_api"]
    out["estimate_100M_kernel_only_s"] = 1e8 / d7["kernel_points_per_s"]
    out["machine"]["load_average_after"] = os.getloadavg()[0]

    if disk:
        out["disk"] = _time_disk(arch, grid, quick)
    return out


def _time_disk(arch, grid, quick: bool) -> list[dict]:
    """A sweep written to disk end to end (kernel, columns, chunk files, manifest), per output
    precision: wall time, CPU time of the process (all threads), bytes; extrapolated to 100M
    points. The dense-7B grid with 8x the context values (4x with --quick) in default chunks."""
    from ..sweeps import DEFAULT_CHUNK, make_plan, run
    from ..sweeps.store import have_pyarrow
    fmt = "parquet" if have_pyarrow() else "csv"
    if fmt == "parquet":
        import pyarrow.parquet  # noqa: F401  (its import is not the sweep's time)
        ctx = grid["context"]["linspace"]
        g = {**grid, "context": {"linspace": [ctx[0], ctx[1], (2 if quick else 8) * ctx[2]]}}
    else:                           # csv is text: a small grid
        g = {**grid, "context": [2048], "batch": [1, 8]}
    plan = make_plan(MODELS[0][1], arch, g, {"phase": "decode"})
    n = plan.n_points
    cs = min(DEFAULT_CHUNK, max(1, n // 4))
    rows = []
    for precision in ("float64", "float32"):
        tmp = tempfile.mkdtemp(prefix="nmc-bench-")
        try:
            t, c = time.perf_counter(), time.process_time()
            run(plan, tmp, chunk_size=cs, progress=False, fmt=fmt, precision=precision)
            dt, cpu = time.perf_counter() - t, time.process_time() - c
            size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append({"format": fmt, "precision": precision, "points": n, "chunk_size": cs,
                     "columns": len(plan.result_columns), "seconds": dt, "cpu_seconds": cpu,
                     "points_per_s": n / dt, "bytes_per_point": size / n,
                     "estimate_100M_s": 1e8 * dt / n, "estimate_100M_cpu_s": 1e8 * cpu / n,
                     "estimate_100M_bytes": 1e8 * size / n})
    return rows


def format_report(r: dict) -> str:
    th = r["machine"]["numba_threads"]
    lines = [f"nmc bench: {r['grid']} on {r['arch']}",
             (f"  machine: {r['machine']['cpus']} CPUs, numba {r['machine']['numba']} "
              f"({th} threads), python {r['machine']['python']}; 1-min load average "
              f"{r['machine']['load_average_before']:.2f} before, "
              f"{r['machine'].get('load_average_after', float('nan')):.2f} after the kernel runs "
              f"(other processes on the machine slow every figure)"),
             (f"  this process: first call (numba cache "
              f"{'present: load' if r['numba_cache_was_warm'] else 'empty: compile'})"
              f" {r['first_call_s']:.3f} s; warm call {r['warm_call_s'] * 1e3:.3f} ms"),
             *([(f"  fresh process, empty cache: import {r['jit']['cold']['import_s']:.2f} s, "
                 f"first call (compile) {r['jit']['cold']['first_call_s']:.2f} s; next process "
                 f"(cache load): import {r['jit']['cached']['import_s']:.2f} s, first call "
                 f"{r['jit']['cached']['first_call_s']:.3f} s, warm call "
                 f"{r['jit']['cached']['warm_call_s'] * 1e3:.3f} ms")] if "jit" in r else []),
             "", (f"  {'sweep':<10} {'model':<15} {'points':>9} {'kernel 1 thr':>14} "
                  f"{'kernel ' + str(th) + ' thr':>14} {'API (analyze)':>14} {'ratio':>9}")]
    for key, m in r["models"].items():
        many = m.get(f"kernel_points_per_s_{th}_threads", float("nan"))
        lines.append(f"  {key:<10} {m['model']:<15} {m['points']:>9} "
                     f"{m['kernel_points_per_s_1_thread'] / 1e6:>10.2f} M/s {many / 1e6:>10.2f} M/s "
                     f"{m['api_points_per_s']:>10.0f} /s {m['kernel_over_api']:>8.0f}x")
    med = [f"{key} {m['kernel_points_per_s_1_thread_median'] / 1e6:.2f}"
           + (f" / {m[f'kernel_points_per_s_{th}_threads_median'] / 1e6:.2f}" if th > 1 else "")
           for key, m in r["models"].items()]
    lines.append(f"  kernel: best of 7 runs; medians (M/s, 1 / {th} threads): {'; '.join(med)}")
    lines.append(f"  100M-point sweep, kernel only: {r['estimate_100M_kernel_only_s']:.1f} s")
    for d in r.get("disk", []):
        lines.append(f"  sweep to disk ({d['format']}, {d['precision']}, {d['columns']} columns, "
                     f"{d['points']} points in chunks of {d['chunk_size']}): {d['seconds']:.2f} s "
                     f"wall, {d['cpu_seconds']:.2f} s CPU = {d['points_per_s'] / 1e6:.2f} M "
                     f"points/s, {d['bytes_per_point']:.0f} B/point -> 100M points: "
                     f"{d['estimate_100M_s']:.0f} s wall, {d['estimate_100M_cpu_s']:.0f} s CPU, "
                     f"{d['estimate_100M_bytes'] / 1e9:.1f} GB")
    lines.append("  MoE row: qwen2-57b-a14b (57.4B parameters, 14.2B active; the bundled MoE "
                 "closest to 70B).")
    return "\n".join(lines)


# ---- serving (nmc bench --serve) -----------------------------------------------------------
SERVE_CASE = dict(model="llama-2-70b", arch="h100-sxm", tp=4, rate=8.0,
                  prompt="lognormal:mean=600,median=300,max=2048",
                  output="lognormal:mean=250,median=180,max=2048", scheduler="continuous")


def run_serve_bench(quick: bool = False, search: bool = True) -> dict:
    """Simulated requests per second of wall time for SERVE_CASE (1M requests; 100k with
    quick): chat-like lognormal lengths (the chat trace's shape, capped at 2048 + 2048 tokens to
    stay within Llama-2's 4096 positions) under Poisson arrivals at 8 requests/s on one
    Llama-2-70B TP4 H100 replica, continuous batching. Wall time of nmc.serve end to end (request
    generation, the event loop, the report) and of the event loop alone; then a capacity
    search over the default layout grid plus disaggregated pools (>= 200 layouts)."""
    from ..serving import serve
    from ..serving.search import capacity_search, layouts
    n = 100_000 if quick else 1_000_000
    out = {"machine": {"cpus": os.cpu_count(), "load_average_before": os.getloadavg()[0]},
           "serve_case": {**SERVE_CASE, "n_requests": n}}
    t = time.perf_counter()
    serve(n_requests=100, **SERVE_CASE)              # JIT compile or cache load
    out["serve_first_call_s"] = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    r = serve(n_requests=n, **SERVE_CASE)
    t1 = time.perf_counter()
    d = r.to_dict()
    t2 = time.perf_counter()
    out["serve_cpu_s"] = time.process_time() - c        # this process, all threads
    out["serve_wall_s"] = t2 - t
    out["serve_report_s"] = t2 - t1
    out["serve_requests_per_s"] = n / (t2 - t)
    out["serve_iterations"] = d["iterations"]
    out["serve_iterations_per_s"] = d["iterations"] / (t1 - t)
    out["serve_result"] = {k: d[k] for k in ("ttft_p90_s", "tpot_p99_s", "mean_batch",
                                               "throughput_tokens_per_s", "requests_per_s")}
    if search:
        kw = dict(disaggregated=True)
        if quick:
            kw.update(max_batches=(64, 256), max_tokens=(8192,))
        cands = layouts("llama-2-70b", ["h100-sxm"], **kw)
        t, c = time.perf_counter(), time.process_time()
        res = capacity_search("llama-2-70b", ["h100-sxm"], rate=20.0,
                              prompt=SERVE_CASE["prompt"], output=SERVE_CASE["output"],
                              n_requests=1000, candidates=cands)
        out["search_s"] = time.perf_counter() - t
        out["search_cpu_s"] = time.process_time() - c
        out["search_layouts"] = len(cands)
        out["search_layouts_simulated"] = sum(1 for x in res.rows if x["fits"])
        out["search_simulations"] = res.simulations
        out["search_best"] = res.best["label"]
        out["search_best_devices"] = res.best["devices"]
    out["machine"]["load_average_after"] = os.getloadavg()[0]
    return out


def format_serve_report(r: dict) -> str:
    c = r["serve_case"]
    lines = [f"nmc bench --serve: {c['model']} on {c['arch']} tp{c['tp']}, {c['scheduler']}, "
             f"prompt {c['prompt']}, output {c['output']}, Poisson {c['rate']:g} requests/s",
             f"  machine: {r['machine']['cpus']} CPUs; 1-min load average "
             f"{r['machine']['load_average_before']:.2f} before, "
             f"{r['machine']['load_average_after']:.2f} after",
             f"  {c['n_requests']} requests in {r['serve_wall_s']:.2f} s wall = "
             f"{r['serve_requests_per_s']:.0f} simulated requests/s ({r['serve_cpu_s']:.2f} s "
             f"CPU; {r['serve_iterations']} "
             f"iterations, {r['serve_iterations_per_s'] / 1e6:.2f} M iterations/s in the loop; "
             f"report {r['serve_report_s']:.2f} s; first call {r['serve_first_call_s']:.2f} s)"]
    if "search_s" in r:
        lines.append(f"  capacity search: {r['search_layouts']} layouts "
                     f"({r['search_layouts_simulated']} fit), {r['search_simulations']} "
                     f"simulations in {r['search_s']:.1f} s wall ({r['search_cpu_s']:.1f} s CPU "
                     f"on {r['machine']['cpus']} threads); fewest devices "
                     f"{r['search_best_devices']} ({r['search_best']})")
    return "\n".join(lines)
