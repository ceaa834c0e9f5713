"""One serving iteration as one pass: the operator table of a mixed prefill + decode batch from
its aggregates, priced by the same pass loop as every other pass (passes.cost_pass).

A continuous-batching server runs, per iteration, some sequences that add one token each
(decode) and some that add a chunk of their prompt (prefill). The table is built from five
aggregates (layout AG_*):

  tokens  T = sum of new tokens        -> every GEMM, norm, elementwise op, MoE routing, TP
                                          all-reduce (they see T rows; build_ops with b=1, q=T)
  seqs    b = sequences in the pass    -> attention groups (b x KV heads)
  logits  sequences that emit a token  -> final norm and LM head (a prefill chunk that does not
                                          end its prompt emits none)
  span    sum of (cached + new) tokens -> KV bytes read (exact: linear in span)
  pairs   sum of causal query-key pairs-> attention FLOPs (exact: linear in pairs)

Attention is one fused kernel over the b sequences with the per-sequence means q = T/b,
span/b and pairs/b (ops.attention_rows): FLOPs and KV bytes are exact sums, the tile count of
the shape efficiency uses the means (docs/serving.md, "Iteration pricing"). For a uniform
batch (every sequence the same q and cached length c) the table equals build_ops(b, q, c) bit
for bit, so a pure decode iteration costs what nmc.analyze(phase="decode") reports and a pure
prefill what analyze(phase="prefill") reports (tests/test_serving_engine.py).

price_decode is the event loop's fast path for a pure decode iteration on a host-only arch:
the time of a pass is a sum over its operator rows (passes.cost_host), so the rows that see
only the n tokens (GEMMs, norms, LM head, all-reduce) are priced once per batch size n and kept,
and only the attention rows, which see the KV cache, are priced every iteration. The sum equals
price_batch of the whole table to rounding (1e-12, tests/test_serving_engine.py). On PIM and
AIMC systems the engine of a row depends on the whole pass, so every pass is priced whole."""
import numpy as np
from numba import njit

from .layout import (
    ACC_ENERGY, AG_LOGITS, AG_PAIRS, AG_SEQS, AG_SPAN, AG_TOKENS, DT_BYTES, K_LMHEAD, K_NORM,
    M_D, M_VOCAB, N_ACC, N_AG, N_OF, N_PREP, N_PX, N_SLOTS, N_TERMS, O_COUNT, O_KERNELS, O_KIND,
    OP_CONTEXT, OP_FNORM, OP_KVB, OP_LMHEAD, OP_SCORE, OP_SOFTMAX, S_ADT, S_DEQUANT, S_EP,
    S_KVDT, S_RUNTIME, S_TP, S_WDT,
)
from .ops import NORM_FLOPS, _gemm_row, _vec_row, attention_rows, build_ops
from .passes import cost_pass, is_host_only


@njit(cache=True)
def build_mixed_ops(m, agg, tp, wdt, adt, kvdt, rt, dq, ops, ep=1.0):
    """Operator table of one pass per device over a mixed batch described by agg[AG_*] (module
    doc), in runtime mode rt with dq ALU ops per de-quantized weight; with expert parallelism
    (ep > 1) each of the ep data-parallel groups runs 1/ep of the batch (ops.build_ops)."""
    T = agg[AG_TOKENS]
    b = agg[AG_SEQS]
    n_out = agg[AG_LOGITS] / ep
    build_ops(m, 1.0, T, 0.0, tp, wdt, adt, kvdt, rt, ops, dq, ep)   # token-wise rows: T / ep
    attention_rows(ops, m, b / ep, T / b, agg[AG_SPAN] / b, agg[AG_PAIRS] / b, tp, wdt, adt,
                   kvdt, rt)
    ab = DT_BYTES[int(adt)]
    wb = DT_BYTES[int(wdt)]
    d = m[M_D]
    if n_out > 0.0:
        k_norm = ops[OP_FNORM, O_KERNELS]   # kernels of the runtime mode (build_ops set them)
        _vec_row(ops[OP_FNORM], float(K_NORM), 1.0, n_out * d, n_out * d, NORM_FLOPS * n_out * d,
                 d * ab, ab)
        ops[OP_FNORM, O_KERNELS] = k_norm
        _gemm_row(ops[OP_LMHEAD], 1.0, n_out, m[M_VOCAB] / tp, d, 1.0, wb, ab, adt, 1.0)
        ops[OP_LMHEAD, O_KIND] = K_LMHEAD
    else:                                   # only partial prefill chunks: no token out
        ops[OP_FNORM, O_COUNT] = 0.0
        ops[OP_LMHEAD, O_COUNT] = 0.0


@njit(cache=True)     # not inlined: one compiled cost_pass for the event loop's three
def pass_cost(ops, a, s, terms, acc, prep, px):     # call sites (~6 s of a cold `nmc serve`)
    """cost_pass of a serving pass: every engine compiled in (the arch vector chooses), the
    host structure stage redone, no per-operator terms kept."""
    return cost_pass(ops, a, s, terms, acc, prep, px, True, False, True, True, True)


