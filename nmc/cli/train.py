"""`nmc train`: one training configuration, or `--search` for the fastest that fits memory."""
from __future__ import annotations

from ..errors import NmcError
from ..report.tables import render, to_csv, to_json, wrap
from .common import add_model_args, add_wide, ints, model_spec, names, overrides

SEARCH_COLS = ["tp", "pp", "dp", "micro_batch", "n_micro", "recompute", "zero", "step_time_s",
               "tokens_per_s", "mfu", "hfu", "memory_gb", "bubble", "time_to_train_days"]


def _float(text, what):
    try:
        return float(text)
    except (TypeError, ValueError):
        raise NmcError(f"--{what}: {text!r} is not a number") from None


def _opt_ints(text, what):
    return None if text is None else ints(text, what)


def cmd_train(args) -> int:
    from ..analysis.training import search, train
    tokens = _float(args.tokens, "tokens") if args.tokens is not None else None
    over = overrides(args.set, args)
    if args.search:
        rows = search(model_spec(args, args.model), args.arch, devices=args.devices, global_batch=args.global_batch,
                      seq=args.seq, tp=_opt_ints(args.tp, "tp"), pp=_opt_ints(args.pp, "pp"),
                      micro_batch=_opt_ints(args.micro_batch, "micro-batch"),
                      recompute=names(args.recompute) if args.recompute else None,
                      zero=_opt_ints(args.zero, "zero"), ep=args.ep, dtype=args.dtype,
                      top=args.top, tokens=tokens, **over)
        if not rows:
            print("no configuration fits memory")
            return 1
        cols = [c for c in SEARCH_COLS if c in rows[0]]
        if args.format == "json":
            print(to_json(rows))
        elif args.format == "csv":
            print(to_csv(rows, cols), end="")
        else:
            print(f"fastest configurations that fit: {args.model} on {args.devices} x {args.arch}, "
                  f"global batch {args.global_batch} x {args.seq} tokens")
            print(render(rows, cols, wide=args.wide))
        return 0
    one = lambda text, what, d: d if text is None else _single(text, what)
    r = train(model_spec(args, args.model, announce=False), args.arch, devices=args.devices, tp=one(args.tp, "tp", 1),
              pp=one(args.pp, "pp", 1), dp=args.dp, ep=args.ep,
              micro_batch=one(args.micro_batch, "micro-batch", 1),
              global_batch=args.global_batch, seq=args.seq,
              recompute=args.recompute or "selective", zero=one(args.zero, "zero", 1),
              tokens=tokens, dtype=args.dtype, vpp=args.vpp, algorithm=args.algorithm,
              attention=args.attention, overlap_dp=not args.no_overlap,
              overlap_ep=args.overlap_ep, cp=args.cp, fp8_recipe=args.fp8_recipe,
              zero_group=args.zero_group, zero3_reshard=not args.zero3_keep, **over)
    d = r.to_dict()
    if args.format == "json":
        print(to_json(d))
        return 0
    if args.format == "csv":
        flat = {k: v for k, v in d.items() if not isinstance(v, (dict, list))}
        flat.update({f"share_{k}": v for k, v in (d.get("time_shares") or {}).items()})
        print(to_csv([flat]), end="")
        return 0
    c = r.config
    g = 1e9
    mem = d["memory_per_device"]
    say(f"{r.model.name} on {c.devices} x {r.arch.name}: tp {c.tp} pp {c.pp} dp {c.dp}"
          + (f" ep {c.ep}" if c.ep > 1 else "") + (f" cp {c.cp}" if c.cp > 1 else "")
          + f", micro-batch {c.micro_batch} x "
          f"{c.n_micro}, global batch {c.global_batch} x {c.seq} tokens, recompute {c.recompute}, "
          f"ZeRO-{c.zero}, {c.dtype}")
    say(f"  params {r.model.params() / 1e9:.2f} B, {d['params_per_device'] / 1e9:.3g} B per "
          f"device, {d['layers_per_stage']} layers on the slowest stage")
    say(f"  memory per device {mem['total_bytes'] / g:.1f} GB of {mem['capacity_bytes'] / g:.1f} "
        f"usable: {'fits' if r.fits else 'DOES NOT FIT'} (weights {mem['weights_bytes'] / g:.1f}, "
        f"grads {mem['grads_bytes'] / g:.1f}, optimizer {mem['optimizer_bytes'] / g:.1f}, "
        f"activations {mem['activations_bytes'] / g:.1f})")
    if not r.fits:
        say(f"  not evaluated: {r.reason}")
        for w in r.warnings[:-1]:
            say(f"  warning: {w}")
        return 1
    say(f"  step {d['step_time_s']:.4g} s   tokens/s {d['tokens_per_s']:.4g} "
          f"({d['tokens_per_s_per_device']:.4g} per device)")
    say(f"  MFU {d['mfu']:.1%}   HFU {d['hfu']:.1%}   model {d['model_tflops_per_device']:.1f} "
          f"TFLOP/s per device   hardware {d['hardware_tflops_per_device']:.1f} TFLOP/s per device")
    if "time_to_train_s" in d:
        say(f"  {d['tokens']:.3g} tokens: {d['time_to_train_days']:.2f} days, "
              f"{d['device_hours']:.4g} device-hours, {d['energy_to_train_mwh']:.4g} MWh")
    say(f"  energy per step {d['energy_per_step_j'] / 1e6:.3g} MJ "
          f"({d['avg_power_per_device_w']:.0f} W per device)")
    say(f"  bottleneck: {d['bottleneck']}  (" + ", ".join(
        f"{k} {v:.1%}" for k, v in d["time_shares"].items() if v > 0.0005) + ")")
    for w in r.warnings:
        say(f"  warning: {w}")
    return 0


