"""Operator table of one forward pass of a decoder LLM (docs/model.md, "Workload").

build_ops(m, b, q, c, tp, wdt, adt, kvdt, rt, ops) fills ops[N_SLOTS, N_OF] for `b` sequences
that each add `q` new tokens on top of `c` cached ones, on one of `tp` tensor-parallel devices,
with the kernels of runtime mode rt (KERNELS below). Every quantity is per device and per
instance; O_COUNT says how many instances run (layers)."""
import math

from numba import njit

from .layout import (
    COLL_CODE_ALLREDUCE, COLL_CODE_ALLTOALL, DT_BYTES, K_COMM, K_CONTEXT, K_ELTWISE, K_EMBED, K_GEMM, K_LMHEAD, K_NORM, K_SCORE, K_SOFTMAX,
    M_D, M_DQK, M_DV, M_EXPERTS, M_FF, M_FFE, M_GATED, M_HEADS, M_KV_ELEMS, M_KV_HEADS,
    M_KV_SHARED, M_KVB_K, M_KVB_N, M_LAYERS, M_MOE_LAYERS, M_O_K, M_Q_OUT, M_SHARED_FF, M_TOPK,
    M_MLA_DQK, M_MLA_DV, M_PARAMS, M_Q_REP, M_NORMS, M_QK_NORM, M_VOCAB, N_OF, N_SLOTS, O_AIN, O_AOUT, O_COMM, O_COUNT, O_DTYPE, O_FLOPS, O_G, O_K, O_KERNELS,
    O_COLL, O_KIND, O_KVRD, O_KVWR, O_M, O_N, O_STATIC, O_STRIDE, O_TFRAC, O_W, OP_A2A, OP_ACT, OP_ALLREDUCE, OP_CONTEXT,
    OP_DOWN, OP_EACT, OP_EDOWN, OP_EMBED, OP_EUP, OP_FNORM, OP_KVB, OP_LMHEAD, OP_NORM1, OP_NORM2,
    OP_DEQUANT, OP_OPROJ, OP_QKV, OP_RESID, OP_ROPE, OP_ROUTER, OP_SCORE, OP_SDOWN, OP_SOFTMAX, OP_SUP, OP_UP,
)

# FLOPs per element of the vector ops (documented in docs/model.md)
NORM_FLOPS = 5.0        # square, sum, rsqrt share, scale, weight
SOFTMAX_FLOPS = 5.0     # max, subtract, exp, sum, scale
ACT_FLOPS = 5.0         # SiLU/GELU (~4) + gate multiply
ADD_FLOPS = 1.0
ROPE_FLOPS = 3.0        # per rotated element: two multiplies and an add of the rotation pair

# Kernels per operator instance in each runtime mode (docs/model.md, "Runtime modes"; sources in
# docs/sources/runtime.md): (eager, graphs, fused) for
#   norm     RMSNorm/LayerNorm: eager PyTorch ~7 elementwise/reduction kernels (to fp32, pow,
#            mean, rsqrt, mul, weight, cast); vLLM/SGLang fused_add_rmsnorm 1; TRT-LLM 1
#   resid    residual add: eager 1; folded into the fused add+norm kernel otherwise
#   rope     rotary embedding of q and k: eager ~8 (rotate_half: slice, neg, cat, mul, add, x2);
#            vLLM rotary_emb 1; TRT-LLM applies it inside the attention kernel: 0
#   qknorm   RMSNorm of every query and key head (Qwen3, Gemma-3: q_norm, k_norm): eager 2 x 7;
#            vLLM/SGLang two RMSNorm kernels; TRT-LLM one fusedQKNormRope kernel that also
#            applies the rotary embedding (the attention kernel then does not): 1
#   kvwrite  appending the new keys/values: eager 2 (k and v); vLLM reshape_and_cache 1; fused 0
#   act      SiLU x gate: eager 2; vLLM SiluAndMul 1; TRT-LLM fused into the GEMM epilogue 0
#   router   MoE gate GEMM + softmax/top-k: eager 4; fused top-k-softmax kernel 2; 2
# Eager also runs q, k, v and gate, up as separate GEMMs (HF transformers' modules), merged in
# the other modes (vLLM's QKVParallelLinear, MergedColumnParallelLinear).
K_NORM_RT = (7.0, 1.0, 1.0)
K_RESID_RT = (1.0, 0.0, 0.0)
K_ROPE_RT = (8.0, 1.0, 0.0)
K_QKNORM_RT = (14.0, 2.0, 1.0)
K_KVWRITE_RT = (2.0, 1.0, 0.0)
K_ACT_RT = (2.0, 1.0, 0.0)
K_ROUTER_RT = (4.0, 2.0, 2.0)


