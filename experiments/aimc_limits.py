"""Where does analog in-memory compute stop working for LLMs, and how does the limit move?

Decode (batch 1, context 2048) tokens/s and J/token of four model sizes on one AIMC package
(aimc-edge-projected with aimc_chips = 1) as the tile count per package grows: below the tile
count a model needs, every token re-programs the missing tiles (capacity wall); above it, the
digital unit's KV-cache reads bound the token. A second panel moves the program-and-verify
time (t_write) for llama-3-8b at a fixed 4096 tiles: faster writes lower the wall but do not
remove it. Writes results/aimc_limits/{aimc_limits.csv, aimc_limits.png}.

    python experiments/aimc_limits.py [--out results/aimc_limits]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nmc.engine.layout import AIMC_BOUND_NAMES
from nmc.sweep import sweep

MODELS = ["qwen2-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3-8b"]
TILES = [256 * 2 ** k for k in range(10)]          # 256 .. 131072 tiles of 512 x 512
T_WRITE = ["10 ns", "100 ns", "1 us", "10 us"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/aimc_limits")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t = sweep(model=MODELS, arch="aimc-edge-projected",
              grid={"aimc_tiles": TILES, "aimc_chips": [1]}, phase="decode", context=2048)
    w = sweep(model="llama-3-8b", arch="aimc-edge-projected",
              grid={"aimc_t_write": T_WRITE, "aimc_tiles": TILES, "aimc_chips": [1]},
              phase="decode", context=2048)
    rows = []
    for tab, study in ((t, "tiles"), (w, "t_write")):
        for i in range(len(tab["tokens_per_s"])):
            model = tab["model"][i] if "model" in tab.columns else "llama-3-8b"
            rows.append({"study": study, "model": model,
                         "aimc_tiles": int(tab["aimc_tiles"][i]),
                         "aimc_t_write_s": float(tab["aimc_t_write"][i]) if "aimc_t_write" in tab.columns else 1e-6,
                         "tokens_per_s": float(tab["tokens_per_s"][i]),
                         "energy_per_token_j": float(tab["energy_per_token_j"][i]),
                         "tiles_needed": int(tab["aimc_tiles_needed"][i]),
                         "reprogram": bool(tab["aimc_reprogram"][i]),
                         "bound": AIMC_BOUND_NAMES[int(tab["aimc_bound"][i])]})
    with open(out / "aimc_limits.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for m in MODELS:
        xs = [r["aimc_tiles"] for r in rows if r["study"] == "tiles" and r["model"] == m]
        ys = [r["tokens_per_s"] for r in rows if r["study"] == "tiles" and r["model"] == m]
        es = [r["energy_per_token_j"] for r in rows if r["study"] == "tiles" and r["model"] == m]
        need = next(r["tiles_needed"] for r in rows if r["study"] == "tiles" and r["model"] == m)
        ln, = axes[0].plot(xs, ys, marker="o", label=f"{m} (needs {need} tiles)")
        axes[0].axvline(need, color=ln.get_color(), ls=":", lw=1)
        axes[1].plot(xs, es, marker="o", label=m)
    for tw in T_WRITE:
        sel = [r for r in rows if r["study"] == "t_write" and
               abs(r["aimc_t_write_s"] - float(tw.split()[0]) * {"ns": 1e-9, "us": 1e-6}[tw.split()[1]]) < 1e-15]
        axes[2].plot([r["aimc_tiles"] for r in sel], [r["tokens_per_s"] for r in sel], marker="o",
                     label=f"t_write {tw}")
    for ax, yl, title in ((axes[0], "decode tokens/s", "capacity wall vs tiles per package"),
                          (axes[1], "J/token", "energy per token"),
                          (axes[2], "decode tokens/s", "llama-3-8b: faster program-and-verify")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tiles of 512x512 per package (aimc_chips = 1)")
        ax.set_ylabel(yl)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "aimc_limits.png", dpi=130)
    print(f"wrote {out / 'aimc_limits.csv'}, {out / 'aimc_limits.png'}")
    for r in rows:
        if r["study"] == "tiles" and r["aimc_tiles"] in (2048, 4096, 16384, 32768):
            print(f"{r['model']:>14} tiles {r['aimc_tiles']:>6}: {r['tokens_per_s']:9.4g} tok/s "
                  f"{r['energy_per_token_j']:9.3g} J/token  bound {r['bound']}")


if __name__ == "__main__":
    main()
