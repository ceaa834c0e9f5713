#!/usr/bin/env python
"""Measure real kernels with PyTorch and write them as nmc measurement rows (kind = measured-here).

  python experiments/measure/measure_gpu.py --device cuda --arch h100-sxm --out /tmp/m [--quick]

Needs only torch (and the repository for models/llm/llama-3.2-1b.json and the CSV header). When
nmc imports (numpy, numba), it also prints measured vs predicted; otherwise run
`nmc validate --data OUT/measured_<arch>.csv -v` later. See experiments/measure/README.md.

What is measured (each a median over repeats, after warm-up; CUDA events on cuda, perf_counter
on cpu; every call in eager mode, no CUDA graphs unless the row says so):
  (a) GEMM  y = x @ W^T (torch.nn.functional.linear), x: M x K, W: N x K, over M and (N, K), in
      bf16 / fp16, and fp8 e4m3 via torch._scaled_mm (bf16 output) where the device supports it.
  (b) decode attention: scaled_dot_product_attention of one query token per sequence over a KV
      cache, 32 query heads on 8 KV heads (GQA), head_dim 128. GQA is packed: the 4 query heads
      of a group are the query-length axis of one KV head, q: (B, 8, 4, 128), k, v: (B, 8, L, 128),
      so the kernel reads the cache once, with no repeat_kv copy.
  (c) one decode step of a Llama-3.2-1B-shaped model with random weights in plain torch: RMSNorm,
      fused QKV projection, KV cache write, packed-GQA SDPA, output projection, SwiGLU MLP,
      final norm, tied LM head. NO RoPE (rotary embedding omitted: a few elementwise kernels).
  GEMM and attention operands rotate over enough copies (>= 256 MiB on cuda) that each call
  reads its weights / KV cache from DRAM, not from L2, as in a model's forward pass."""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import itertools
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
HEADER = ["id", "group", "system", "arch", "devices", "model", "weights", "activations", "kv",
          "phase", "batch", "prompt", "context", "output", "tp", "pp", "dp", "framework", "metric",
          "value", "unit", "kind", "split", "source", "notes"]
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

GEMM_M = (1, 8, 16, 64, 256, 1024, 4096)
GEMM_NK = ((4096, 4096), (14336, 4096), (4096, 14336))
ATT_KV = (512, 1024, 2048, 4096, 8192, 16384, 32768)
ATT_BATCH = (1, 8)
ATT_HEADS, ATT_KV_HEADS, ATT_HEAD_DIM = 32, 8, 128
MODEL_JSON = ROOT / "models" / "llm" / "llama-3.2-1b.json"
MODEL_NAME = "llama-3.2-1b"
MODEL_BATCH = (1, 8)
MODEL_CONTEXT = 1024


def header() -> list[str]:
    """The column order of models/measurements/gpu_inference.csv (the built-in list if absent)."""
    p = ROOT / "models" / "measurements" / "gpu_inference.csv"
    try:
        with open(p, newline="") as f:
            cols = next(csv.reader(f))
        if "id" in cols and "value" in cols:
            return cols
    except (OSError, StopIteration):
        pass
    return list(HEADER)


# ---- timing ------------------------------------------------------------------------------------
class Timer:
    def __init__(self, device: torch.device, repeats: int, warmup: int, target_s: float):
        self.device, self.repeats, self.warmup, self.target_s = device, repeats, warmup, target_s

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self, fn) -> tuple[float, int]:
        """Median seconds per call of fn() over `repeats` batches of `inner` back-to-back calls
        (inner chosen so a batch lasts about target_s); returns (seconds, inner)."""
        for _ in range(self.warmup):
            fn()
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        est = max(time.perf_counter() - t0, 1e-7)
        inner = max(1, min(500, int(self.target_s / est)))
        times = []
        for _ in range(self.repeats):
            if self.device.type == "cuda":
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(inner):
                    fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) * 1e-3 / inner)
            else:
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                times.append((time.perf_counter() - t0) / inner)
        return statistics.median(times), inner