# The row writers are compiled once and called per row (ops[OP_X] is a view of that row):
# inlined at each of build_ops' ~20 rows, or wrapped in an inlined helper taking (ops, s), they
# cost ~1.3 s of a cold start (numba re-runs its front end on the inlined body at every site).
@njit(cache=True)
def _gemm_row(row, count, M, N, K, G, wb, ab, adt, static):
    """One operator row: count instances of an [M, K] x [K, N] product, G groups (weights wb,
    and activations ab bytes per element, compute dtype adt, static weights or not)."""
    row[O_COUNT] = count
    row[O_KIND] = K_GEMM
    row[O_M] = M
    row[O_N] = N
    row[O_K] = K
    row[O_G] = G
    row[O_FLOPS] = 2.0 * M * N * K * G
    row[O_W] = K * N * G * wb
    row[O_AIN] = M * K * G * ab
    row[O_AOUT] = M * N * G * ab
    row[O_DTYPE] = adt
    row[O_KERNELS] = 1.0
    row[O_STATIC] = static
    row[O_TFRAC] = 1.0


@njit(cache=True)
def _vec_row(row, kind, count, elems_in, elems_out, flops, wbytes, ab):
    """One operator row: count instances of an element-wise/vector operator of kind `kind` (a
    float: callers pass float(K_X), since a literal int would compile one variant per kind)."""
    row[O_COUNT] = count
    row[O_KIND] = kind
    row[O_M] = elems_out
    row[O_N] = 1.0
    row[O_K] = 1.0
    row[O_G] = 1.0
    row[O_FLOPS] = flops
    row[O_W] = wbytes
    row[O_AIN] = elems_in * ab
    row[O_AOUT] = elems_out * ab
    row[O_DTYPE] = 0.0
    row[O_KERNELS] = 1.0
    row[O_TFRAC] = 1.0


@njit(cache=True, inline="always")
def attention_rows(ops, m, b, q, span, pairs, tp, wdt, adt, kvdt, rt):
    """Rows attn_score, softmax, attn_context (and MLA's kv_up_proj) of `b` sequences that each
    add `q` new tokens, attend over `span` tokens (cached + new) and form `pairs` causal
    query-key pairs per head, with the KV-append kernels of runtime mode rt (build_ops:
    span = c + q, pairs = q c + q (q + 1) / 2; a mixed serving batch passes its per-sequence
    means, nmc/engine/serve.py).

    MLA (kv_shared) runs in two forms (docs/model.md, "MLA"): decode (q = 1) in the absorbed
    form, attention in the latent space over the shared latent cache (d_qk = latent + rope,
    d_v = latent) with the up-projection absorbed into the query side (kv_up_proj on the new
    tokens); prefill and training (q > 1) in the non-absorbed form of the checkpoint, as vLLM
    and SGLang run it: kv_up_proj expands the latents of all span tokens into per-head keys and
    values (nope + rope, v_head_dim), which attention reads like multi-head attention."""
    for i in (OP_KVB, OP_SCORE, OP_SOFTMAX, OP_CONTEXT):    # every column rewritten below
        for j in range(N_OF):
            ops[i, j] = 0.0
    ab = DT_BYTES[int(adt)]
    kvb = DT_BYTES[int(kvdt)]
    wb = DT_BYTES[int(wdt)]
    L = m[M_LAYERS]
    h = m[M_HEADS] / tp                         # query heads per device
    expand = m[M_KV_SHARED] > 0.5 and q > 1.0 and m[M_MLA_DQK] > 0.0
    if expand:                                  # MLA, non-absorbed: K and V per head
        hkv = h
        kv_elems = m[M_KV_ELEMS]                # the latent cache the pass appends to
        dqk = m[M_MLA_DQK]
        dv = m[M_MLA_DV]
    elif m[M_KV_SHARED] > 0.5:
        hkv = m[M_KV_HEADS]                     # latent cache replicated on every device
        kv_elems = m[M_KV_ELEMS]
        dqk = m[M_DQK]
        dv = m[M_DV]
    else:
        hkv = max(m[M_KV_HEADS] / tp, 1.0)      # kv heads are replicated when tp > n_kv_heads
        kv_elems = m[M_KV_ELEMS] * hkv / m[M_KV_HEADS]
        dqk = m[M_DQK]
        dv = m[M_DV]
    group = h / hkv
    if m[M_KVB_N] > 0:
        # MLA's kv_b_proj: absorbed, on the new tokens' queries; expanded, on every span token's
        # latent (the cached ones read from the KV cache)
        rows = b * span if expand else b * q
        _gemm_row(ops[OP_KVB], L, rows, m[M_KVB_N] / tp, m[M_KVB_K], 1.0, wb, ab, adt, 1.0)
    tfrac = pairs / (q * span)
    s = OP_SCORE
    ops[s, O_COUNT] = L
    ops[s, O_KIND] = K_SCORE
    ops[s, O_M] = q * group
    ops[s, O_N] = span
    ops[s, O_K] = dqk
    ops[s, O_G] = b * hkv
    ops[s, O_FLOPS] = 2.0 * b * h * dqk * pairs
    ops[s, O_AIN] = b * q * h * dqk * ab
    if expand:
        ops[s, O_KVRD] = b * span * hkv * dqk * ab          # expanded keys (kv_up_proj's output)
    elif m[M_KV_SHARED] > 0.5:
        ops[s, O_KVRD] = b * span * kv_elems * kvb          # latent read once for K and V
    else:
        ops[s, O_KVRD] = b * span * hkv * dqk * kvb         # keys
    ops[s, O_KVWR] = b * q * kv_elems * kvb                 # new keys and values appended
    ops[s, O_DTYPE] = adt
    ops[s, O_KERNELS] = 1.0 + K_KVWRITE_RT[int(rt)]         # fused score+softmax+context kernel
    ops[s, O_TFRAC] = tfrac

    s = OP_SOFTMAX
    ops[s, O_COUNT] = L
    ops[s, O_KIND] = K_SOFTMAX
    ops[s, O_M] = b * h * pairs
    ops[s, O_N] = 1.0
    ops[s, O_K] = 1.0
    ops[s, O_G] = 1.0
    ops[s, O_FLOPS] = SOFTMAX_FLOPS * b * h * pairs
    ops[s, O_TFRAC] = 1.0                                   # no memory traffic, no launch: fused

    s = OP_CONTEXT
    ops[s, O_COUNT] = L
    ops[s, O_KIND] = K_CONTEXT
    ops[s, O_M] = q * group
    ops[s, O_N] = dv
    ops[s, O_K] = span
    ops[s, O_G] = b * hkv
    ops[s, O_FLOPS] = 2.0 * b * h * dv * pairs
    ops[s, O_AOUT] = b * q * h * dv * ab
    if expand:
        ops[s, O_KVRD] = b * span * hkv * dv * ab           # expanded values
    elif m[M_KV_SHARED] < 0.5:
        ops[s, O_KVRD] = b * span * hkv * dv * kvb          # values
    ops[s, O_DTYPE] = adt
    ops[s, O_TFRAC] = tfrac