def say(text: str) -> None:
    print(wrap(text))


def _single(text, what):
    v = ints(text, what)
    if len(v) != 1:
        raise NmcError(f"--{what} takes one value without --search")
    return v[0]


def register(sub) -> None:
    q = sub.add_parser("train", help="training step time, MFU, memory and time-to-train on a "
                       "cluster (or --search for the fastest layout)")
    add_model_args(q)
    q.add_argument("--arch", required=True, help="preset name or TOML path")
    q.add_argument("--devices", type=int, required=True, help="devices in the cluster")
    q.add_argument("--tp", help="tensor-parallel degree (comma list with --search)")
    q.add_argument("--pp", help="pipeline stages (comma list with --search)")
    q.add_argument("--dp", type=int, default=None, help="data-parallel degree (default "
                   "devices/(tp*pp))")
    q.add_argument("--ep", type=int, default=1, help="expert-parallel degree (MoE), within dp")
    q.add_argument("--cp", type=int, default=1, help="context-parallel ranks per sequence "
                   "(devices = tp*pp*dp*cp)")
    q.add_argument("--micro-batch", dest="micro_batch", help="sequences per micro-batch")
    q.add_argument("--global-batch", dest="global_batch", type=int, required=True,
                   help="sequences per optimizer step")
    q.add_argument("--seq", type=int, required=True, help="sequence length")
    q.add_argument("--recompute", default=None,
                   help="none | selective | full (default selective; comma list with --search)")
    q.add_argument("--zero", default=None, help="ZeRO stage 0-3 (default 1; comma list with "
                   "--search)")
    q.add_argument("--tokens", default=None, help="training tokens for time-to-train, e.g. 2e12")
    q.add_argument("--dtype", default="bf16", help="GEMM precision: bf16, fp16 or fp8 (the "
                   "linear layers' GEMMs in FP8, attention and norms in BF16)")
    q.add_argument("--fp8-recipe", dest="fp8_recipe", default="delayed",
                   choices=["delayed", "current"], help="FP8 scaling: delayed (amax history) or "
                   "current (per-tensor, one more pass per cast)")
    q.add_argument("--zero-group", dest="zero_group", type=int, default=None,
                   help="ranks one ZeRO shard spans (default all dp*cp; 8 = hybrid sharding)")
    q.add_argument("--zero3-keep", dest="zero3_keep", action="store_true",
                   help="ZeRO-3: keep each layer gathered from its forward to its backward")
    q.add_argument("--vpp", type=int, default=1, help="virtual stages per device (interleaved 1F1B)")
    q.add_argument("--algorithm", default="best", choices=["ring", "hierarchical", "best"],
                   help="collective algorithm")
    q.add_argument("--attention", default="flash", choices=["flash", "unfused"],
                   help="fused FlashAttention-style kernel or unfused (s x s scores in memory)")
    q.add_argument("--no-overlap", action="store_true",
                   help="do not hide data-parallel communication behind the backward pass")
    q.add_argument("--overlap-ep", dest="overlap_ep", action="store_true",
                   help="hide the MoE all-to-all behind compute (DualPipe-style)")
    q.add_argument("--search", action="store_true", help="grid over tp, pp, micro-batch, "
                   "recompute and ZeRO; print the fastest that fit memory")
    q.add_argument("--top", type=int, default=10, help="rows printed by --search")
    q.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override an architecture parameter, e.g. --set net_bw='25 GB/s'")
    q.add_argument("--format", default="text", choices=["text", "json", "csv"])
    add_wide(q)
    q.set_defaults(func=cmd_train)

