"""Device and edge: which model sizes (0.5B..72B, dense and MoE, fp16 / int8 / int4 weights)
reach interactive decode speed (10 and 30 tokens/s) and fit memory on a phone SoC
(phone-lpddr5x), a laptop/desktop SoC (apple-m2-ultra), an edge box (jetson-agx-orin-64g) and an
analog in-memory-compute package (aimc-edge-projected, as built: 3 dies; weights beyond its tiles
run on its digital unit from LPDDR5X, the hybrid mapping), with energy per token;
and a WHAT-IF: the phone with near-memory compute in its LPDDR5X (phone-lpddr5x-pim, written
to the output folder as a TOML; not a product, every PIM number an estimate, see its [sources]).

Decode, batch 1, 2048 tokens in the KV cache. Weight-only quantization: activations and KV cache
fp16, weights fp16 / int8 / int4 (int4 and int8 are also the AIMC weight precision:
aimc_weight_bits = 4 or 8; fp16 weights cannot be held by the analog cells and are not
evaluated on AIMC). Writes points.csv, thresholds.csv, phone-lpddr5x-pim.toml and
device_edge.png/.svg.

    python experiments/device_edge.py [--quick] [--out DIR]
"""
from __future__ import annotations

from pathlib import Path

from . import common as C
from ...analysis.inference import analyze

from ...arch.loader import load_arch
from ...workload.model import load_model

NAME = "device_edge"
MODELS = ["qwen2-0.5b", "llama-3.2-1b", "llama-3.2-3b", "mistral-7b", "llama-3-8b",
          "llama-2-13b", "mixtral-8x7b", "llama-3-70b", "qwen2-72b"]
QUICK_MODELS = ["llama-3.2-1b", "llama-3-8b", "llama-3-70b"]
DTYPES = ["fp16", "int8", "int4"]
THRESHOLDS = (10.0, 30.0)
CONTEXT = 2048
WHATIF = "phone-lpddr5x-pim"
DEVICES = [("phone SoC", "phone-lpddr5x"),
           ("phone SoC + LPDDR5X-PIM (what-if)", WHATIF),
           ("laptop/desktop SoC", "apple-m2-ultra"),
           ("edge box", "jetson-agx-orin-64g"),
           ("AIMC package", "aimc-edge-projected")]
DT_COLORS = {"fp16": "tab:blue", "int8": "tab:orange", "int4": "tab:green"}