@njit(cache=True, inline="always")
def price_batch(m, s, a, agg, ops, terms, acc, prep, px):
    """(time, dynamic energy of the tp devices) of one pass over the batch agg[AG_*] with the
    replica's scenario vector s (tp, dtypes, PIM mapping) on arch vector a."""
    ep = max(s[S_EP], 1.0)
    build_mixed_ops(m, agg, s[S_TP], s[S_WDT], s[S_ADT], s[S_KVDT], s[S_RUNTIME], s[S_DEQUANT],
                    ops, ep)
    for k in range(N_ACC):
        acc[k] = 0.0
    t = pass_cost(ops, a, s, terms, acc, prep, px)
    return t, acc[ACC_ENERGY] * s[S_TP] * ep


@njit(cache=True, inline="always")
def pricing_scratch():
    """The scratch of price_batch / price_decode for the two Python entries below: (ops, att,
    terms, acc, prep, px, agg); att holds the attention rows of a pure decode pass (zeros
    elsewhere). The event loop (serve_loop.simulate) allocates its own: with this helper and a
    shared decode-and-preempt helper it measured 3-8 % slower in `nmc bench --serve`."""
    return (np.zeros((N_SLOTS, N_OF)), np.zeros((N_SLOTS, N_OF)), np.zeros((N_SLOTS, N_TERMS)),
            np.zeros(N_ACC), np.zeros((N_PREP, N_SLOTS)), np.zeros(N_PX), np.zeros(N_AG))


@njit(cache=True)
def price_batches(m, s, a, aggs, out):
    """price_batch for each row of aggs[n, N_AG] into out[n, 2] (time, energy): the Python
    API's entry (tests, lookup tables); the event loop calls price_batch directly."""
    ops, _, terms, acc, prep, px, agg = pricing_scratch()
    for i in range(aggs.shape[0]):
        for k in range(N_AG):
            agg[k] = aggs[i, k]
        t, e = price_batch(m, s, a, agg, ops, terms, acc, prep, px)
        out[i, 0] = t
        out[i, 1] = e


@njit(cache=True, inline="always")
def price_decode(m, s, a, n, span, ops, att, terms, acc, prep, px, memo, agg):
    """(time, dynamic energy) of a pure decode pass of n sequences whose cached + new tokens sum
    to span, on a host-only arch (module doc). memo[n] holds (time, energy) of the token-wise
    rows for n (memo[n, 0] < 0: not yet priced); att is a table whose only non-zero rows are the
    attention rows (zeros elsewhere), ops scratch for the memo's table."""
    tp = s[S_TP]
    ep = max(s[S_EP], 1.0)
    if memo[n, 0] < 0.0:
        agg[AG_TOKENS] = n
        agg[AG_SEQS] = n
        agg[AG_LOGITS] = n
        agg[AG_SPAN] = n
        agg[AG_PAIRS] = n
        build_mixed_ops(m, agg, tp, s[S_WDT], s[S_ADT], s[S_KVDT], s[S_RUNTIME], s[S_DEQUANT],
                        ops, ep)
        ops[OP_SCORE, O_COUNT] = 0.0
        ops[OP_SOFTMAX, O_COUNT] = 0.0
        ops[OP_CONTEXT, O_COUNT] = 0.0
        ops[OP_KVB, O_COUNT] = 0.0          # MLA's kv_up_proj: attention_rows writes it (att)
        for k in range(N_ACC):
            acc[k] = 0.0
        memo[n, 0] = pass_cost(ops, a, s, terms, acc, prep, px)
        memo[n, 1] = acc[ACC_ENERGY] * tp * ep
    c = span / n
    attention_rows(att, m, n / ep, 1.0, c, c, tp, s[S_WDT], s[S_ADT], s[S_KVDT], s[S_RUNTIME])
    for k in range(N_ACC):
        acc[k] = 0.0
    t = pass_cost(att, a, s, terms, acc, prep, px)
    return memo[n, 0] + t, memo[n, 1] + acc[ACC_ENERGY] * tp * ep


@njit(cache=True)
def price_decodes(m, s, a, ns, spans, out):
    """price_decode for each (ns[i], spans[i]) into out[i] (time, energy): for tests."""
    ops, att, terms, acc, prep, px, agg = pricing_scratch()
    memo = np.full((int(ns.max()) + 1, 2), -1.0)
    for i in range(ns.shape[0]):
        t, e = price_decode(m, s, a, int(ns[i]), spans[i], ops, att, terms, acc, prep, px,
                            memo, agg)
        out[i, 0] = t
        out[i, 1] = e


@njit(cache=True, inline="always")
def host_only(a):
    return is_host_only(a)