def n_copies(bytes_per_set: int, device: torch.device, pool_bytes: int) -> int:
    """Copies of an operand set to rotate over so that their total exceeds the last-level cache."""
    if device.type != "cuda":
        return 1
    return max(1, min(256, math.ceil(pool_bytes / max(bytes_per_set, 1))))


def rotating(items):
    it = itertools.cycle(items)
    return lambda: next(it)


# ---- (a) GEMM ----------------------------------------------------------------------------------
def fp8_supported(device: torch.device) -> str | None:
    """None if torch._scaled_mm with float8_e4m3fn can run here, else the reason."""
    if device.type != "cuda":
        return "fp8 GEMM (torch._scaled_mm) needs a CUDA device"
    if not hasattr(torch, "_scaled_mm") or not hasattr(torch, "float8_e4m3fn"):
        return f"torch {torch.__version__} has no torch._scaled_mm / float8_e4m3fn"
    if torch.cuda.get_device_capability(device) < (8, 9):
        return f"compute capability {torch.cuda.get_device_capability(device)} < 8.9 (no fp8 MMA)"
    return None


def gemm_fn(M, N, K, dtype, device, pool_bytes):
    if dtype == "fp8":
        f8 = torch.float8_e4m3fn
        one = torch.ones((), device=device, dtype=torch.float32)
        nc = n_copies(N * K, device, pool_bytes)
        xs = [torch.randn(M, K, device=device).to(f8) for _ in range(nc)]
        ws = [torch.randn(N, K, device=device).to(f8) for _ in range(nc)]   # W^T: column-major
        nxt = rotating(list(zip(xs, ws)))

        def fn():
            x, w = nxt()
            return torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        fn()            # raises here on unsupported shapes (e.g. M not a multiple of 16)
        return fn
    dt = DTYPES[dtype]
    nc = n_copies(N * K * 2, device, pool_bytes)
    xs = [torch.randn(M, K, device=device, dtype=dt) for _ in range(nc)]
    ws = [torch.randn(N, K, device=device, dtype=dt) for _ in range(nc)]
    nxt = rotating(list(zip(xs, ws)))

    def fn():
        x, w = nxt()
        return F.linear(x, w)
    return fn


# ---- (b) decode attention ----------------------------------------------------------------------
def attention_fn(B, L, device, dtype, pool_bytes):
    h, hkv, hd = ATT_HEADS, ATT_KV_HEADS, ATT_HEAD_DIM
    g = h // hkv
    nc = n_copies(2 * B * hkv * L * hd * 2, device, pool_bytes)
    sets = [(torch.randn(B, hkv, g, hd, device=device, dtype=dtype),
             torch.randn(B, hkv, L, hd, device=device, dtype=dtype),
             torch.randn(B, hkv, L, hd, device=device, dtype=dtype)) for _ in range(nc)]
    nxt = rotating(sets)

    def fn():
        q, k, v = nxt()
        return F.scaled_dot_product_attention(q, k, v)
    return fn


# ---- (c) decode step of a small Llama-style model ----------------------------------------------
def rms_norm(x, w, eps):
    if hasattr(F, "rms_norm"):
        return F.rms_norm(x, (x.shape[-1],), w, eps)
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


