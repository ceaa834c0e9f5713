"""`nmc serve`: a request stream on a fleet (nmc.serve), or with --search the capacity search
(fewest devices meeting an SLO at a target rate, highest rate per device, cost-latency Pareto
chart across architectures; docs/serving.md)."""
from __future__ import annotations

import json
import math
import sys
import time

from ..errors import NmcError
from ..report.tables import render, to_csv, wrap
from .common import add_wide, check_outputs, ints, names, overrides, write_text

HEAD = [("ttft_p50_s", "TTFT p50"), ("ttft_p90_s", "TTFT p90"), ("ttft_p99_s", "TTFT p99"),
        ("tpot_p50_s", "TPOT p50"), ("tpot_p90_s", "TPOT p90"), ("tpot_p99_s", "TPOT p99"),
        ("e2e_p50_s", "e2e p50"), ("e2e_p90_s", "e2e p90"), ("e2e_p99_s", "e2e p99")]
SEARCH_COLS = ["label", "devices_per_unit", "rate_per_unit", "rate_per_device", "units",
               "devices", "ttft_p90_ms", "tpot_p99_ms", "mean_batch", "energy_per_token_j",
               "cost_per_million_tokens"]


def _rate(text):
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise NmcError(f"--rate: {text!r} is not a number of requests/s (or inf)") from None


def _dequant(text):
    try:
        return float(text)
    except ValueError:
        return text


def _serve_kw(args) -> dict:
    kw = dict(prompt=args.prompt, output=args.output, trace=args.trace,
              think_time=args.think_time, max_tokens=args.max_tokens,
              block_size=args.block_size, preemption=args.preemption,
              admission=args.admission,
              load_balancer=args.load_balancer, weights=args.weights,
              activations=args.activations, kv=args.kv, mapping=args.mapping,
              runtime=args.runtime, dequant=_dequant(args.dequant),
              slo_ttft=args.slo_ttft, slo_tpot=args.slo_tpot, swap_bw=args.swap_bw,
              seed=args.seed, **overrides(args.set, args))
    if args.price_per_hour is not None:
        kw["price_per_hour"] = args.price_per_hour
    return kw


