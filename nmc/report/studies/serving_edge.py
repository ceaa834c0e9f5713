"""An edge box (10-100B models) and a device (1-10B) serving a handful of users (issue 14,
experiment 7c; docs/serving.md, "Experiments").

A closed loop of 1 to 5 users (each sends its next request as soon as the previous answer is
complete: no think time, the busiest a handful of users can make the box), lengths from the
bundled `chat` trace (prompt mean 576, output mean 253 tokens), continuous batching. Weights
int4 (fused de-quantization, as llama.cpp / TensorRT-LLM-class kernels), activations and KV
cache fp16:
  * edge box: jetson-agx-orin-64g with qwen3-30b-a3b (MoE, 30B, 3B active) and llama-3-70b;
    apple-m2-ultra with the same two;
  * device: phone-lpddr5x with llama-3.2-3b and llama-3-8b; aimc-edge-projected (an analog
    in-memory-compute package as projected, docs/aimc.md) with llama-3.2-1b and llama-3.2-3b.
Per user: decode speed (1 / mean TPOT, tokens/s), TTFT p50 and p90; and energy per output token
(static power of the box for the whole run + every pass). A (box, model) pair that does not fit
memory is left out with the reason.

Writes serving_edge.csv and serving_edge.png/.svg.

    python experiments/serving_edge.py [--quick] [--out DIR] [--docs]
"""
from __future__ import annotations

from pathlib import Path

from . import common as C
from ...errors import NmcError
from ...serving.api import serve

NAME = "serving_edge"
CASES = [  # (class, arch, label, model)
    ("edge box", "jetson-agx-orin-64g", "Jetson AGX Orin 64GB", "qwen3-30b-a3b"),
    ("edge box", "jetson-agx-orin-64g", "Jetson AGX Orin 64GB", "llama-3-70b"),
    ("edge box", "apple-m2-ultra", "M2 Ultra", "qwen3-30b-a3b"),
    ("edge box", "apple-m2-ultra", "M2 Ultra", "llama-3-70b"),
    ("device", "phone-lpddr5x", "phone (LPDDR5X)", "llama-3.2-3b"),
    ("device", "phone-lpddr5x", "phone (LPDDR5X)", "llama-3-8b"),
    ("device", "aimc-edge-projected", "AIMC package (projected)", "llama-3.2-1b"),
    ("device", "aimc-edge-projected", "AIMC package (projected)", "llama-3.2-3b"),
]
USERS = (1, 2, 3, 4, 5)
DTYPES = dict(weights="int4", activations="fp16", kv="fp16")


def run(quick: bool, out: Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    users = (1, 3, 5) if quick else USERS
    rows = []
    for cls, arch, label, model in CASES:
        for c in users:
            row = {"class": cls, "arch": arch, "box": label, "model": model, "users": c}
            try:
                d = serve(model, arch, concurrency=c, n_requests=(12 if quick else 40) * c,
                          trace="chat", max_batch=8, seed=0, **DTYPES).to_dict()
            except NmcError as e:
                row.update(fits=False, reason=str(e))
                rows.append(row)
                break
            row.update(fits=True, tokens_per_s_per_user=1.0 / d["tpot_mean_s"],
                       output_tokens_per_s=d["throughput_tokens_per_s"],
                       ttft_p50_s=d["ttft_p50_s"], ttft_p90_s=d["ttft_p90_s"],
                       energy_per_token_j=d["energy_per_token_j"], mean_batch=d["mean_batch"])
            rows.append(row)
        r1 = [r for r in rows if r["arch"] == arch and r["model"] == model]
        if r1 and r1[0].get("fits"):
            C.say(f"{label:26s} {model:14s}: " + ", ".join(
                f"{r['users']} users {r['tokens_per_s_per_user']:.3g} tok/s/user TTFT p90 "
                f"{r['ttft_p90_s']:.2g} s {r['energy_per_token_j']:.2g} J/tok"
                for r in r1 if r["users"] in (1, 5)))
        else:
            C.say(f"{label:26s} {model:14s}: does not fit ({r1[0]['reason'] if r1 else ''})")
    C.write_csv(rows, out / f"{NAME}.csv")
    figs = figure(rows, out, quick)
    C.say("wrote " + ", ".join(map(str, [out / f"{NAME}.csv", *figs])))
    return {"rows": rows, "figures": figs}


def figure(rows, out: Path, quick: bool) -> list[Path]:
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    panels = [("tokens_per_s_per_user", "decode speed per user (tokens/s, log)", True),
              ("ttft_p90_s", "TTFT p90 (s, log)", True),
              ("energy_per_token_j", "energy per output token (J, log)", True)]
    for i, cls in enumerate(("edge box", "device")):
        cases = [(a, lab, m) for c, a, lab, m in CASES if c == cls]
        for j, (key, ylab, log) in enumerate(panels):
            ax = axes[i, j]
            for k, (arch, lab, model) in enumerate(cases):
                pts = [r for r in rows if r["arch"] == arch and r["model"] == model
                       and r.get("fits")]
                if not pts:
                    continue
                ls = "-" if k % 2 == 0 else "--"
                ax.plot([r["users"] for r in pts], [r[key] for r in pts], marker="o", ls=ls,
                        color=f"C{k // 2}", label=f"{lab}: {model} int4")
            if key == "tokens_per_s_per_user":
                ax.axhline(10, color="grey", ls=":", lw=1)
                ax.text(1, 10, "10 tok/s", va="bottom", fontsize=7, color="grey")
            if log:
                ax.set_yscale("log")
            ax.set_xlabel("users (closed loop, no think time)")
            ax.set_ylabel(ylab, fontsize=9)
            ax.set_xticks(USERS)
            if j == 0:
                ax.set_title(f"{cls}: chat lengths, int4 weights", fontsize=9, loc="left")
                ax.legend(fontsize=7)
    fig.suptitle("An edge box and a device serving a handful of users (nmc.serve; AIMC package "
                 "as projected)", fontsize=10)
    fig.tight_layout()
    return C.save(fig, out / f"{NAME}.png", svg=not quick)