class TinyLlama:
    """Llama-style decoder with random weights (no RoPE), fused QKV and gate/up weights,
    a preallocated KV cache per layer (B, kv_heads, max_len, head_dim)."""

    def __init__(self, cfg: dict, batch: int, max_len: int, device, dtype):
        self.d = d = cfg["hidden_size"]
        self.h = cfg["num_attention_heads"]
        self.hkv = cfg.get("num_key_value_heads", self.h)
        self.hd = cfg.get("head_dim", d // self.h)
        self.ff = cfg["intermediate_size"]
        self.L = cfg["num_hidden_layers"]
        self.eps = cfg.get("rms_norm_eps", 1e-5)
        V = cfg["vocab_size"]

        def w(*shape):
            return torch.empty(*shape, dtype=dtype, device=device).normal_(0.0, 0.02)
        q_out = (self.h + 2 * self.hkv) * self.hd
        self.emb = w(V, d)
        self.lm_head = self.emb if cfg.get("tie_word_embeddings") else w(V, d)
        self.layers = [dict(n1=torch.ones(d, dtype=dtype, device=device),
                            qkv=w(q_out, d), o=w(d, self.h * self.hd),
                            n2=torch.ones(d, dtype=dtype, device=device),
                            gu=w(2 * self.ff, d), down=w(d, self.ff),
                            k=torch.zeros(batch, self.hkv, max_len, self.hd, dtype=dtype, device=device),
                            v=torch.zeros(batch, self.hkv, max_len, self.hd, dtype=dtype, device=device))
                       for _ in range(self.L)]
        self.fnorm = torch.ones(d, dtype=dtype, device=device)
        self.batch = batch
        self.tokens = torch.randint(0, V, (batch, 1), device=device)

    def params(self) -> int:
        n = self.emb.numel() + (0 if self.lm_head is self.emb else self.lm_head.numel())
        return n + sum(t.numel() for ly in self.layers for k, t in ly.items() if k not in ("k", "v"))

    @torch.no_grad()
    def step(self, pos: int):
        """One decode step: the new token at position `pos` attends to pos + 1 cached positions."""
        B, h, hkv, hd = self.batch, self.h, self.hkv, self.hd
        g = h // hkv
        x = F.embedding(self.tokens, self.emb)                      # (B, 1, d)
        for ly in self.layers:
            y = rms_norm(x, ly["n1"], self.eps)
            qkv = F.linear(y, ly["qkv"])
            q, k, v = qkv.split((h * hd, hkv * hd, hkv * hd), dim=-1)
            ly["k"][:, :, pos] = k.view(B, hkv, hd)
            ly["v"][:, :, pos] = v.view(B, hkv, hd)
            q = q.view(B, hkv, g, hd)                               # packed GQA, one query token
            a = F.scaled_dot_product_attention(q, ly["k"][:, :, :pos + 1], ly["v"][:, :, :pos + 1])
            x = x + F.linear(a.reshape(B, 1, h * hd), ly["o"])
            y = rms_norm(x, ly["n2"], self.eps)
            gate, up = F.linear(y, ly["gu"]).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, ly["down"])
        return F.linear(rms_norm(x, self.fnorm, self.eps), self.lm_head)


def graphed(fn, device):
    """fn captured once as a CUDA graph; returns the replay callable."""
    s = torch.cuda.Stream(device)
    s.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream(device).wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g.replay


