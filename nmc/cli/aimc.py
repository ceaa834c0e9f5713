"""`nmc aimc chip | train`: figures of an analog in-memory chip, or an AIMC training step."""
from __future__ import annotations

import math

from ..analysis.aimc import aimc_training_step, chip_figures
from ..errors import NmcError
from .common import add_model_args, add_wide, emit, model_spec, names, overrides


def _fmt_rows(rows):
    out = []
    for r in rows:
        out.append({k: (v if not isinstance(v, float) or math.isfinite(v) else str(v))
                    for k, v in r.items()})
    return out


def _cmd(args) -> int:
    archs = names(args.arch)
    ov = overrides(args.set, args)
    if args.what == "chip":
        rows = []
        for name in archs:
            d = chip_figures(name, **ov)
            rows.append({"arch": d["arch"], "weights_M": d["weights_per_chip"] / 1e6,
                         "mvm_ns": d["tile_mvm_s"] * 1e9, "adc_ns": d["tile_adc_s"] * 1e9,
                         "conv_ns": d["tile_conversion_s"] * 1e9,
                         "TOPS": d["tops"], "TOPS_per_W": d["tops_per_w"],
                         "mvm_nJ": d["tile_mvm_energy_j"] * 1e9,
                         "prog_tile_ms": d["tile_program_s"] * 1e3,
                         "prog_chip_s": d["chip_program_s"], "eff_bits": d["effective_bits"],
                         "adc_bits_lossless": d["adc_bits_lossless"]})
        emit(_fmt_rows(rows), args.format, wide=args.wide)
        return 0
    if not args.model:
        raise NmcError("nmc aimc train needs --model")
    rows = []
    for model in [model_spec(args, m) for m in names(args.model)]:
        for name in archs:
            d = aimc_training_step(model, name, batch=args.batch, seq=args.seq, **ov)
            rows.append({"model": d["model"], "arch": d["arch"], "batch": d["batch"],
                         "seq": d["seq"], "step_s": d["t_step_s"], "fwd_s": d["t_forward_s"],
                         "bwd_s": d["t_backward_tiles_s"] + d["t_backward_digital_s"],
                         "wgrad_s": d["t_wgrad_s"], "opt_s": d["t_optimizer_s"],
                         "update_s": d["t_update_s"], "update_share": d["update_share"],
                         "tokens_per_s": d["tokens_per_s"], "J_per_token": d["energy_per_token_j"],
                         "lifetime_steps": d["lifetime_steps"], "chips_needed": d["chips_needed"],
                         "reprogram": d["reprogram"], "fits": d["fits"]})
    emit(_fmt_rows(rows), args.format, wide=args.wide)
    return 0


def register(sub) -> None:
    q = sub.add_parser("aimc", help="AIMC chip figures (chip) or an AIMC training step (train)")
    q.add_argument("what", choices=["chip", "train"])
    q.add_argument("--arch", required=True, help="AIMC preset name(s) or TOML path(s), comma separated")
    add_model_args(q, required=False, help="model name(s) for `train`, comma separated")
    q.add_argument("--batch", type=int, default=1, help="sequences per training step")
    q.add_argument("--seq", type=int, default=512, help="tokens per sequence")
    q.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    q.add_argument("--format", default="text", choices=["text", "json", "csv"])
    add_wide(q)
    q.set_defaults(func=_cmd)