# The what-if: the phone preset with processing units in its LPDDR5X banks, organised like
# Samsung's HBM-PIM (a 16-lane FP16 unit per bank pair at the HBM-PIM column rate) on the
# LPDDR5X organisation of a 16 GB / 64-bit phone memory. Not a product.
WHATIF_TOML = '''# WHAT-IF, not a product: phone-lpddr5x with near-memory compute in its LPDDR5X.
# Written by experiments/device_edge.py. Samsung has shown LPDDR5-PIM only as a simulation /
# concept (Hot Chips 33, 2021: "more than double performance, over 60 % less energy" on speech,
# translation and chatbot workloads; Hot Chips 2023: LPDDR-PIM); no organisation or timing is
# published, so every PIM value below is an estimate: HBM-PIM's processing unit (Lee et al.,
# ISCA 2021) placed on a JEDEC LPDDR5X organisation.
name = "{name}"
base = "phone-lpddr5x"
family = "pim"
vendor = "what-if (nmc experiments/device_edge.py)"
year = 2026
summary = "WHAT-IF: phone SoC with HBM-PIM-style units in 16 GB LPDDR5X (64 bank-pair units, ~8x internal bandwidth)"

[memory]
mem_type = "LPDDR5X-9600 + PIM (what-if)"

[pim_org]
pim_devices = 1
pim_channels = 8
pim_bank_groups = 4
pim_banks = 16
pim_page = "2 KiB"
pim_burst = "32 B"
pim_pins = 64
pim_io_rate = "9.6 Gb/s"
pim_capacity = "16 GiB"
pim_locality = 1.0

[pim_timing]
pim_tccd = "3.333 ns"
pim_trcd = "18 ns"
pim_trp = "18 ns"
pim_tras = "42 ns"
pim_refresh = 0.072

[pim_compute]
pim_banks_per_unit = 2
pim_unit_flops = "9.6 GFLOPS"
pim_buffer = "512 B"

[pim_host]
pim_kernel_overhead = "2 us"
pim_mode_switch = "0.2 us"
pim_broadcast = 0

[pim_energy]
pim_e_bank = "0.44 pJ/bit"
pim_e_act = "0.11 pJ/bit"
pim_e_io = "4.5 pJ/bit"
pim_e_flop = "1.0 pJ/FLOP"

[sources]
pim_devices = {{ ref = "what-if: the phone's whole LPDDR5X as one PIM memory", confidence = "estimate" }}
pim_channels = {{ ref = "what-if: 64-bit bus = 4 x16 channels, 2 dies (ranks) each for 16 GB of 16 Gb dies; every die's banks carry units", confidence = "estimate" }}
pim_bank_groups = {{ ref = "JEDEC LPDDR5/5X (JESD209-5): bank-group mode, 4 bank groups x 4 banks", confidence = "medium" }}
pim_banks = {{ ref = "JEDEC LPDDR5/5X (JESD209-5): 16 banks per channel", confidence = "medium" }}
pim_page = {{ ref = "JEDEC LPDDR5 x16: 2 KB page", confidence = "medium" }}
pim_burst = {{ ref = "LPDDR5 x16 BL16 = 32 B per column access; as HBM-PIM's 256-bit unit access (Lee et al., ISCA 2021)", confidence = "estimate" }}
pim_pins = {{ ref = "phone-lpddr5x: 64-bit LPDDR5X bus", confidence = "medium" }}
pim_io_rate = {{ ref = "phone-lpddr5x: LPDDR5X-9600 (76.8 GB/s over 64 pins)", confidence = "medium" }}
pim_capacity = {{ ref = "phone-lpddr5x: 16 GB", confidence = "estimate" }}
pim_locality = {{ ref = "assumption: weights laid out in whole rows (as the HBM-PIM GEMV layout)", confidence = "estimate" }}
pim_tccd = {{ ref = "what-if: HBM-PIM's unit column rate (300 MHz, one 256-bit access per 3.33 ns; Lee et al., ISCA 2021) -> 64 units x 32 B / 3.33 ns = 614 GB/s = 8x the 76.8 GB/s bus", confidence = "estimate" }}
pim_trcd = {{ ref = "JEDEC LPDDR5: tRCD 18 ns (typical speed-bin value)", confidence = "medium" }}
pim_trp = {{ ref = "JEDEC LPDDR5: tRPpb 18 ns", confidence = "medium" }}
pim_tras = {{ ref = "JEDEC LPDDR5: tRAS 42 ns", confidence = "medium" }}
pim_refresh = {{ ref = "estimate: tRFCab 280 ns / tREFI 3.9 us (16 Gb LPDDR5)", confidence = "estimate" }}
pim_banks_per_unit = {{ ref = "what-if: HBM-PIM's bank-pair unit (Lee et al., ISCA 2021)", confidence = "estimate" }}
pim_unit_flops = {{ ref = "what-if: HBM-PIM unit, 16-lane FP16 MAC at 300 MHz = 9.6 GFLOPS (Lee et al., ISCA 2021)", confidence = "estimate" }}
pim_buffer = {{ ref = "what-if: HBM-PIM GRF, 16 x 256 bit (Lee et al., ISCA 2021)", confidence = "estimate" }}
pim_kernel_overhead = {{ ref = "estimate: as the hbm-pim preset (PIM microkernel programming + barrier)", confidence = "estimate" }}
pim_mode_switch = {{ ref = "estimate: as the hbm-pim preset (mode-register command sequence)", confidence = "estimate" }}
pim_broadcast = {{ ref = "assumption: input vectors written per channel (no buffer die in LPDDR)", confidence = "estimate" }}
pim_e_bank = {{ ref = "estimate: in-bank read 0.44 pJ/bit as HBM2 (O'Connor et al., MICRO 2017)", confidence = "estimate" }}
pim_e_act = {{ ref = "estimate: ACT/PRE 0.11 pJ/bit as HBM2 (O'Connor et al., MICRO 2017)", confidence = "estimate" }}
pim_e_io = {{ ref = "phone-lpddr5x e_mem: LPDDR5X ~4.5 pJ/bit including I/O (estimate)", confidence = "estimate" }}
pim_e_flop = {{ ref = "estimate: as the hbm-pim preset, FP16 MAC in a DRAM process", confidence = "estimate" }}
'''