# ---- driver ------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--arch", required=True,
                    help="nmc preset this device corresponds to (e.g. h100-sxm), or a preset TOML path")
    ap.add_argument("--out", required=True, help="directory for measured_<arch>.csv")
    ap.add_argument("--quick", action="store_true", help="a few shapes only (smoke test)")
    ap.add_argument("--only", default="gemm,attention,model", help="comma list of gemm, attention, model")
    ap.add_argument("--repeats", type=int, help="timed repeats (default 20 on cuda, 3 on cpu)")
    ap.add_argument("--tag", default="", help="suffix for the row ids (keeps a re-run's ids unique)")
    ap.add_argument("--no-graph", action="store_true", help="skip the extra CUDA-graph model rows")
    ap.add_argument("--pool-mib", type=int, default=256,
                    help="rotate operand copies totalling at least this much (cuda; defeats L2)")
    args = ap.parse_args(argv)

    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda but torch.cuda.is_available() is False")
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    repeats = args.repeats or (20 if cuda else 3)
    timer = Timer(device, repeats, warmup=10 if cuda else 1, target_s=2e-3 if cuda else 0.05)
    pool = args.pool_mib << 20
    only = {s.strip() for s in args.only.split(",")}
    torch.manual_seed(0)
    torch.set_grad_enabled(False)

    system = torch.cuda.get_device_name(device) if cuda else \
        f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"
    date = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")
    tv = torch.__version__
    common = dict(group="gpu-kernel", system=system, arch=args.arch, devices=1, tp=1, pp=1, dp=1,
                  framework=f"PyTorch {tv} eager", kind="measured-here", split="evaluation",
                  source=f"experiments/measure/measure_gpu.py on {system} {date}, torch {tv}")
    timing = (f"median of {repeats} repeats after warm-up, " +
              ("CUDA events" if cuda else "time.perf_counter") +
              (f", operands rotated over >= {args.pool_mib} MiB (cold L2)" if cuda else ""))
    rows, skipped, extra = [], [], {}
    arch_slug = Path(args.arch).stem if args.arch.endswith(".toml") else args.arch   # preset file
    slug = f"{arch_slug}-{args.tag}" if args.tag else arch_slug

    def add(row_id, info=None, **kw):
        rows.append({**common, "id": row_id, **kw})
        extra[row_id] = info or {}
        r = rows[-1]
        print(f"  {row_id:58s} {r['value']:12.4f} {r['metric']}", flush=True)

    # (a) GEMM
    if "gemm" in only:
        Ms = (1, 16, 256) if args.quick else GEMM_M
        NKs = GEMM_NK[:1] if args.quick else GEMM_NK
        dts = ["bf16", "fp16"]
        why8 = fp8_supported(device)
        if why8 is None:
            dts.append("fp8")
        else:
            skipped.append(("gemm fp8", why8))
        print(f"GEMM on {system}")
        for dt, (N, K), M in itertools.product(dts, NKs, Ms):
            try:
                fn = gemm_fn(M, N, K, dt, device, pool)
            except (RuntimeError, ValueError) as e:
                skipped.append((f"gemm {dt} M={M} N={N} K={K}", str(e).splitlines()[0][:160]))
                continue
            t, inner = timer(fn)
            fw = common["framework"] + (" torch._scaled_mm" if dt == "fp8" else " F.linear")
            add(f"here-{slug}-gemm-{dt}-m{M}-n{N}-k{K}", {"flops": 2.0 * M * N * K},
                model="gemm", weights=dt, activations=dt, phase="kernel", batch=M,
                framework=fw, metric="latency_ms", value=t * 1e3, unit="ms per call",
                notes=f"N={N},K={K}; y = x @ W^T with x {M}x{K}, W {N}x{K}"
                      + ("; fp8 e4m3 operands, unit scales, bf16 output" if dt == "fp8" else "")
                      + f"; {timing}, {inner} calls per repeat")
            del fn
        if cuda:
            torch.cuda.empty_cache()

    # (b) decode attention
    if "attention" in only:
        Ls = (512, 4096) if args.quick else ATT_KV
        print(f"decode attention (SDPA) on {system}")
        for B, L in itertools.product(ATT_BATCH, Ls):
            try:
                fn = attention_fn(B, L, device, torch.bfloat16, pool)
                t, inner = timer(fn)
            except (RuntimeError, ValueError) as e:
                skipped.append((f"attention B={B} L={L}", str(e).splitlines()[0][:160]))
                continue
            g = ATT_HEADS // ATT_KV_HEADS
            add(f"here-{slug}-sdpa-decode-bf16-b{B}-kv{L}", {"flops": 4.0 * B * ATT_HEADS * ATT_HEAD_DIM * L},
                model="attention-decode", weights="", activations="bf16", kv="bf16",
                phase="kernel", batch=B, context=L,
                framework=common["framework"] + " F.scaled_dot_product_attention",
                metric="latency_ms", value=t * 1e3, unit="ms per call",
                notes=f"heads={ATT_HEADS},kv_heads={ATT_KV_HEADS},head_dim={ATT_HEAD_DIM}; "
                      f"one query token per sequence over {L} KV positions; GQA packed as "
                      f"q ({B},{ATT_KV_HEADS},{g},{ATT_HEAD_DIM}), k/v ({B},{ATT_KV_HEADS},{L},"
                      f"{ATT_HEAD_DIM}); no KV append; {timing}, {inner} calls per repeat")
            del fn
        if cuda:
            torch.cuda.empty_cache()

    # (c) decode step of a Llama-3.2-1B-shaped model
    if "model" in only:
        cfg = json.loads(MODEL_JSON.read_text())
        print(f"{MODEL_NAME} decode step (random weights, no RoPE) on {system}")
        for B in MODEL_BATCH:
            try:
                m = TinyLlama(cfg, B, MODEL_CONTEXT + 1, device, torch.bfloat16)
            except (RuntimeError, MemoryError) as e:
                skipped.append((f"model B={B}", str(e).splitlines()[0][:160]))
                continue

            def step(m=m):
                return m.step(MODEL_CONTEXT)
            variants = [("eager", step)]
            if cuda and not args.no_graph:
                try:
                    variants.append(("cudagraph", graphed(step, device)))
                except Exception as e:          # noqa: BLE001 - capture support varies
                    skipped.append((f"model B={B} cudagraph", str(e).splitlines()[0][:160]))
            for mode, fn in variants:
                t, inner = timer(fn)
                fw = (f"PyTorch {tv} eager" if mode == "eager" else
                      f"PyTorch {tv} eager ops replayed as one CUDA graph")
                add(f"here-{slug}-{MODEL_NAME}-decode-{mode}-b{B}-c{MODEL_CONTEXT}", {},
                    group="gpu-decode", model=MODEL_NAME, weights="bf16", activations="bf16",
                    kv="bf16", phase="decode", batch=B, context=MODEL_CONTEXT, framework=fw,
                    metric="ms_per_token", value=t * 1e3, unit="ms per decode step (batch)",
                    notes=f"random weights ({m.params() / 1e9:.2f} B params), NO RoPE; RMSNorm "
                          f"({'F.rms_norm' if hasattr(F, 'rms_norm') else 'manual'}), fused QKV "
                          f"and gate/up weights, KV cache write at position {MODEL_CONTEXT}, "
                          f"packed-GQA SDPA over {MODEL_CONTEXT + 1} positions, SwiGLU, tied LM "
                          f"head over all {cfg['vocab_size']} logits; one step of batch {B}; "
                          f"{timing.split(', operands')[0]}, {inner} steps per repeat")
            del m, variants
            if cuda:
                torch.cuda.empty_cache()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"measured_{arch_slug}.csv"
    cols = header()
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        wr.writeheader()
        for r in rows:
            wr.writerow({c: ("" if r.get(c) is None else
                             (f"{r[c]:.6g}" if isinstance(r.get(c), float) else r[c])) for c in cols})
    print(f"\nwrote {len(rows)} rows to {path}")
    for what, why in skipped:
        print(f"  not measured: {what}: {why}")
    compare(path, rows, extra)
    return 0