def _fmt_s(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def format_report(d: dict) -> str:
    lay = d["layout"]
    parts = []
    for role, p in lay.items():
        name = "" if role == "serve" else f"{role}: "
        parts.append(f"{name}{p['replicas']} x {p['arch']} (tp {p['tp']}, "
                     + (f"ep {p['ep']}, " if p.get("ep", 1) > 1 else "") + f"pp {p['pp']}), "
                     f"{p['scheduler']}, max batch {p['max_batch']}, max tokens "
                     f"{p['max_tokens']}, KV "
                     f"{p['kv_tokens_per_engine']} tokens per engine")
    w = d["workload"]
    lines = [f"{d['model']}: {d['n_requests']} requests ("
             + ", ".join(f"{k} {v}" for k, v in w.items() if k not in ("rate", "concurrency"))
             + ")",
             f"  fleet: {d['devices']} devices; " + "; ".join(parts)]
    lines.append("  latency: " + ", ".join(f"{lab} {_fmt_s(d[k])}" for k, lab in HEAD[:3]))
    lines.append("           " + ", ".join(f"{lab} {_fmt_s(d[k])}" for k, lab in HEAD[3:6]))
    lines.append("           " + ", ".join(f"{lab} {_fmt_s(d[k])}" for k, lab in HEAD[6:]))
    lines.append(f"  throughput {d['throughput_tokens_per_s']:.4g} output tokens/s "
                 f"({d['requests_per_s']:.4g} requests/s, input {d['input_tokens_per_s']:.4g} "
                 f"tokens/s) over {d['duration_s']:.4g} s")
    lines.append(f"  goodput {d['goodput_requests_per_s']:.4g} requests/s: "
                 f"{100 * d['slo_attainment']:.1f} % of requests meet TTFT <= "
                 f"{d['slo_ttft_s']:g} s and TPOT <= {d['slo_tpot_s']:g} s")
    lines.append(f"  mean batch {d['mean_batch']:.3g} (sequences per iteration), "
                 f"{d['mean_running']:.3g} running on average; KV use {100 * d['kv_use_mean']:.1f} "
                 f"% mean, {100 * d['kv_use_peak']:.1f} % peak; preemptions {d['preemptions']} "
                 f"({d['preempted_requests']} requests)")
    if "prefill_mean_batch" in d:
        lines.append(f"  prefill pool mean batch {d['prefill_mean_batch']:.3g}; KV transfer "
                     f"{_fmt_s(d['kv_transfer_mean_s'])} mean over {d['kv_link']['source']} "
                     f"x {d['kv_link']['lanes']}")
    cost = (f"{d['cost_per_million_tokens']:.3g} USD per million output tokens"
            if d["cost_per_million_tokens"] is not None else
            f"cost: no price per device-hour known for {', '.join(d['price_unknown_for'])} "
            f"(--price-per-hour USD)")
    lines.append(f"  energy {d['energy_per_token_j']:.3g} J per output token; {cost}")
    lines.append(f"  {d['iterations']} iterations, busy {100 * d['busy_fraction']:.0f} %")
    for wmsg in d["warnings"]:
        lines.append(f"  warning: {wmsg}")
    return "\n".join(wrap(ln) for ln in lines)


def cmd_serve(args) -> int:
    check_outputs(args, series="series.csv", plot="series.png", requests="requests.csv",
                  output_csv="layouts.csv", pareto="pareto.png")
    if args.search:
        return _cmd_search(args)
    from ..serving import serve
    if len(names(args.arch)) != 1:
        raise NmcError("nmc serve takes one --arch (several: with --search)")
    kw = _serve_kw(args)
    for opt in ("tp", "pp", "ep", "max_batch"):
        v = ints(getattr(args, opt) or "1", opt.replace("_", "-"))
        if len(v) != 1:
            raise NmcError(f"--{opt.replace('_', '-')} takes one value (lists: with --search)")
        kw[opt] = v[0]
    sched = names(args.scheduler)
    if len(sched) != 1:
        raise NmcError("--scheduler takes one value (lists: with --search)")
    t = time.perf_counter()
    r = serve(args.model, args.arch, rate=_rate(args.rate), n_requests=args.n_requests,
              concurrency=args.concurrency, scheduler=sched[0], replicas=args.replicas,
              decode_arch=args.decode_arch, decode_tp=args.decode_tp, decode_pp=args.decode_pp,
              decode_ep=args.decode_ep,
              decode_replicas=args.decode_replicas, kv_link_bw=args.kv_link_bw,
              decode_price_per_hour=args.decode_price_per_hour, **kw)
    wall = time.perf_counter() - t
    d = r.to_dict()
    if args.series:
        r.write_series(args.series)
    if args.plot:
        from ..plot.serving import series_chart
        series_chart(r, args.plot)
    if args.requests:
        write_text(args.requests, to_csv(r.request_rows()))
    if args.format == "json":
        print(json.dumps(d, indent=1))
    else:
        print(format_report(d))
        print(f"  (simulated in {wall:.2f} s wall"
              + "".join(f"; wrote {p}" for p in (args.series, args.plot, args.requests) if p)
              + ")")
    return 0


def _cmd_search(args) -> int:
    from ..serving.search import capacity_search
    if args.rate is None:
        raise NmcError("--search needs --rate (the target, requests/s)")
    archs = names(args.arch)
    client = None
    if args.dask:
        from .sweep import _client
        client = _client(args.dask)
    kw = _serve_kw(args)
    extra = {k: kw.pop(k) for k in list(kw) if k not in (
        "prompt", "output", "trace", "seed", "slo_ttft", "slo_tpot", "think_time",
        "max_tokens")}
    kw.pop("think_time")
    mt = kw.pop("max_tokens")
    layout_kw = dict(tps=ints(args.tp, "tp"), pps=ints(args.pp, "pp"),
                     eps=ints(args.ep, "ep") if args.ep else None,
                     schedulers=names(args.scheduler),
                     max_batches=ints(args.max_batch, "max-batch"),
                     max_tokens=(mt,) if mt else (2048, 8192),
                     disaggregated=args.disaggregated,
                     decode_archs=names(args.decode_arch) if args.decode_arch else None)
    if args.search_defaults:
        for k in ("tps", "pps", "eps", "schedulers", "max_batches", "max_tokens"):
            layout_kw.pop(k)
    def progress(i, n):
        if not args.quiet and sys.stderr.isatty() and (i == n or i % max(n // 20, 1) == 0):
            print(f"\r  {i}/{n} layouts", end="" if i < n else "\n", file=sys.stderr)
    try:
        res = capacity_search(args.model, archs, rate=_rate(args.rate), n_requests=args.n_requests
                              or 1000, steps=args.steps, client=client, progress=progress,
                              extra=extra, **kw, **layout_kw)
    finally:
        if client is not None:
            client.close()
    out = res.to_dict()
    if args.output_csv:
        rows = [{k: v for k, v in r.items()} for r in res.rows]
        write_text(args.output_csv, to_csv(rows))
    if args.pareto:
        from ..plot.serving import pareto_chart
        pareto_chart(res.rows, args.pareto)
    if args.format == "json":
        print(json.dumps(out, indent=1))
        return 0
    b, pd = res.best, res.best_per_device
    print(f"{args.model} at {res.target_rate:g} requests/s, SLO p90 TTFT <= {res.slo[0]:g} s, "
          f"p99 TPOT <= {res.slo[1]:g} s: {len(res.rows)} layouts "
          f"({out['feasible_layouts']} meet the SLO), {res.simulations} simulations in "
          f"{res.seconds:.1f} s")
    print(f"  fewest devices: {b['devices']} = {b['units']} x [{b['label']}] "
          f"({b['rate_per_unit']:.3g} requests/s per unit under the SLO)")
    print(f"  highest rate per device: {pd['rate_per_device']:.3g} requests/s per device with "
          f"[{pd['label']}]")
    if res.verify:
        v = res.verify
        print(f"  check, the whole fleet ({v['replicas']} replicas, least-loaded balancer, "
              f"{v['n_requests']} other requests): p90 TTFT {_fmt_s(v['ttft_p90_s'])}, p99 TPOT "
              f"{_fmt_s(v['tpot_p99_s'])} -> {'meets' if v['meets_slo'] else 'MISSES'} the SLO"
              + ("" if v["meets_slo"] else " (sampling noise of the search's "
                 "requests; add a unit or raise --n-requests)"))
    ok = sorted((r for r in res.rows if r["feasible"]),       # the order `best` is chosen in
                key=lambda r: (r["devices"], r["cost_per_million_tokens"] or 0.0,
                               r["ttft_p90_s"]))[:args.top]
    rows = [{"label": r["label"], "devices_per_unit": r["devices_per_unit"],
             "rate_per_unit": r["rate_per_unit"], "rate_per_device": r["rate_per_device"],
             "units": r["units"], "devices": r["devices"],
             "ttft_p90_ms": r["ttft_p90_s"] * 1e3,
             "tpot_p99_ms": (r["tpot_p99_s"] or 0) * 1e3, "mean_batch": r["mean_batch"],
             "energy_per_token_j": r["energy_per_token_j"],
             "cost_per_million_tokens": r["cost_per_million_tokens"]}
            for r in ok]
    print(render(rows, SEARCH_COLS, wide=args.wide))
    for p in (args.output_csv, args.pareto):
        if p:
            print(f"wrote {p}")
    return 0


def register(sub) -> None:
    q = sub.add_parser("serve", help="serve a request stream on a fleet (TTFT, TPOT, goodput, "
                       "cost per token); --search: fewest devices meeting an SLO")
    q.add_argument("--model", required=True, help="bundled model name or config.json path")
    q.add_argument("--arch", required=True, help="preset name or TOML path (--search: a comma "
                   "list)")
    w = q.add_argument_group("workload")
    w.add_argument("--rate", help="requests/s, Poisson arrivals (inf: all at once); --search: "
                   "the target rate")
    w.add_argument("--concurrency", type=int, help="closed loop: users each sending the next "
                   "request when the previous completes")
    w.add_argument("--trace", help="bundled trace (chat, summarization, reasoning) or a CSV "
                   "with arrival_s, prompt_tokens, output_tokens")
    w.add_argument("--n-requests", type=int, help="requests (default 1000, or the trace's)")
    w.add_argument("--prompt", default="512", help="prompt tokens: N, uniform:LO:HI, "
                   "lognormal:mean=M,median=D[,max=X] or trace:NAME (default 512)")
    w.add_argument("--output", default="128", help="output tokens, as --prompt (default 128)")
    w.add_argument("--think-time", type=float, default=0.0, help="closed loop: seconds "
                   "between a response and the user's next request")
    w.add_argument("--seed", type=int, default=0)
    f = q.add_argument_group("fleet")
    f.add_argument("--tp", default="1", help="tensor-parallel devices per stage (--search: list)")
    f.add_argument("--pp", default="1", help="pipeline stages (--search: list)")
    f.add_argument("--ep", help="expert-parallel groups of tp devices, MoE models (default 1; "
                   "--search: list, default 1,2,4,8 for a MoE model)")
    f.add_argument("--replicas", type=int, default=1, help="data-parallel replicas")
    f.add_argument("--scheduler", default="continuous", help="static | continuous | chunked | "
                   "disaggregated (--search: list)")
    f.add_argument("--max-batch", default="256", help="sequences per iteration (--search: "
                   "list)")
    f.add_argument("--max-tokens", type=int, help="tokens per iteration (default 8192; chunked "
                   "2048; static 16384)")
    f.add_argument("--block-size", type=int, default=16, help="tokens per KV-cache block")
    f.add_argument("--preemption", default="recompute", choices=["recompute", "swap"])
    f.add_argument("--admission", default="greedy", choices=["greedy", "reserve"],
                   help="KV blocks at admission: the prompt's (greedy, vLLM) or the whole "
                        "request's (reserve, TensorRT-LLM's no-evict policy)")
    f.add_argument("--swap-bw", default="25 GB/s", help="host link for swap preemption")
    f.add_argument("--load-balancer", default="least-loaded",
                   choices=["least-loaded", "round-robin", "random"])
    f.add_argument("--runtime", default="graphs", help="eager | graphs | fused (docs/model.md; "
                   "default graphs)")
    f.add_argument("--dequant", default="fused", help="weight-only int8/int4 kernels: fused | "
                   "torch | ALU ops per weight")
    f.add_argument("--weights", default="bf16")
    f.add_argument("--activations", default="bf16")
    f.add_argument("--kv", default="bf16")
    f.add_argument("--mapping", default="auto",
                   choices=["host-only", "pim-gemv", "pim-attention", "pim-all-decode", "auto"])
    f.add_argument("--decode-arch", help="disaggregated: the decode pool's preset (--search: "
                   "list)")
    f.add_argument("--decode-tp", type=int)
    f.add_argument("--decode-pp", type=int)
    f.add_argument("--decode-ep", type=int)
    f.add_argument("--decode-replicas", type=int)
    f.add_argument("--kv-link-bw", help="disaggregated: per-device link for the KV transfer "
                   "(default: the prefill arch's net_bw)")
    f.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override an architecture parameter")
    o = q.add_argument_group("service level and cost")
    o.add_argument("--slo-ttft", type=float, default=1.0, help="TTFT bound in s (goodput; "
                   "--search: on p90)")
    o.add_argument("--slo-tpot", type=float, default=0.05, help="TPOT bound in s (goodput; "
                   "--search: on p99)")
    o.add_argument("--price-per-hour", help="USD per device-hour (default: the preset's)")
    o.add_argument("--decode-price-per-hour", help="USD per device-hour of the decode pool")
    r = q.add_argument_group("output")
    r.add_argument("--format", default="text", choices=["text", "json"])
    add_wide(r)
    r.add_argument("--series", metavar="CSV", help="write the time series (batch, queue, KV)")
    r.add_argument("--plot", metavar="PNG", help="plot the time series")
    r.add_argument("--requests", metavar="CSV", help="write one row per request")
    s = q.add_argument_group("capacity search")
    s.add_argument("--search", action="store_true", help="fewest devices meeting the SLO at "
                   "--rate over the layouts of --tp x --pp x --scheduler x --max-batch")
    s.add_argument("--search-defaults", action="store_true", help="search the default layout "
                   "grid: tp 1,2,4,8 x pp 1,2,4 x continuous,chunked x max batch 32..256 x "
                   "max tokens 2048,8192")
    s.add_argument("--disaggregated", action="store_true", help="also search prefill-decode "
                   "pools (decode on --decode-arch, default the same arch)")
    s.add_argument("--steps", type=int, default=8, help="bisection steps per layout")
    s.add_argument("--top", type=int, default=15, help="rows of the result table")
    s.add_argument("--pareto", metavar="PNG", help="cost-latency Pareto chart of the layouts")
    s.add_argument("-o", "--output-csv", metavar="CSV", help="every layout's row")
    s.add_argument("--dask", metavar="ADDRESS", help="Dask scheduler (tcp://host:8786) or 'local'")
    s.add_argument("-q", "--quiet", action="store_true")
    q.set_defaults(func=cmd_serve)