def write_whatif(out: Path) -> Path:
    p = out / f"{WHATIF}.toml"
    p.write_text(WHATIF_TOML.format(name=WHATIF))
    return p


def evaluate(quick: bool, whatif: Path) -> list[dict]:
    rows = []
    models = QUICK_MODELS if quick else MODELS
    archs = {a: load_arch(whatif if a == WHATIF else a) for _, a in DEVICES}
    for label, name in DEVICES:
        arch = archs[name]
        for m in models:
            spec = load_model(m)
            for dt in DTYPES:
                over = {}
                if arch.family == "aimc":
                    if dt == "fp16":
                        continue
                    over["aimc_weight_bits"] = 4 if dt == "int4" else 8
                r = analyze(spec, arch, phase="decode", batch=1, context=CONTEXT, weights=dt,
                                activations="fp16", kv="fp16", **over)
                tps = r.tokens_per_s
                rows.append({"device": label, "arch": name, "model": m,
                             "moe": spec.n_experts > 1 if hasattr(spec, "n_experts") else False,
                             "params_b": spec.params() / 1e9,
                             "active_params_b": spec.params(active=True) / 1e9, "weights": dt,
                             "tokens_per_s": tps, "latency_ms": r.latency_s * 1e3,
                             "energy_per_token_j": r.energy_per_token_j,
                             "memory_gb": r.memory_bytes / 1e9,
                             "usable_gb": arch["mem_capacity"] * arch["mem_usable"] / 1e9,
                             "fits": r.fits, "bound": r.bound,
                             "interactive_10": r.fits and tps >= THRESHOLDS[0],
                             "interactive_30": r.fits and tps >= THRESHOLDS[1],
                             "aimc_reprogram": bool(r.results.get("aimc_reprogram") or False),
                             "aimc_resident": r.results.get("aimc_resident_fraction")})
    return rows


def thresholds(rows) -> list[dict]:
    """Per device and weight dtype: the largest model (total parameters) that fits and reaches
    10 / 30 tokens/s, and the largest that fits at all."""
    out = []
    for label, name in DEVICES:
        for dt in DTYPES:
            sel = [r for r in rows if r["arch"] == name and r["weights"] == dt]
            if not sel:
                continue

            def biggest(pred, sel=sel):
                ok = [r for r in sel if pred(r)]
                return max(ok, key=lambda r: r["params_b"]) if ok else None
            f, t10, t30 = biggest(lambda r: r["fits"]), biggest(lambda r: r["interactive_10"]), \
                biggest(lambda r: r["interactive_30"])
            out.append({"device": label, "arch": name, "weights": dt,
                        "largest_fitting": f["model"] if f else "none",
                        "largest_at_10_tok_s": t10["model"] if t10 else "none",
                        "tok_s_there_10": t10["tokens_per_s"] if t10 else float("nan"),
                        "largest_at_30_tok_s": t30["model"] if t30 else "none",
                        "tok_s_there_30": t30["tokens_per_s"] if t30 else float("nan")})
    return out


