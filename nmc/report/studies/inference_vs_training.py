"""Inference vs training demand: how many daily users make serving a chat model cost more
compute than training it, on a GPU, a GPU with HBM-PIM and an AIMC system?

Usage assumptions (options): every user sends R = 10 requests a day, each a P = 1000-token prompt
(system prompt + conversation so far) and an S = 300-token response. Serving: one batch of B
requests through prefill and decode (nmc.analyze, phase "generate"); GPU and GPU+PIM serve
batches of 64 (tp 1 for 8B, tp 8 for 70B), AIMC serves one request at a time on as many dies as
the weights need (aimc_chips = 0: its tiles work one token at a time, batching does not help).
Device-seconds per request = devices x batch latency / B; energy per request = batch energy / B.
No idle time, no over-provisioning for peaks: these are lower bounds of the serving fleet.

Training (once): Chinchilla tokens (20 per parameter) and the published Llama 3 count (15T,
Meta AI 2024): GPU via nmc.train with the fastest layout of experiments/train_compare.py (8B on
256, 70B on 1024 devices, global batch 1024 x 4096); GPU+PIM runs the same layout on
h100+hbm3-pim (PIM units idle: training GEMMs are compute-bound); AIMC via
nmc.analysis.aimc.aimc_training_step (64 x 2048 tokens per step, enough dies; its training state does
not fit the digital unit's memory, so this is a lower bound).

Crossover: N* = training cost / (R x H x serving cost per request) for a deployment of H days
(1 day and 365 days), in device-hours (die-hours for AIMC) and in energy.

Writes inference_vs_training.csv and .png/.svg under --out (default
results/inference_vs_training).

    python experiments/inference_vs_training.py [--quick] [--out DIR] [--docs] [--requests 10]
           [--prompt 1000] [--response 300] [--batch 64]
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from ...analysis.aimc import aimc_training_step
from ...analysis.inference import analyze
from ...analysis.training import train
from ...workload.model import load_model
from . import common as C
from . import train_compare

NAME = "inference_vs_training"

GPU, PIM, AIMC = "h100-sxm", "h100+hbm3-pim", "aimc-edge-projected"
MODELS = {"llama-3-8b": {"tp": 1, "train_devices": 256}, "llama-3-70b": {"tp": 8, "train_devices": 1024}}
QUICK_DEVICES = {"llama-3-8b": 64, "llama-3-70b": 256}
PUBLISHED_TOKENS = 15e12     # Meta Llama 3 model card (github.com/meta-llama/llama3, MODEL_CARD.md): 15T+ tokens
# the same model card: pretraining time in H100-80GB GPU-hours at 700 W (all overheads included)
PUBLISHED_GPU_HOURS = {"llama-3-8b": 1.3e6, "llama-3-70b": 6.4e6}
AIMC_BATCH, AIMC_SEQ = 64, 2048
HORIZONS = (1, 365)


def serving(model, arch, tp, batch, prompt, response) -> dict:
    if arch == AIMC:
        r = analyze(model, arch, phase="generate", batch=1, prompt=prompt, generate=response,
                        aimc_chips=0)
        devices, b = int(r.results["aimc_chips_needed"]), 1
    else:
        r = analyze(model, arch, phase="generate", batch=batch, prompt=prompt,
                        generate=response, tp=tp)
        devices, b = tp, batch
    d = r.results
    return {"serve_devices": devices, "serve_batch": b, "serve_fits": r.fits,
            "request_latency_s": d["latency_s"],
            "device_s_per_request": devices * d["latency_s"] / b,
            "j_per_request": d["energy_j"] / b}


def training(model, arch, devices, tokens, quick, layout=None) -> dict:
    if arch == AIMC:
        d = aimc_training_step(model, arch, batch=AIMC_BATCH, seq=AIMC_SEQ, aimc_chips=0)
        steps = tokens / (AIMC_BATCH * AIMC_SEQ)
        return {"train_devices": d["chips_needed"], "train_fits": d["fits"],
                "train_device_hours": steps * d["t_step_s"] * d["chips_needed"] / 3600,
                "train_mwh": steps * d["energy_j"] / 3.6e9,
                "train_days": steps * d["t_step_s"] / 86400}, None
    if layout is None:
        r = train_compare.best(model, arch, devices, train_compare.GBS, quick)
        if r is None:
            return {"train_fits": False}, None
        c = r.config
        layout = {"tp": c.tp, "pp": c.pp, "micro_batch": c.micro_batch,
                  "recompute": c.recompute, "zero": c.zero}
    r = train(model, arch, devices=devices, global_batch=train_compare.GBS,
                  seq=train_compare.SEQ, tokens=tokens, **layout)
    d = r.to_dict()
    return {"train_devices": devices, "train_fits": r.fits,
            "train_device_hours": d["device_hours"], "train_mwh": d["energy_to_train_mwh"],
            "train_days": d["time_to_train_days"], "train_mfu": d["mfu"]}, layout


def compute(quick: bool = False, requests: float = 10.0, prompt: int = 1000, response: int = 300,
            batch: int = 64) -> list[dict]:
    args = SimpleNamespace(quick=quick, requests=requests, prompt=prompt, response=response,
                           batch=batch)
    models = {"llama-3-8b": MODELS["llama-3-8b"]} if args.quick else MODELS
    rows = []
    for model, cfg in models.items():
        spec = load_model(model)
        devices = QUICK_DEVICES[model] if args.quick else cfg["train_devices"]
        layout = None
        for arch, label in ((GPU, "GPU (H100)"), (PIM, "GPU + HBM3-PIM"), (AIMC, "AIMC (projected)")):
            s = serving(model, arch, cfg["tp"], args.batch, args.prompt, args.response)
            per_user_day_dh = args.requests * s["device_s_per_request"] / 3600
            per_user_day_mwh = args.requests * s["j_per_request"] / 3.6e9
            for tok_label, tokens in (("chinchilla", 20 * spec.params()), ("published 15T", PUBLISHED_TOKENS)):
                t, lay = training(model, arch, devices, tokens, args.quick,
                                  layout if arch == PIM else None)
                if arch == PIM and not t.get("train_fits"):
                    # the PIM units take DRAM capacity (pim_capacity_loss): the GPU's layout may
                    # not fit; take the best layout of the PIM system itself
                    t, _ = training(model, arch, devices, tokens, args.quick)
                if arch == GPU:
                    layout = lay
                row = {"model": model, "arch": arch, "label": label, "tokens_label": tok_label,
                       "train_tokens": tokens, "requests_per_user_day": args.requests,
                       "prompt": args.prompt, "response": args.response, **s, **t,
                       "serve_device_h_per_user_day": per_user_day_dh,
                       "serve_mwh_per_user_day": per_user_day_mwh}
                for h in HORIZONS:
                    if t.get("train_device_hours"):
                        row[f"users_crossover_device_h_{h}d"] = t["train_device_hours"] / (per_user_day_dh * h)
                        row[f"users_crossover_energy_{h}d"] = t["train_mwh"] / (per_user_day_mwh * h)
                rows.append(row)
            if arch == GPU and model in PUBLISHED_GPU_HOURS:
                gh = PUBLISHED_GPU_HOURS[model]
                row = {"model": model, "arch": arch, "label": label,
                       "tokens_label": "Meta model card (measured GPU-hours)",
                       "train_tokens": PUBLISHED_TOKENS, "requests_per_user_day": args.requests,
                       "prompt": args.prompt, "response": args.response, **s,
                       "train_device_hours": gh, "train_mwh": gh * 700 / 1e6,
                       "serve_device_h_per_user_day": per_user_day_dh,
                       "serve_mwh_per_user_day": per_user_day_mwh}
                for h in HORIZONS:
                    row[f"users_crossover_device_h_{h}d"] = gh / (per_user_day_dh * h)
                    row[f"users_crossover_energy_{h}d"] = row["train_mwh"] / (per_user_day_mwh * h)
                rows.append(row)
    return rows


def run(quick: bool, out: Path, requests: float = 10.0, prompt: int = 1000, response: int = 300,
        batch: int = 64) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    args = SimpleNamespace(quick=quick, requests=requests, prompt=prompt, response=response,
                           batch=batch)
    rows = compute(quick, requests, prompt, response, batch)
    C.write_csv(rows, out / "inference_vs_training.csv")
    figs = chart(rows, out / "inference_vs_training.png", args)
    C.say(f"assumptions: {args.requests} requests/user/day, {args.prompt}-token prompt, "
          f"{args.response}-token response, GPU batch {args.batch}")
    for r in rows:
        C.say(f"{r['model']:12s} {r['label']:18s} serve {r['device_s_per_request']:8.3g} dev-s/req "
              f"{r['j_per_request']:8.3g} J/req | train {r.get('train_device_hours', float('nan')):9.3g} "
              f"dev-h {r.get('train_mwh', float('nan')):8.3g} MWh ({r['train_tokens']:.3g} tokens, "
              f"{r['tokens_label']}) | "
              f"users at which 1 year of serving = training: "
              f"{r.get('users_crossover_device_h_365d', float('nan')):8.3g} (device-h), "
              f"{r.get('users_crossover_energy_365d', float('nan')):8.3g} (energy); 1 day: "
              f"{r.get('users_crossover_device_h_1d', float('nan')):8.3g}")
    C.say(f"wrote {out}/inference_vs_training.csv, inference_vs_training.png/.svg")
    return {"rows": rows, "figures": figs}



def chart(rows, path, args, svg: bool = True):
    import numpy as np
    plt = C.plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(len(models), 2, figsize=(14, 5.0 * len(models)), squeeze=False)
    users = np.geomspace(1e3, 1e9, 61)
    colors = {GPU: "#4c72b0", PIM: "#55a868", AIMC: "#c44e52"}
    for i, model in enumerate(models):
        for j, (key_serve, key_train, unit) in enumerate((
                ("serve_device_h_per_user_day", "train_device_hours", "device-hours (AIMC: die-hours)"),
                ("serve_mwh_per_user_day", "train_mwh", "energy (MWh)"))):
            ax = axes[i, j]
            for arch in (GPU, PIM, AIMC):
                sel = [r for r in rows if r["model"] == model and r["arch"] == arch]
                if not sel:
                    continue
                r0 = sel[0]
                ax.plot(users, users * r0[key_serve] * 365, color=colors[arch],
                        label=f"{r0['label']}: one year of serving")
                for r in sel:
                    # GPU+PIM trains exactly like the GPU (same rows in the CSV): not drawn twice
                    if not r.get(key_train) or arch == PIM:
                        continue
                    ls = {"chinchilla": "--", "published 15T": ":"}.get(r["tokens_label"], "-.")
                    ax.axhline(r[key_train], color=colors[arch], ls=ls, lw=1.2,
                               label=f"{r0['label']}: training, {r['tokens_label']}"
                                     + (" (20 tokens/parameter)" if r["tokens_label"] == "chinchilla"
                                        else "") + (" (GPU+PIM: same)" if arch == GPU else ""))
                    n = r[key_train] / (r0[key_serve] * 365)
                    if users[0] <= n <= users[-1]:
                        ax.plot([n], [r[key_train]], "o", color=colors[arch], ms=5)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("daily users")
            ax.set_ylabel(unit)
            ax.set_title(f"{model}: {unit.split(' (')[0]}, one year of serving vs one training run",
                         fontsize=10)
            ax.grid(True, which="both", alpha=0.2)
    h, lab = axes[0, 0].get_legend_handles_labels()
    fig.legend(h, [x.replace(f"{models[0]}", "") for x in lab], loc="lower center", ncol=3,
               fontsize=8)
    fig.suptitle(f"Inference vs training (nmc model): {args.requests} requests/user/day, "
                 f"{args.prompt}-token prompt, {args.response}-token response; dots: crossover",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.1 if len(models) > 1 else 0.17, 1, 1))
    return C.save(fig, path, svg)