@njit(cache=True)
def build_ops(m, b, q, c, tp, wdt, adt, kvdt, rt, ops, dq=0.0, ep=1.0):
    """The table of one pass per device (module doc). dq: ALU ops per de-quantized weight
    (weight-only int8/int4). ep > 1: expert parallelism over ep groups of tp devices with
    data-parallel attention: each group runs b / ep of the sequences, every MoE layer sends its
    tokens to the devices of their experts and back (two all-to-alls), and each device holds
    n_experts / ep experts (docs/model.md, "Expert parallelism")."""
    for i in range(N_SLOTS):
        for j in range(N_OF):
            ops[i, j] = 0.0
    b = b / ep                                  # data-parallel attention: this group's share
    wb = DT_BYTES[int(wdt)]
    ab = DT_BYTES[int(adt)]
    L = m[M_LAYERS]
    d = m[M_D]
    T = b * q                                   # tokens in this pass
    n_moe = m[M_MOE_LAYERS]
    n_dense = L - n_moe
    h = m[M_HEADS] / tp                         # query heads per device
    if m[M_KV_SHARED] > 0.5:
        hkv = m[M_KV_HEADS]                     # latent cache replicated on every device
    else:
        hkv = max(m[M_KV_HEADS] / tp, 1.0)      # kv heads are replicated when tp > n_kv_heads
    dqk = m[M_DQK]
    nmat_up = 2.0 if m[M_GATED] > 0.5 else 1.0
    r = int(rt)
    k_norm = K_NORM_RT[r]

    _vec_row(ops[OP_EMBED], float(K_EMBED), 1.0, T * d, T * d, 0.0, 0.0, ab)
    _vec_row(ops[OP_NORM1], float(K_NORM), L, T * d, T * d, NORM_FLOPS * T * d, d * ab, ab)
    ops[OP_NORM1, O_KERNELS] = k_norm
    # the fused input projection; MLA's down-projections (q_a, kv_a: q_rep columns) are
    # replicated on every tensor-parallel device, the rest is split
    _gemm_row(ops[OP_QKV], L, T, (m[M_Q_OUT] - m[M_Q_REP]) / tp + m[M_Q_REP], d, 1.0, wb, ab, adt,
          1.0)
    if r == 0:
        ops[OP_QKV, O_KERNELS] = 3.0
    qkn = m[M_QK_NORM] > 0.5
    if K_ROPE_RT[r] > 0 or qkn:
        # rotary embedding of the new queries and keys (read and written once); MLA rotates only
        # the rope part of each query head and the one shared rope key. With QK norm (Qwen3,
        # Gemma-3) the same row holds the RMSNorm of every query and key head: its own kernels
        # reading and writing the heads (eager, graphs), or one kernel for norm and rotation
        # (fused: TRT-LLM's fusedQKNormRope, where rotation otherwise sits in attention)
        if m[M_KV_SHARED] > 0.5:
            rot = T * (h + 1.0) * (dqk - m[M_KVB_K])
        else:
            rot = T * (h + hkv) * dqk
        elems = rot if K_ROPE_RT[r] > 0 else 0.0
        flops = ROPE_FLOPS * rot
        wq = 0.0
        kern = K_ROPE_RT[r]
        if qkn:                                 # the same query and key elements (QK norm
            elems += rot                        # never comes with MLA: workload.hfcfg.build)
            flops += NORM_FLOPS * rot
            wq = 2.0 * dqk * ab                 # the q_norm and k_norm weights
            kern += K_QKNORM_RT[r]
        _vec_row(ops[OP_ROPE], float(K_ELTWISE), L, elems, elems, flops, wq, ab)
        ops[OP_ROPE, O_KERNELS] = kern

    # attention over the KV cache: causal pairs per sequence and head
    attention_rows(ops, m, b, q, c + q, q * c + q * (q + 1.0) * 0.5, tp, wdt, adt, kvdt, rt)

    _gemm_row(ops[OP_OPROJ], L, T, d, m[M_O_K] / tp, 1.0, wb, ab, adt, 1.0)
    if tp > 1.0:
        s = OP_ALLREDUCE
        ops[s, O_COUNT] = 2.0 * L
        ops[s, O_KIND] = K_COMM
        ops[s, O_M] = T
        ops[s, O_N] = d
        ops[s, O_K] = 1.0
        ops[s, O_COMM] = T * d * ab
        ops[s, O_TFRAC] = 1.0
        ops[s, O_KERNELS] = 1.0                             # one collective kernel
        ops[s, O_COLL] = COLL_CODE_ALLREDUCE
        ops[s, O_G] = tp
        ops[s, O_STRIDE] = 1.0
    _vec_row(ops[OP_RESID], float(K_ELTWISE), 2.0 * L, 2.0 * T * d, T * d, ADD_FLOPS * T * d,
             0.0, ab)
    ops[OP_RESID, O_KERNELS] = K_RESID_RT[r]
    # every other norm of the layer: the pre-MLP norm, none when attention and MLP run in
    # parallel from one norm (GPT-J, Falcon-7B), three with Gemma-2/3's post-norms
    n_other = L * max(m[M_NORMS] - 1.0, 0.0)
    _vec_row(ops[OP_NORM2], float(K_NORM), n_other, T * d, T * d, NORM_FLOPS * T * d, d * ab,
             ab)
    ops[OP_NORM2, O_KERNELS] = k_norm

    if n_dense > 0:
        ff = m[M_FF] / tp
        _gemm_row(ops[OP_UP], n_dense, T, nmat_up * ff, d, 1.0, wb, ab, adt, 1.0)
        if r == 0:
            ops[OP_UP, O_KERNELS] = nmat_up
        _vec_row(ops[OP_ACT], float(K_ELTWISE), n_dense, nmat_up * T * ff, T * ff,
                 ACT_FLOPS * T * ff, 0.0, ab)
        ops[OP_ACT, O_KERNELS] = K_ACT_RT[r]
        _gemm_row(ops[OP_DOWN], n_dense, T, d, ff, 1.0, wb, ab, adt, 1.0)

    if n_moe > 0:
        E = m[M_EXPERTS]
        k = m[M_TOPK]
        ffe = m[M_FFE] / tp
        # expected number of distinct experts hit by the T ep tokens of the expert-parallel
        # group choosing k of E uniformly; this device holds E / ep of them, so it runs active
        # / ep experts on T k tokens on average
        active = E * (1.0 - math.pow(1.0 - k / E, T * ep))
        active = max(active, min(k, E))
        per_expert = T * ep * k / active
        active = active / ep
        _gemm_row(ops[OP_ROUTER], n_moe, T, E, d, 1.0, wb, ab, adt, 1.0)
        ops[OP_ROUTER, O_KERNELS] = K_ROUTER_RT[r]
        _gemm_row(ops[OP_EUP], n_moe, per_expert, nmat_up * ffe, d, active, wb, ab, adt, 1.0)
        sff = m[M_SHARED_FF] / tp
        act_elems = T * (k * ffe + sff)
        _vec_row(ops[OP_EACT], float(K_ELTWISE), n_moe, nmat_up * act_elems, act_elems,
             ACT_FLOPS * act_elems, 0.0, ab)
        ops[OP_EACT, O_KERNELS] = K_ACT_RT[r]
        _gemm_row(ops[OP_EDOWN], n_moe, per_expert, d, ffe, active, wb, ab, adt, 1.0)
        if r == 0:      # eager (HF-style loop over the experts hit): one GEMM per expert
            ops[OP_EUP, O_KERNELS] = active
            ops[OP_EDOWN, O_KERNELS] = active
        if sff > 0:
            _gemm_row(ops[OP_SUP], n_moe, T, nmat_up * sff, d, 1.0, wb, ab, adt, 1.0)
            _gemm_row(ops[OP_SDOWN], n_moe, T, d, sff, 1.0, wb, ab, adt, 1.0)
        if ep > 1.0:
            # dispatch and combine: each of the T local tokens goes to its k experts' devices
            s = OP_A2A
            ops[s, O_COUNT] = 2.0 * n_moe
            ops[s, O_KIND] = K_COMM
            ops[s, O_M] = T * k
            ops[s, O_N] = d
            ops[s, O_K] = 1.0
            ops[s, O_COMM] = T * k * d * ab
            ops[s, O_TFRAC] = 1.0
            ops[s, O_KERNELS] = 1.0
            ops[s, O_COLL] = COLL_CODE_ALLTOALL
            ops[s, O_G] = ep
            ops[s, O_STRIDE] = tp

    # only the last position of each sequence needs logits
    _vec_row(ops[OP_FNORM], float(K_NORM), 1.0, b * d, b * d, NORM_FLOPS * b * d, d * ab, ab)
    ops[OP_FNORM, O_KERNELS] = k_norm
    _gemm_row(ops[OP_LMHEAD], 1.0, b, m[M_VOCAB] / tp, d, 1.0, wb, ab, adt, 1.0)
    ops[OP_LMHEAD, O_KIND] = K_LMHEAD
    if dq > 0.0 and int(wdt) >= 4 and int(adt) < 4:
        # weight-only int8/int4: every weight of the layers' GEMMs read in this pass is
        # converted on the FP32 units, fused into its GEMM (no launch, no extra traffic)
        n_w = 0.0
        for i in range(N_SLOTS):
            if ops[i, O_KIND] == K_GEMM and ops[i, O_STATIC] > 0.5:
                n_w += ops[i, O_COUNT] * ops[i, O_W] / wb
        _vec_row(ops[OP_DEQUANT], float(K_ELTWISE), 1.0, 0.0, 0.0, dq * n_w, 0.0, ab)
        ops[OP_DEQUANT, O_KERNELS] = 0.0