def figure(rows, path, svg=True):
    plt = C.plt
    fig, axes = plt.subplots(2, 3, figsize=(19, 10.5), sharey=False)
    for ax, (label, name) in zip(axes.flat, DEVICES):
        for dt in DTYPES:
            sel = sorted((r for r in rows if r["arch"] == name and r["weights"] == dt),
                         key=lambda r: r["params_b"])
            if not sel:
                continue
            col = DT_COLORS[dt]
            ax.plot([r["params_b"] for r in sel], [r["tokens_per_s"] for r in sel], "-", color=col,
                    label=f"{dt} weights", alpha=0.8)
            for r in sel:
                ax.plot(r["params_b"], r["tokens_per_s"], "s" if r["moe"] else "o", color=col,
                        mfc=col if r["fits"] else "white", ms=7)
        for th, ls in zip(THRESHOLDS, ("--", ":")):
            ax.axhline(th, color="0.3", ls=ls, lw=1)
            ax.text(0.01, th * 1.08, f"{th:g} tok/s", fontsize=7, color="0.3",
                    transform=ax.get_yaxis_transform())      # x in axes fraction, y in data
        arch = load_arch(path.parent / f"{WHATIF}.toml") if name == WHATIF else load_arch(name)
        ax.set(xscale="log", yscale="log", xlabel="model parameters (billions, total)",
               ylabel="decode tokens/s (batch 1, context 2048)",
               title=f"{label}: {name}\n{arch['mem_bw'] / 1e9:.4g} GB/s, "
                     f"{arch['mem_capacity'] * arch['mem_usable'] / 1e9:.3g} GB usable")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    ax = axes.flat[5]
    for (label, name), mk in zip(DEVICES, ("o", "P", "D", "^", "v")):
        dt = "int4"
        sel = sorted((r for r in rows if r["arch"] == name and r["weights"] == dt),
                     key=lambda r: r["params_b"])
        ln, = ax.plot([r["params_b"] for r in sel], [r["energy_per_token_j"] * 1e3 for r in sel],
                      "-", label=name)
        for r in sel:
            ax.plot(r["params_b"], r["energy_per_token_j"] * 1e3, mk, color=ln.get_color(),
                    mfc=ln.get_color() if r["fits"] else "white", ms=6)
    ax.set(xscale="log", yscale="log", xlabel="model parameters (billions, total)",
           ylabel="energy per token (mJ)", title="energy per token, int4 weights")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle("Which models run interactively on-device? decode tokens/s vs model size "
                 "(hollow = does not fit memory; square = MoE mixtral-8x7b, plotted at total "
                 "parameters; dashed 10 and dotted 30 tokens/s)", fontsize=11)
    C.lean_log_ticks(fig)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return C.save(fig, path, svg)


def headline(rows, th) -> dict:
    C.say(f"== {NAME}: decode batch 1, context {CONTEXT}, weight-only quantization")
    for t in th:
        C.say(f"  {t['arch']:22s} {t['weights']:5s} largest fitting {t['largest_fitting']:13s} "
              f">=10 tok/s: {t['largest_at_10_tok_s']:13s} ({C.fmt(t['tok_s_there_10'])})  "
              f">=30 tok/s: {t['largest_at_30_tok_s']:13s} ({C.fmt(t['tok_s_there_30'])})")
    ref = [r for r in rows if r["model"] == "llama-3-8b" and r["weights"] == "int4"]
    C.say("  llama-3-8b int4: " + "; ".join(
        f"{r['arch']} {r['tokens_per_s']:.3g} tok/s {r['energy_per_token_j'] * 1e3:.3g} mJ/token"
        f"{'' if r['fits'] else ' (does not fit)'}" for r in ref))
    base = {r["model"] + r["weights"]: r for r in rows if r["arch"] == "phone-lpddr5x"}
    gains = [(r["model"], r["weights"], r["tokens_per_s"] / base[r["model"] + r["weights"]]["tokens_per_s"],
              base[r["model"] + r["weights"]]["energy_per_token_j"] / r["energy_per_token_j"])
             for r in rows if r["arch"] == WHATIF]
    for m, dt, g, e in gains:
        if m in ("llama-3.2-1b", "llama-3.2-3b", "llama-3-8b"):
            C.say(f"  what-if LPDDR5X-PIM vs phone, {m} {dt}: x{g:.3g} tokens/s, x{e:.3g} less energy/token")
    return {"thresholds": th, "whatif_gain": gains}


def run(quick: bool, out: Path) -> dict:
    whatif = write_whatif(out)
    rows = evaluate(quick, whatif)
    th = thresholds(rows)
    C.write_csv(rows, out / "points.csv")
    C.write_csv(th, out / "thresholds.csv")
    figs = figure(rows, out / "device_edge.png", svg=not quick)
    h = headline(rows, th)
    C.say("wrote " + ", ".join(map(str, [out / "points.csv", out / "thresholds.csv", whatif, *figs])))
    h["figures"] = figs
    return h
