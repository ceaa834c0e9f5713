"""Where does analog in-memory compute stop working for LLMs, and how does the limit move?

Inference (aimc_limits.csv, aimc_limits.png), under both mappings of weights beyond the tiles:
hybrid (aimc_residency = 0, the default: the resident prefix of layers on the tiles, the rest
on the digital unit streaming its weights from LPDDR5X) and re-programming (aimc_residency = 2,
opt-in: the missing tiles are re-programmed every pass):
  * tiles: decode (batch 1, context 2048) tokens/s and J/token of four model sizes on one AIMC
    die (aimc-edge-projected with aimc_chips = 1) as the tile count per die grows: below the
    tile count a model needs, the hybrid streams the rest from DRAM (a slope), re-programming
    falls off a cliff; above it, the digital unit's KV-cache reads bound the token;
  * t_write: the program-and-verify time for llama-3-8b (re-programming policy): faster writes
    lower the wall but do not reach the hybrid, which never writes;
  * models: tokens/s and J/token against model size (0.5B..70B) on the projected 3-die package
    (hybrid, and re-programming) and on as many dies as the weights need (aimc_chips = 0; dies
    needed annotated), with an H100 and a phone SoC at batch 1 for reference. The hybrid
    package and the two references are drawn as bands: low..high over their presets'
    uncertainty bands (nmc.band_sweep through the sweep kernel, docs/bands.md); the CSV has
    tokens_per_s_low/_high and energy_per_token_j_low/_high for every row of this study.
Training (aimc_training.csv, aimc_training.png), nmc.analysis.aimc.aimc_training_step:
  * one step of llama-3.2-1b (batch 8 x 512 tokens) on the projected package with enough
    chips, split into forward / backward / weight gradient / optimizer / program-and-verify
    update, today and with faster writes, in-situ updates (1 verify iteration) and a 10x
    digital unit; nmc.train of the same step on one H100 for reference;
  * the cell endurance a full training run needs (Chinchilla, 20 tokens per parameter) against
    the tokens per optimizer step, for 20 and 1 verify iterations per update.

    python experiments/aimc_limits.py [--quick] [--out results/aimc_limits] [--docs]
"""
from __future__ import annotations

from pathlib import Path

from ...analysis.aimc import aimc_training_step
from ...analysis.inference import analyze
from ...analysis.training import train
from ...arch.loader import load_arch
from ...engine.layout import AIMC_BOUND_NAMES
from ...sweeps import band_sweep, sweep
from ...workload.model import load_model
from . import common as C

plt = C.plt
NAME = "aimc_limits"

ARCH = "aimc-edge-projected"
PACKAGE = 3                                        # dies of 4096 tiles in the projected package
MODELS = ["qwen2-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3-8b"]
TILES = [256 * 2 ** k for k in range(10)]          # 256 .. 131072 tiles of 512 x 512
T_WRITE = ["10 ns", "100 ns", "1 us", "10 us"]
SIZES = ["qwen2-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3-8b", "llama-2-13b", "llama-3-70b"]
REFS = ["h100-sxm", "phone-lpddr5x"]
TRAIN_MODEL, TRAIN_BATCH, TRAIN_SEQ = "llama-3.2-1b", 8, 512
# label -> overrides of the projected package (aimc_chips = 0: as many chips as the weights need)
TRAIN_CASES = {
    "today (1 us write, 20 verify iters)": {},
    "10 ns write": {"aimc_t_write": 1e-8},
    "in-situ update (10 ns, 1 iter)": {"aimc_t_write": 1e-8, "aimc_verify_iters": 1},
    "in-situ + 10x digital unit": {"aimc_t_write": 1e-8, "aimc_verify_iters": 1, "_digital": 10},
}
STEP_TOKENS = [2 ** k for k in range(12, 23)]      # 4k .. 4M tokens per optimizer step
ENDURANCE_MODELS = ["llama-3.2-1b", "llama-3-8b"]


def _t_write_s(tw: str) -> float:
    v, u = tw.split()
    return float(v) * {"ns": 1e-9, "us": 1e-6}[u]


POLICY = {0: "hybrid", 2: "reprogram"}           # aimc_residency values compared


def _col(tab, key, i, default):
    return tab[key][i] if key in tab.columns else default