@njit(cache=True)
def footprint(m, b, span, q, tp, wdt, adt, kvdt, ep=1.0):
    """Bytes per device: (weights, KV cache for `span` tokens per sequence, peak activations);
    with expert parallelism the routed experts are split over ep groups and the b sequences
    too (data-parallel attention)."""
    wb = DT_BYTES[int(wdt)]
    ab = DT_BYTES[int(adt)]
    kvb = DT_BYTES[int(kvdt)]
    nup = 2.0 if m[M_GATED] > 0.5 else 1.0
    experts = m[M_MOE_LAYERS] * m[M_EXPERTS] * (nup + 1.0) * m[M_D] * m[M_FFE]
    weights = ((m[M_PARAMS] - experts) + experts / ep) * wb / tp
    b = b / ep
    if m[M_KV_SHARED] > 0.5:
        kv_elems = m[M_KV_ELEMS]
    else:
        kv_elems = m[M_KV_ELEMS] * max(m[M_KV_HEADS] / tp, 1.0) / m[M_KV_HEADS]
    kv = b * span * m[M_LAYERS] * kv_elems * kvb
    T = b * q
    widest = max(m[M_Q_OUT], 2.0 * max(m[M_FF], m[M_TOPK] * m[M_FFE] + m[M_SHARED_FF])) / tp
    act = T * (2.0 * m[M_D] + widest) * ab + b * m[M_VOCAB] / tp * 4.0
    return weights, kv, act