def compare(path: Path, rows: list[dict], extra: dict) -> None:
    """Measured vs nmc predicted, when nmc imports here."""
    try:
        sys.path.insert(0, str(ROOT))
        from nmc import measurements, validate
    except Exception as e:                          # noqa: BLE001 - e.g. numba missing on the device
        print(f"\nnmc not importable here ({type(e).__name__}: {e}); compare later with\n"
              f"  nmc validate --data {path} -v")
        return
    try:
        res = validate.run(measurements.load([path]))
    except Exception as e:                          # noqa: BLE001 - the CSV is written already
        print(f"\nnmc could not predict {path}: {type(e).__name__}: {e}")
        return
    pred = {r["id"]: r for r in res["rows"]}
    print(f"\n{'row':58s} {'measured':>10s} {'nmc':>10s} {'nmc/meas':>8s} {'meas TFLOP/s':>12s}")
    for r in rows:
        p = pred.get(r["id"])
        fl = extra.get(r["id"], {}).get("flops")
        tf = f"{fl / (r['value'] * 1e-3) / 1e12:12.2f}" if fl and r["metric"] == "latency_ms" else ""
        if p:
            print(f"{r['id']:58s} {r['value']:10.4f} {p['predicted']:10.4f} {p['ratio']:8.2f} {tf}")
        else:
            print(f"{r['id']:58s} {r['value']:10.4f} {'-':>10s} {'':8s} {tf}")
    for s in res["skipped"]:
        print(f"  not predicted: {s['id']}: {s['reason']}")
    for g, s in res["groups"].items():
        print(f"{g}: n={s['n']} median APE {s['median_ape']:.1%}, median nmc/measured "
              f"{s['median_ratio']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