def inference_rows(quick: bool) -> list[dict]:
    models = MODELS[:2] if quick else MODELS
    tiles = TILES[::3] if quick else TILES
    t = sweep(model=models, arch=ARCH,
              grid={"aimc_tiles": tiles, "aimc_chips": [1], "aimc_residency": list(POLICY)},
              phase="decode", context=2048)
    w = sweep(model="llama-3-8b", arch=ARCH,
              grid={"aimc_t_write": T_WRITE, "aimc_tiles": tiles, "aimc_chips": [1],
                    "aimc_residency": [2]},
              phase="decode", context=2048)
    # model size: one package (hybrid and re-programming) and enough packages
    sizes = SIZES[:3] if quick else SIZES
    m = band_sweep(model=sizes, arch=ARCH, grid={"aimc_chips": [PACKAGE, 0],
                                                 "aimc_residency": list(POLICY)},
                   phase="decode", context=2048)
    rows = []
    for tab, study in ((t, "tiles"), (w, "t_write"), (m, "models")):
        for i in range(len(tab["tokens_per_s"])):
            model = _col(tab, "model", i, "llama-3-8b")
            chips = int(_col(tab, "aimc_chips", i, 1))
            if study == "models" and chips == 0 and int(tab["aimc_residency"][i]) != 0:
                continue                       # enough dies: both policies are the same point
            rows.append({"study": study, "model": model, "arch": ARCH,
                         "params": load_model(model).params(),
                         "policy": POLICY[int(tab["aimc_residency"][i])],
                         "aimc_tiles": int(_col(tab, "aimc_tiles", i, load_arch(ARCH)["aimc_tiles"])),
                         "aimc_chips": chips,
                         "aimc_t_write_s": float(_col(tab, "aimc_t_write", i, 1e-6)),
                         "tokens_per_s": float(tab["tokens_per_s"][i]),
                         "energy_per_token_j": float(tab["energy_per_token_j"][i]),
                         "tiles_needed": int(tab["aimc_tiles_needed"][i]),
                         "chips_needed": int(tab["aimc_chips_needed"][i]),
                         "resident": float(tab["aimc_resident_fraction"][i]),
                         "reprogram": bool(tab["aimc_reprogram"][i]), "fits": bool(tab["fits"][i]),
                         "bound": AIMC_BOUND_NAMES[int(tab["aimc_bound"][i])]})
            if study == "models":                # low = pessimistic, high = optimistic end
                rows[-1].update({f"{k}_{e}": float(tab[f"{k}_{e}"][i]) for e in ("low", "high")
                                 for k in ("tokens_per_s", "energy_per_token_j")})
    for ref in REFS:
        for model in sizes:
            r = analyze(model, ref, phase="decode", batch=1, context=2048, band=True)
            rows.append({"study": "models", "model": model, "arch": ref,
                         "params": r.model.params(), "tokens_per_s": r.tokens_per_s,
                         "energy_per_token_j": r.energy_per_token_j, "fits": r.fits,
                         "bound": r.bound,
                         **{f"{k}_{e}": r.band[e][k] for e in ("low", "high")
                            for k in ("tokens_per_s", "energy_per_token_j")}})
    return rows


def training_rows(quick: bool) -> list[dict]:
    rows = []
    base = load_arch(ARCH)
    for label, ov in TRAIN_CASES.items():
        ov = dict(ov)
        k = ov.pop("_digital", 1)
        if k != 1:
            ov.update(peak_fp32=base["peak_fp32"] * k, peak_bf16=base["peak_bf16"] * k,
                      mem_bw=base["mem_bw"] * k)
        d = aimc_training_step(TRAIN_MODEL, ARCH, batch=TRAIN_BATCH, seq=TRAIN_SEQ,
                               aimc_chips=0, **ov)
        rows.append({"study": "step", "case": label, "model": TRAIN_MODEL, "arch": ARCH,
                     "tokens_per_step": TRAIN_BATCH * TRAIN_SEQ,
                     "forward_s": d["t_forward_s"],
                     "backward_s": d["t_backward_tiles_s"] + d["t_backward_digital_s"],
                     "wgrad_s": d["t_wgrad_s"], "optimizer_s": d["t_optimizer_s"],
                     "update_s": d["t_update_s"], "step_s": d["t_step_s"],
                     "tokens_per_s": d["tokens_per_s"], "energy_per_token_j": d["energy_per_token_j"],
                     "update_share": d["update_share"], "lifetime_steps": d["lifetime_steps"],
                     "lifetime_tokens": d["lifetime_tokens"], "chips_needed": d["chips_needed"],
                     "fits": d["fits"]})
    g = train(TRAIN_MODEL, "h100-sxm", devices=1, global_batch=TRAIN_BATCH, seq=TRAIN_SEQ,
                  micro_batch=TRAIN_BATCH).to_dict()
    rows.append({"study": "step", "case": "H100 (nmc.train, 1 device)", "model": TRAIN_MODEL,
                 "arch": "h100-sxm", "tokens_per_step": TRAIN_BATCH * TRAIN_SEQ,
                 "step_s": g["step_time_s"], "tokens_per_s": g["tokens_per_s"],
                 "energy_per_token_j": g["energy_per_step_j"] / g["tokens_per_step"],
                 "fits": g["fits"]})
    # endurance needed for one Chinchilla-size run vs tokens per optimizer step
    steps_tok = STEP_TOKENS[::3] if quick else STEP_TOKENS
    for model in (ENDURANCE_MODELS[:1] if quick else ENDURANCE_MODELS):
        tokens = 20 * load_model(model).params()
        for iters in (20, 1):
            for st in steps_tok:
                seq = TRAIN_SEQ
                batch = max(1, st // seq)
                d = aimc_training_step(model, ARCH, batch=batch, seq=seq, aimc_chips=0,
                                       aimc_verify_iters=iters)
                steps = tokens / (batch * seq)
                rows.append({"study": "endurance", "model": model, "arch": ARCH,
                             "verify_iters": iters, "tokens_per_step": batch * seq,
                             "train_tokens": tokens, "steps_needed": steps,
                             "lifetime_steps": d["lifetime_steps"],
                             "endurance_needed": base["aimc_endurance"] * steps / d["lifetime_steps"],
                             "days_to_train": tokens / d["tokens_per_s"] / 86400,
                             "chips_needed": d["chips_needed"]})
    return rows



def inference_chart(rows, path, models, svg=True):
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.8))
    tiles_rows = [r for r in rows if r["study"] == "tiles"]
    for m in models:
        sel = [r for r in tiles_rows if r["model"] == m and r["policy"] == "hybrid"]
        rep = [r for r in tiles_rows if r["model"] == m and r["policy"] == "reprogram"]
        if not sel:
            continue
        need = sel[0]["tiles_needed"]
        ln, = axes[0, 0].plot([r["aimc_tiles"] for r in sel], [r["tokens_per_s"] for r in sel],
                              marker="o", label=f"{m} (needs {need} tiles)")
        axes[0, 0].plot([r["aimc_tiles"] for r in rep], [r["tokens_per_s"] for r in rep],
                        ls="--", marker=".", color=ln.get_color())
        axes[0, 0].axvline(need, color=ln.get_color(), ls=":", lw=1)
        axes[0, 1].plot([r["aimc_tiles"] for r in sel], [r["energy_per_token_j"] for r in sel],
                        marker="o", label=m, color=ln.get_color())
        axes[0, 1].plot([r["aimc_tiles"] for r in rep], [r["energy_per_token_j"] for r in rep],
                        ls="--", marker=".", color=ln.get_color())
    for ax in axes[0, :2]:
        ax.plot([], [], "k-", label="hybrid (rest from DRAM)")
        ax.plot([], [], "k--", label="re-program every pass")
    for tw in T_WRITE:
        sel = [r for r in rows if r["study"] == "t_write"
               and abs(r["aimc_t_write_s"] - _t_write_s(tw)) < 1e-15]
        axes[0, 2].plot([r["aimc_tiles"] for r in sel], [r["tokens_per_s"] for r in sel],
                        ls="--", marker="o", label=f"re-program, t_write {tw}")
    hyb = [r for r in tiles_rows if r["model"] == "llama-3-8b" and r["policy"] == "hybrid"]
    if hyb:
        axes[0, 2].plot([r["aimc_tiles"] for r in hyb], [r["tokens_per_s"] for r in hyb], "k-",
                        marker="s", label="hybrid (never writes)")
    for ax, yl, title in ((axes[0, 0], "decode tokens/s",
                           "(a) tokens/s vs tiles per die: hybrid slope, re-programming cliff"),
                          (axes[0, 1], "J/token", "(b) energy per token vs tiles per die"),
                          (axes[0, 2], "decode tokens/s", "(c) llama-3-8b: faster program-and-verify")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tiles of 512x512 on one die (aimc_chips = 1)")
        ax.set_ylabel(yl)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    # model size
    sizes = [r for r in rows if r["study"] == "models"]
    # (label, rows, marker, drawn as a band): the band is low..high over the preset's
    # uncertainty bands (docs/bands.md), here for the package as built and the references
    def package(policy):
        return lambda r: r["arch"] == ARCH and r["aimc_chips"] == PACKAGE and r["policy"] == policy

    series = [("AIMC, one 3-die package, hybrid (rest from DRAM); band: preset ranges",
               package("hybrid"), "o", True),
              ("AIMC, one 3-die package, re-programming", package("reprogram"), "x", False),
              ("AIMC, as many dies as needed",
               lambda r: r["arch"] == ARCH and r["aimc_chips"] == 0, "s", False),
              ("h100-sxm (batch 1)", lambda r: r["arch"] == "h100-sxm", "^", True),
              ("phone-lpddr5x (batch 1)", lambda r: r["arch"] == "phone-lpddr5x", "v", True)]
    for label, pred, mk, band in series:
        sel = sorted([r for r in sizes if pred(r)], key=lambda r: r["params"])
        xs = [r["params"] / 1e9 for r in sel]
        aimc = sel and sel[0]["arch"] == ARCH
        for ax, key in ((axes[1, 0], "tokens_per_s"), (axes[1, 1], "energy_per_token_j")):
            # digital devices: no point where the model does not fit; AIMC: every point, an x
            # where the digital unit's memory cannot hold what re-programming streams from it
            ys = [r[key] if (aimc or r.get("fits", True)) else float("nan") for r in sel]
            ln, = ax.plot(xs, ys, marker=mk, label=label)
            if band:
                lo = [r[key + "_low"] if (aimc or r.get("fits", True)) else float("nan") for r in sel]
                hi = [r[key + "_high"] if (aimc or r.get("fits", True)) else float("nan") for r in sel]
                ax.fill_between(xs, lo, hi, color=ln.get_color(), alpha=0.18, lw=0)
            if aimc:
                bad = [(x, y) for x, y, r in zip(xs, ys, sel) if not r.get("fits", True)]
                if bad:
                    ax.scatter(*zip(*bad), marker="x", s=70, color="k", zorder=4)
        if label.startswith("AIMC, as many dies as needed"):
            for r in sel:
                axes[1, 0].annotate(f"{r['chips_needed']} dies", (r["params"] / 1e9, r["tokens_per_s"]),
                                    fontsize=7, xytext=(3, 5), textcoords="offset points")
    for ax, yl, title in ((axes[1, 0], "decode tokens/s (batch 1, context 2048)",
                           "(d) tokens/s vs model size (x / no point: does not fit memory;\n"
                           "shaded: low..high over the presets' uncertainty bands)"),
                          (axes[1, 1], "J/token", "(e) energy per token vs model size (shaded: bands)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters (billions)")
        ax.set_ylabel(yl)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
    # (f) chips needed and re-programming time per token
    ax = axes[1, 2]
    one = sorted([r for r in sizes if r["arch"] == ARCH and r["aimc_chips"] == 0], key=lambda r: r["params"])
    ax.plot([r["params"] / 1e9 for r in one], [r["chips_needed"] for r in one], marker="s",
            color="#55a868", label="dies of 4096 tiles to hold the weights")
    ax.axhline(PACKAGE, color="grey", ls=":", lw=1)
    ax.annotate("one package (3 dies)", (one[0]["params"] / 1e9, PACKAGE), fontsize=7.5,
                va="bottom", color="dimgray")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (billions)")
    ax.set_ylabel("dies needed (1.07 G 4-bit weights each)")
    ax.set_title("(f) the capacity cliff: dies needed to hold the weights", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"AIMC limits ({ARCH}, decode batch 1, context 2048; nmc model, estimates)",
                 fontsize=12)
    fig.tight_layout()
    return C.save(fig, path, svg)


def training_chart(rows, path, svg=True):
    import numpy as np
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.2))
    ax = axes[0]
    steps = [r for r in rows if r["study"] == "step" and r["arch"] == ARCH]
    parts = [("forward_s", "forward (tiles + digital)", "#4c72b0"),
             ("backward_s", "backward dX (tiles + digital)", "#8172b3"),
             ("wgrad_s", "weight gradient dW (digital)", "#dd8452"),
             ("optimizer_s", "optimizer (digital)", "#937860"),
             ("update_s", "program-and-verify update", "#c44e52")]
    x = np.arange(len(steps))
    bottom = np.zeros(len(steps))
    for key, label, color in parts:
        vals = np.array([r[key] for r in steps])
        ax.bar(x, vals, 0.6, bottom=bottom, color=color, label=label)
        bottom += vals
    for i, r in enumerate(steps):
        ax.annotate(f"{r['tokens_per_s']:.0f} tok/s", (i, bottom[i]), ha="center", va="bottom",
                    fontsize=8)
    gpu = next((r for r in rows if r["study"] == "step" and r["arch"] == "h100-sxm"), None)
    if gpu:
        ax.axhline(gpu["step_s"], color="k", ls="--", lw=1,
                   label=f"one H100 (nmc.train): {gpu['step_s']:.3f} s/step, "
                         f"{gpu['tokens_per_s']:.0f} tok/s")
    ax.set_xticks(x, [r["case"].replace(" (", "\n(") for r in steps], fontsize=8)
    ax.set_ylabel("seconds per optimizer step")
    ax.set_title(f"(a) one training step of {TRAIN_MODEL} ({TRAIN_BATCH} x {TRAIN_SEQ} tokens) on "
                 f"{ARCH}, enough chips", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax = axes[1]
    end = [r for r in rows if r["study"] == "endurance"]
    for model in dict.fromkeys(r["model"] for r in end):
        for iters, ls in ((20, "-"), (1, "--")):
            sel = [r for r in end if r["model"] == model and r["verify_iters"] == iters]
            ax.plot([r["tokens_per_step"] for r in sel], [r["endurance_needed"] for r in sel],
                    ls=ls, marker="o", label=f"{model}, {iters} verify iter{'s' if iters > 1 else ''}")
    for e, lab in ((1e8, "PCM, projected preset (1e8 cycles)"),
                   (1e6, "RRAM, NeuRRAM preset (1e6 cycles)")):
        ax.axhline(e, color="grey", ls=":", lw=1)
        ax.annotate(lab, (STEP_TOKENS[0], e), fontsize=7.5, va="bottom", color="dimgray")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("tokens per optimizer step (batch x 512)")
    ax.set_ylabel("write cycles per cell for one run (20 tokens / parameter)")
    ax.set_title("(b) endurance one Chinchilla-size training run needs", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7.5)
    fig.suptitle("Training on AIMC (nmc.analysis.aimc.aimc_training_step; estimates)", fontsize=12)
    fig.tight_layout()
    return C.save(fig, path, svg)


def compute(quick: bool = False) -> dict:
    return {"inference": inference_rows(quick), "training": training_rows(quick)}


def run(quick: bool, out: Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res = compute(quick)
    rows, trows = res["inference"], res["training"]
    C.write_csv(rows, out / "aimc_limits.csv")
    figs = inference_chart(rows, out / "aimc_limits.png", MODELS[:2] if quick else MODELS)
    C.write_csv(trows, out / "aimc_training.csv")
    figs += training_chart(trows, out / "aimc_training.png")
    headline(rows, trows)
    C.say("wrote " + ", ".join(map(str, [out / "aimc_limits.csv", out / "aimc_training.csv", *figs])))
    res["figures"] = figs
    return res


def headline(rows, trows) -> None:
    for r in rows:
        if r["study"] == "tiles" and r["aimc_tiles"] in (2048, 4096, 16384, 32768):
            C.say(f"{r['model']:>14} tiles {r['aimc_tiles']:>6} {r['policy']:>9}: "
                  f"{r['tokens_per_s']:9.4g} tok/s {r['energy_per_token_j']:9.3g} J/token  "
                  f"resident {r['resident']:.0%}  bound {r['bound']}")
    C.say("\nmodel size, decode batch 1:")
    for r in rows:
        if r["study"] == "models":
            where = f"{r['arch']}" + ((f" 3-die package, {r['policy']}" if r["aimc_chips"] == PACKAGE
                                       else " enough dies") if r["arch"] == ARCH else "")
            extra = f"  needs {r['chips_needed']} dies" if r["arch"] == ARCH else ""
            fit = "" if r.get("fits", True) else "  (does not fit)"
            C.say(f"  {r['model']:>13} {where:32s} {r['tokens_per_s']:10.4g} tok/s "
                  f"{r['energy_per_token_j']:9.3g} J/token{extra}{fit}")
    C.say(f"\ntraining step, {TRAIN_MODEL}, {TRAIN_BATCH} x {TRAIN_SEQ} tokens:")
    for r in trows:
        if r["study"] == "step":
            C.say(f"  {r['case']:38s} {r['step_s']:8.3f} s/step {r['tokens_per_s']:8.0f} tok/s "
                  f"{r['energy_per_token_j'] * 1e3:7.2f} mJ/token"
                  + (f"  update {r['update_share']:.0%}, lifetime {r['lifetime_steps']:.3g} steps"
                     if r["arch"] == ARCH else ""))
    for r in trows:
        if r["study"] == "endurance" and r["tokens_per_step"] in (4096, 2 ** 20):
            C.say(f"  {r['model']:>13} {r['verify_iters']:2d} iters, {r['tokens_per_step']:>8d} tokens/step: "
                  f"endurance needed {r['endurance_needed']:.3g}, {r['days_to_train']:.3g} days")
