"""One training step of a decoder LLM on a tp x pp x dp cluster (docs/training.md).

The forward pass of one micro-batch on one pipeline stage is the inference operator table
(ops.build_ops with q = seq new tokens, no cache) with three training changes: the LM head and
the loss run on every position, no KV cache is written, and with expert parallelism each device
holds n_experts / ep experts and receives the tokens of ep devices. Backward is derived from it
row by row (two GEMMs per forward GEMM), recomputation repeats some forward rows, and every
table is priced by the inference pass loop (passes.cost_rows on the host: the same roofline
and the same accumulator as nmc.analyze). Collectives come from collectives.py.

    t_mb   = t_fwd + t_bwd + t_recompute + t_tp + t_ep + t_cp + t_pp + t_dp(per micro-batch,
             exposed)
    t_step = n_micro * t_mb + (pp - 1) / vpp * t_mb + t_dp(per step, exposed) + t_optimizer

FP8 training (c[C_FP8] > 0, Transformer Engine style): the linear layers' GEMMs (forward, dgrad,
wgrad) run in FP8 on FP8 operands; attention, norms, router and LM head stay in BF16; every
FP8 GEMM input and output gradient is cast by its own elementwise kernel (cast_rows), the
weights once per step (per gathered micro-batch under ZeRO-3). ZeRO-3 gathers each layer's
parameters before its forward (and again before its backward), the gather of layer i + 1
hiding behind layer i's compute only up to that compute (zero3_exposed). Context parallelism
splits each sequence over cp ranks with a ring exchange of keys and values per layer.

The configuration enters as a flat vector (C_*), results leave as one (TR_*; both declared in
layout.py); train_grid evaluates many configurations in parallel without Python objects per
point."""
import math

import numpy as np
from numba import njit, prange

from .collectives import (
    COLL_ALLGATHER,
    COLL_ALLREDUCE,
    COLL_ALLTOALL,
    COLL_REDUCE_SCATTER,
    group_time,
    p2p_time,
)
from .gpu import matrix_peak
from .layout import (
    ACC_COMPUTE, ACC_ENERGY, ACC_LAT, ACC_MEM, A_E_LINK, C_ADT, C_ALGO, C_CP, C_DP, C_EP, C_FP8,
    C_GRAD_BYTES, C_MB, C_NMICRO, C_OVERLAP,
    C_OVERLAP_EP, C_PP, C_RECOMP, C_RESHARD, C_SEQ, C_SP, C_TP, C_UNFUSED, C_VPP, C_WDT, C_ZERO,
    C_ZGROUP, DT_BYTES, FP8_CURRENT, K_COMM, K_CONTEXT, K_ELTWISE, K_GEMM, K_LMHEAD, K_NORM,
    K_SCORE, MAP_HOST_ONLY, M_D, M_EXPERTS, M_FF, M_FFE, M_GATED, M_HEADS, M_KV_ELEMS,
    M_KV_HEADS, M_KV_SHARED, M_KVB_K, M_KVB_N, M_LAYERS, M_MOE_LAYERS, M_O_K, M_PARAMS, M_Q_OUT,
    M_SHARED_FF, M_TOPK, M_VOCAB, N_ACC, N_OF, N_SCEN, N_SLOTS, N_TERMS, N_TR, OP_ACT,
    OP_ALLREDUCE, OP_CONTEXT, OP_DOWN, OP_EACT, OP_EDOWN, OP_EMBED, OP_EUP, OP_FNORM, OP_KVB,
    OP_LMHEAD, OP_NORM1, OP_NORM2, OP_OPROJ, OP_QKV, OP_ROUTER, OP_SCORE, OP_SDOWN, OP_SOFTMAX,
    OP_SUP, OP_UP, O_AIN, O_AOUT, O_COMM, O_COUNT, O_DTYPE, O_FLOPS, O_G, O_K, O_KERNELS, O_KIND,
    O_KVRD, O_KVWR, O_M, O_N, O_TFRAC, O_W, RUN_FUSED, RECOMP_FULL, RECOMP_NONE, RECOMP_SELECTIVE, S_MAPPING,
    S_RUNTIME, S_TP, T_TOTAL, TR_BUBBLE_FRAC, TR_DP_BYTES, TR_ENERGY, TR_FITS, TR_HFU, TR_HW_FLOPS,
    TR_HW_TFLOPS_DEV, TR_LAYERS_STAGE, TR_MEM_ACT, TR_MEM_CAP, TR_MEM_G, TR_MEM_OPT, TR_MEM_TOTAL,
    TR_MEM_W, TR_MFU, TR_MODEL_FLOPS, TR_MODEL_TFLOPS_DEV, TR_PARAMS_DEV, TR_STEP,
    TR_TOKENS_PER_S, TR_TOKENS_STEP, TR_T_BUBBLE, TR_T_BWD, TR_T_COMPUTE, TR_T_CP, TR_T_DP,
    TR_T_EP, TR_T_FWD, TR_T_LAT, TR_T_MB, TR_T_MEM, TR_T_OPT, TR_T_PP, TR_T_RECOMP, TR_T_TP,
)
from .ops import NORM_FLOPS, SOFTMAX_FLOPS, _gemm_row, _vec_row, build_ops
from .passes import cost_rows
from .pim import static_power, usable_capacity

OPT_STATE_BYTES = 12.0      # fp32 master weights + Adam m + v per parameter
PARAM_BYTES = 2.0           # bf16 working copy of the weights (also under fp8 GEMMs)
OPT_FLOPS = 14.0            # AdamW update per parameter (moments, bias correction, decay, step)
# Backward of the attention core per forward FLOP. FlashAttention-2 recomputes S = QK^T and P in
# its backward: 5 matmuls (S, dV = P^T dO, dP = dO V^T, dQ = dS K, dK = dS^T Q) against the
# forward's 2 -> 2.5x (Dao-AILab/flash-attention benchmarks/benchmark_flash_attention.py,
# flops(): "2.5 * f if mode == 'bwd'"). Unfused attention keeps S and P: each of its two GEMMs
# becomes two (2x).
BWD_FLASH = 2.5
BWD_UNFUSED = 2.0
FP8_CODE = 3.0              # dtype code of fp8 (layout.DT_BYTES[3] = 1 byte)
FP8_BYTES = 1.0
CAST_FLOPS = 3.0            # per element of an FP8 cast: |x| max, scale, convert (vector units)
# Transformer Engine DelayedScaling: amax_history_len = 1024 (default), one FP8 scale per GEMM
# input, weight and output gradient, history and scales updated by one fused kernel after each
# forward and each backward (transformer_engine.common.recipe.DelayedScaling; nvte_delayed_
# scaling_recipe_amax_and_scale_update_after_reduction).
AMAX_HISTORY = 1024.0
AMAX_TENSORS = 3.0
# the linear layers whose GEMMs run in FP8 (TE Linear / LayerNormLinear / GroupedLinear): every
# weight GEMM of a layer except the MoE router; the LM head, attention core and norms stay BF16
FP8_LINEAR = (OP_QKV, OP_KVB, OP_OPROJ, OP_UP, OP_DOWN, OP_EUP, OP_EDOWN, OP_SUP, OP_SDOWN)
# row selections (select_rows, matrix_flops); floats, not ints: an int constant argument is a
# numba literal, one compiled variant per value (docs/sweep.md, "First run")
SEL_ALL, SEL_LAYERS, SEL_ATTN_CORE = 0.0, 1.0, 2.0


@njit(cache=True, inline="always")
def _is_matrix(kind):
    return kind == K_GEMM or kind == K_LMHEAD or kind == K_SCORE or kind == K_CONTEXT


@njit(cache=True, inline="always")
def _is_layer_row(i):
    return not (i == OP_EMBED or i == OP_FNORM or i == OP_LMHEAD or i == OP_ALLREDUCE)


@njit(cache=True, inline="always")
def _is_attn_core(i):
    return i == OP_SCORE or i == OP_SOFTMAX or i == OP_CONTEXT


@njit(cache=True, inline="always")
def _norm_fed(i):
    """GEMM inputs written by a norm kernel (attention norm -> QKV, MLP norm -> MLP/shared up):
    TE's LayerNormLinear writes them in FP8 directly."""
    return i == OP_QKV or i == OP_UP or i == OP_SUP


@njit(cache=True)
def param_split(m):
    """(dense layer params, expert params, params outside the layers) of the whole model."""
    d = m[M_D]
    nup = 2.0 if m[M_GATED] > 0.5 else 1.0
    L = m[M_LAYERS]
    n_moe = m[M_MOE_LAYERS]
    attn = d * m[M_Q_OUT] + m[M_KVB_K] * m[M_KVB_N] + m[M_O_K] * d
    mlp = (nup + 1.0) * d * m[M_FF]
    experts = n_moe * m[M_EXPERTS] * (nup + 1.0) * d * m[M_FFE]
    moe_rest = n_moe * (d * m[M_EXPERTS] + (nup + 1.0) * d * m[M_SHARED_FF])
    dense = L * attn + (L - n_moe) * mlp + moe_rest
    rest = max(m[M_PARAMS] - dense - experts, 0.0)
    return dense, experts, rest


@njit(cache=True)
def train_fwd_table(m, layers, mb, seq, tp, ep, wdt, adt, first, last, unfused, ops, cp=1.0,
                    fp8=0.0):
    """Forward operator table of one micro-batch (mb sequences of seq tokens) on a stage of
    `layers` layers, per tensor-parallel device. unfused: attention as three kernels (pre-
    FlashAttention): the full s x s score matrix is computed, written, read and rewritten by
    the softmax and read by the context GEMM. cp: context parallelism; the rank holds q = seq/cp
    tokens of each sequence, two load-balanced chunks whose causal pairs are 1/cp of the
    sequence's: built as q new tokens over (seq - q)/2 earlier ones, q (seq - q)/2 + q (q + 1)/2
    = seq (seq + 1) / (2 cp) pairs. fp8 > 0: the FP8_LINEAR GEMMs read FP8 operands (1 byte per
    weight and input element) at the fp8 peak and write BF16 outputs. first, last, unfused:
    truth values; the engine passes them as 1.0 / 0.0 (one compiled variant; a literal True
    or False would compile one per combination)."""
    ms = m.copy()
    L = m[M_LAYERS]
    ms[M_LAYERS] = layers
    ms[M_MOE_LAYERS] = m[M_MOE_LAYERS] * layers / L
    q = seq / cp
    build_ops(ms, mb, q, 0.5 * (seq - q), tp, wdt, adt, adt, float(RUN_FUSED), ops, 0.0, 1.0)
    ab = DT_BYTES[int(adt)]
    wb = DT_BYTES[int(wdt)]
    T = mb * q
    d = m[M_D]
    ops[OP_SCORE, O_KVWR] = 0.0                 # keys and values stay in the QKV output
    if unfused > 0.5:
        hp = m[M_HEADS] / tp
        sq = mb * hp * seq * seq                # score elements, causal mask applied, not skipped
        S = sq * ab
        ops[OP_SCORE, O_FLOPS] *= seq * seq / (seq * (seq + 1.0) * 0.5)
        ops[OP_SCORE, O_TFRAC] = 1.0
        ops[OP_SCORE, O_AOUT] = S
        ops[OP_CONTEXT, O_FLOPS] *= seq * seq / (seq * (seq + 1.0) * 0.5)
        ops[OP_CONTEXT, O_TFRAC] = 1.0
        ops[OP_CONTEXT, O_AIN] = S
        ops[OP_CONTEXT, O_KERNELS] = 1.0
        ops[OP_SOFTMAX, O_M] = sq
        ops[OP_SOFTMAX, O_FLOPS] = SOFTMAX_FLOPS * sq
        ops[OP_SOFTMAX, O_AIN] = S
        ops[OP_SOFTMAX, O_AOUT] = S
        ops[OP_SOFTMAX, O_KERNELS] = 1.0
    if first < 0.5:
        ops[OP_EMBED, O_COUNT] = 0.0
    if last > 0.5:
        # every position is predicted: LM head over T tokens, logits read again by the loss
        _vec_row(ops[OP_FNORM], float(K_NORM), 1.0, T * d, T * d, NORM_FLOPS * T * d, d * ab, ab)
        _gemm_row(ops[OP_LMHEAD], 1.0, T, m[M_VOCAB] / tp, d, 1.0, wb, ab, adt, 1.0)
        ops[OP_LMHEAD, O_KIND] = K_LMHEAD
        ops[OP_LMHEAD, O_AOUT] *= 2.0
    else:
        ops[OP_FNORM, O_COUNT] = 0.0
        ops[OP_LMHEAD, O_COUNT] = 0.0
    if ep > 1.0 and ms[M_MOE_LAYERS] > 0.0:
        # ep devices pool their tokens; each runs n_experts / ep of the experts hit
        E = m[M_EXPERTS]
        k = m[M_TOPK]
        Tg = T * ep
        active = max(E * (1.0 - math.pow(1.0 - k / E, Tg)), min(k, E))
        per = Tg * k / active
        G = active / ep
        nup = 2.0 if m[M_GATED] > 0.5 else 1.0
        ffe = m[M_FFE] / tp
        n = ops[OP_EUP, O_COUNT]
        _gemm_row(ops[OP_EUP], n, per, nup * ffe, d, G, wb, ab, adt, 1.0)
        _gemm_row(ops[OP_EDOWN], n, per, d, ffe, G, wb, ab, adt, 1.0)
    if fp8 > 0.0:
        for i in FP8_LINEAR:
            if ops[i, O_COUNT] > 0.0:
                G = ops[i, O_G]
                ops[i, O_DTYPE] = FP8_CODE
                ops[i, O_W] = ops[i, O_K] * ops[i, O_N] * G * FP8_BYTES
                ops[i, O_AIN] = ops[i, O_M] * ops[i, O_K] * G * FP8_BYTES


@njit(cache=True)
def cast_rows(ops, fp8, backward, ab, out):
    """The FP8 cast kernels of the FP8 GEMMs of forward table ops, as an operator table
    out[N_SLOTS, N_OF] (row i: the casts of GEMM row i; count 0 elsewhere).

    Forward: the GEMM input X (M x K per group, BF16) is read once and written as FP8 X and FP8
    X^T (the wgrad operand; TE cast_transpose): ab + 2 bytes per element, one kernel. An input
    written by a norm (_norm_fed) is cast inside the norm kernel (TE LayerNormLinear), which
    writes the two FP8 copies instead of one BF16 output: no extra bytes, no kernel.
    Backward: the output gradient dY (M x N per group) likewise. fp8 = FP8_CURRENT (per-tensor
    current scaling): the scale needs the tensor's amax before any element is cast, so one more
    read of the BF16 tensor and one more kernel per cast, and no fusion into the norm."""
    for j in range(N_SLOTS):
        for k in range(N_OF):
            out[j, k] = 0.0
    if fp8 <= 0.0:
        return
    cur = fp8 > FP8_CURRENT - 0.5
    for i in FP8_LINEAR:
        n = ops[i, O_COUNT]
        if n == 0.0 or ops[i, O_DTYPE] != FP8_CODE:
            continue
        if backward < 0.5 and not cur and _norm_fed(i):
            continue
        G = ops[i, O_G]
        elems = ops[i, O_M] * (ops[i, O_N] if backward > 0.5 else ops[i, O_K]) * G
        _vec_row(out[i], float(K_ELTWISE), n, elems, 2.0 * elems, CAST_FLOPS * elems, 0.0, 1.0)
        out[i, O_AIN] = (2.0 if cur else 1.0) * ab * elems
        out[i, O_AOUT] = 2.0 * FP8_BYTES * elems
        out[i, O_KERNELS] = 2.0 if cur else 1.0


@njit(cache=True)
def fp8_weight_rows(ops, fp8, wb, out):
    """out[0]: the FP8 casts of the weights of the FP8 GEMMs of table ops (read the BF16 weight,
    write FP8 W and W^T: wb + 2 bytes per weight, one kernel per GEMM; current scaling one more
    read and kernel). Megatron-Core passes is_first_microbatch to TE, which casts once per step
    and reuses the FP8 copies for the other micro-batches; under ZeRO-3 the gathered weights are
    cast again each micro-batch. out[1]: the delayed-scaling amax-history and scale update,
    AMAX_HISTORY fp32 entries for AMAX_TENSORS tensors per GEMM read and written, one fused
    kernel after each forward and each backward (per micro-batch)."""
    for j in range(2):
        for k in range(N_OF):
            out[j, k] = 0.0
    if fp8 <= 0.0:
        return
    cur = fp8 > FP8_CURRENT - 0.5
    w = 0.0
    n_gemm = 0.0
    for i in FP8_LINEAR:
        n = ops[i, O_COUNT]
        if n > 0.0 and ops[i, O_DTYPE] == FP8_CODE:
            w += n * ops[i, O_K] * ops[i, O_N] * ops[i, O_G]
            n_gemm += n
    if w <= 0.0:
        return
    _vec_row(out[0], float(K_ELTWISE), 1.0, w, 2.0 * w, CAST_FLOPS * w, 0.0, 1.0)
    out[0, O_AIN] = (2.0 if cur else 1.0) * wb * w
    out[0, O_AOUT] = 2.0 * FP8_BYTES * w
    out[0, O_KERNELS] = (2.0 if cur else 1.0) * n_gemm
    if not cur:
        h = AMAX_HISTORY * AMAX_TENSORS * n_gemm
        _vec_row(out[1], float(K_ELTWISE), 1.0, h, h, h, 0.0, 4.0)
        out[1, O_KERNELS] = 2.0


@njit(cache=True, inline="always")
def _copy_row(src, i, dst, j):
    for k in range(N_OF):
        dst[j, k] = src[i, k]


@njit(cache=True)
def backward_rows(ops, i, gb, wb, unfused, sc, j0):
    """Write the backward kernels of forward row i into sc[j0] (and sc[j0 + 1]); return how
    many.

    A GEMM Y[M,N] = X[M,K] W[K,N] becomes two GEMMs: dX[M,K] = dY W^T (reads dY and W, writes
    dX) and dW[K,N] = X^T dY (reads X and dY, reads and writes the gradient accumulator of
    gb bytes per weight): 2x the FLOPs. An FP8 GEMM reads FP8 dY, W^T, X^T (1 byte per element)
    and writes dX in BF16 (wb bytes). The attention core costs BWD_FLASH (BWD_UNFUSED) x its
    forward FLOPs and reads and writes twice its forward bytes; vector ops read their input and
    dY and write dX (2x FLOPs)."""
    kind = int(ops[i, O_KIND])
    _copy_row(ops, i, sc, j0)
    if kind == K_GEMM or kind == K_LMHEAD:
        M = ops[i, O_M]
        N = ops[i, O_N]
        K = ops[i, O_K]
        G = ops[i, O_G]
        fp8 = ops[i, O_DTYPE] == FP8_CODE
        # dgrad: M x K output, reduction over N, W as the stationary operand
        sc[j0, O_N] = K
        sc[j0, O_K] = N
        sc[j0, O_AIN] = M * N * G * FP8_BYTES if fp8 else ops[i, O_AOUT]
        sc[j0, O_AOUT] = M * K * G * wb if fp8 else ops[i, O_AIN]
        # wgrad: K x N output, reduction over the M tokens, dY as the streamed operand
        j1 = j0 + 1
        _copy_row(ops, i, sc, j1)
        sc[j1, O_M] = K
        sc[j1, O_N] = N
        sc[j1, O_K] = M
        sc[j1, O_AIN] = ops[i, O_AIN]
        sc[j1, O_W] = M * N * G * FP8_BYTES if fp8 else ops[i, O_AOUT]
        sc[j1, O_AOUT] = 2.0 * K * N * G * gb
        return 2
    if kind == K_SCORE or kind == K_CONTEXT:
        sc[j0, O_FLOPS] = (BWD_UNFUSED if unfused else BWD_FLASH) * ops[i, O_FLOPS]
        sc[j0, O_AIN] = 2.0 * ops[i, O_AIN] + ops[i, O_AOUT]
        sc[j0, O_AOUT] = ops[i, O_AIN] + ops[i, O_KVRD]
        return 1
    sc[j0, O_FLOPS] = 2.0 * ops[i, O_FLOPS]
    sc[j0, O_AIN] = ops[i, O_AIN] + ops[i, O_AOUT]
    sc[j0, O_AOUT] = ops[i, O_AIN]
    if ops[i, O_W] > 0.0:
        sc[j0, O_W] = ops[i, O_W] * (1.0 + 2.0 * gb / wb)
    return 1


@njit(cache=True)
def backward_table(ops, gb, wb, bops, unfused=False):
    """The backward pass of forward table ops as an operator table bops[2 N_SLOTS, N_OF]: rows
    2i and 2i + 1 hold the backward kernels of forward row i (count 0 where there is one)."""
    for j in range(bops.shape[0]):
        bops[j, O_COUNT] = 0.0
    for i in range(N_SLOTS):
        if ops[i, O_COUNT] == 0.0 or int(ops[i, O_KIND]) == K_COMM:
            continue
        backward_rows(ops, i, gb, wb, unfused, bops, 2 * i)


@njit(cache=True)
def _selected(i, sel):
    if sel == SEL_LAYERS:
        return _is_layer_row(i)
    if sel == SEL_ATTN_CORE:
        return _is_attn_core(i)
    return True


@njit(cache=True)
def select_rows(ops, sel, out):
    """out = ops with every row outside `sel` switched off (count 0), and the collectives too
    (training prices its communication itself, below). SEL_ALL: every row; SEL_LAYERS: the rows
    inside the layers (full recomputation); SEL_ATTN_CORE: the attention core (selective)."""
    for i in range(N_SLOTS):
        _copy_row(ops, i, out, i)
        if int(ops[i, O_KIND]) == K_COMM or not _selected(i, sel):
            out[i, O_COUNT] = 0.0


@njit(cache=True)
def matrix_flops(ops, sel):
    """Matrix FLOPs (GEMMs, LM head, attention core) of the rows of selection sel."""
    f = 0.0
    for i in range(N_SLOTS):
        if not _selected(i, sel):
            continue
        if _is_matrix(int(ops[i, O_KIND])):
            f += ops[i, O_COUNT] * ops[i, O_FLOPS]
    return f


@njit(cache=True)
def saved_activations(ops, m, mb, seq, tp, adt, sp, recomp, layers, unfused):
    """Bytes of activations one micro-batch leaves on a stage for its backward pass."""
    ab = DT_BYTES[int(adt)]
    rep = 0.0       # tensors replicated over the tensor-parallel group (split by SP)
    split = 0.0     # tensors already split by TP
    for i in (OP_NORM1, OP_NORM2, OP_QKV, OP_UP, OP_ROUTER, OP_SUP):
        rep += ops[i, O_COUNT] * ops[i, O_AIN]
    split += ops[OP_QKV, O_COUNT] * ops[OP_QKV, O_AOUT]          # q, k, v for attention
    for i in (OP_KVB, OP_OPROJ, OP_DOWN, OP_EUP, OP_EDOWN, OP_SDOWN, OP_ACT, OP_EACT):
        split += ops[i, O_COUNT] * ops[i, O_AIN]
    if sp > 0.5 and tp > 1.0:
        rep /= tp
    per_stage = rep + split
    if recomp == RECOMP_NONE and unfused:
        # unfused attention keeps its probabilities: mb x heads/tp x seq x seq
        per_stage += layers * mb * (m[M_HEADS] / tp) * seq * seq * ab
    if recomp == RECOMP_FULL:
        x = mb * seq * m[M_D] * ab
        if sp > 0.5 and tp > 1.0:
            x /= tp
        per_stage = layers * x + per_stage / max(layers, 1.0)    # inputs + one layer live
    return per_stage


@njit(cache=True, inline="always")
def _attn_core_time(terms, stride):
    """Time of the attention core rows (score, softmax, context) in terms, over all layers;
    stride 2 for a backward table (row 2i holds forward row i's kernel)."""
    return (terms[stride * OP_SCORE, T_TOTAL] + terms[stride * OP_SOFTMAX, T_TOTAL]
            + terms[stride * OP_CONTEXT, T_TOTAL])


@njit(cache=True)
def stage_passes(m, c, Ls, a, s, ops, sel, bops, cst, fx, terms, acc_f, acc_b, acc_r):
    """Forward, backward and recomputed-forward time of one micro-batch on the slowest stage
    (Ls layers plus the LM head and loss), each table priced by passes.cost_rows on the host
    into its own accumulator, FP8 casts included (cast_rows; the per-micro-batch part of
    fp8_weight_rows). Also returns the attention core's forward and backward time per layer
    (the window the context-parallel ring hides behind). Leaves the stage's forward table in ops
    and the FP8 weight-cast rows in fx."""
    tp = c[C_TP]
    rc = int(c[C_RECOMP])
    wdt = c[C_WDT]
    fp8 = c[C_FP8]
    unf = c[C_UNFUSED] > 0.5
    ab = DT_BYTES[int(c[C_ADT])]
    wb = DT_BYTES[int(wdt)]
    train_fwd_table(m, Ls, c[C_MB], c[C_SEQ], tp, c[C_EP], wdt, c[C_ADT],
                    1.0 if c[C_PP] <= 1.0 else 0.0, 1.0, c[C_UNFUSED], ops, max(c[C_CP], 1.0),
                    fp8)
    select_rows(ops, SEL_ALL, sel)
    t_fwd = cost_rows(sel, a, s, terms, acc_f, True, None, None)
    attn_f = _attn_core_time(terms, 1) / max(Ls, 1.0)
    if fp8 > 0.0:
        cast_rows(ops, fp8, 0.0, ab, cst)
        t_fwd += cost_rows(cst, a, s, terms, acc_f, True, None, None)
        fp8_weight_rows(ops, fp8, wb, fx)
        per_mb = fx.copy()
        if int(c[C_ZERO]) != 3:
            per_mb[0, O_COUNT] = 0.0            # weights cast once per step (optimizer_pass)
        t_fwd += cost_rows(per_mb, a, s, terms, acc_f, True, None, None)
    else:
        fx[0, O_COUNT] = 0.0
        fx[1, O_COUNT] = 0.0
    backward_table(ops, c[C_GRAD_BYTES], wb, bops, unf)
    t_bwd = cost_rows(bops, a, s, terms, acc_b, True, None, None)
    attn_b = _attn_core_time(terms, 2) / max(Ls, 1.0)
    if fp8 > 0.0:
        cast_rows(ops, fp8, 1.0, ab, cst)
        t_bwd += cost_rows(cst, a, s, terms, acc_b, True, None, None)
    t_rc = 0.0
    if rc != RECOMP_NONE:
        select_rows(ops, SEL_LAYERS if rc == RECOMP_FULL else SEL_ATTN_CORE, sel)
        t_rc = cost_rows(sel, a, s, terms, acc_r, True, None, None)
        if rc == RECOMP_FULL and fp8 > 0.0:
            cast_rows(ops, fp8, 0.0, ab, cst)
            t_rc += cost_rows(cst, a, s, terms, acc_r, True, None, None)
    return t_fwd, t_bwd, t_rc, attn_f, attn_b


@njit(cache=True)
def model_parallel_comm(m, c, Ls, a, ops, attn_f, attn_b):
    """Per micro-batch: tensor-parallel all-reduces, expert all-to-alls, the context-parallel
    key/value ring (its exposed part) and pipeline sends of the stage whose forward table is ops
    -> (t_tp, t_ep, (t_cp forward, recomputed forward, backward), t_pp, link bytes)."""
    tp = c[C_TP]
    ep = c[C_EP]
    cp = max(c[C_CP], 1.0)
    sp = c[C_SP]
    rc = int(c[C_RECOMP])
    algo = c[C_ALGO]                # float: one compiled group_time (collectives.py)
    ab = DT_BYTES[int(c[C_ADT])]
    T = c[C_MB] * c[C_SEQ] / cp
    d = m[M_D]
    link_bytes = 0.0
    # tensor parallel: two all-reduces (or reduce-scatter + all-gather under SP, same volume)
    # per layer forward, two backward, two more when the forward is recomputed
    t_tp = 0.0
    if tp > 1.0:
        n_ar = ops[OP_ALLREDUCE, O_COUNT] * (3.0 if rc == RECOMP_FULL else 2.0)
        S = ops[OP_ALLREDUCE, O_COMM]
        t_tp = n_ar * group_time(COLL_ALLREDUCE, S, tp, 1.0, a, algo)
        link_bytes += n_ar * 2.0 * (tp - 1.0) / tp * S
    # expert parallel: dispatch + combine all-to-all per MoE layer, forward and backward (and
    # the forward again under full recomputation). With FP8 expert GEMMs the tokens are cast
    # before the dispatch, which then moves 1 byte per element (DeepSeek-V3 report, Sec. 3.3.2);
    # the combine and the backward all-to-alls move BF16.
    t_ep = 0.0
    n_moe_s = m[M_MOE_LAYERS] * Ls / m[M_LAYERS]
    if ep > 1.0 and n_moe_s > 0.0:
        el = T * m[M_TOPK] * d
        if sp > 0.5 and tp > 1.0:
            el /= tp
        disp = FP8_BYTES if c[C_FP8] > 0.0 else ab
        n_f = 2.0 if rc == RECOMP_FULL else 1.0
        stride = tp * cp
        t_ep = n_moe_s * (n_f * (group_time(COLL_ALLTOALL, el * disp, ep, stride, a, algo)
                                 + group_time(COLL_ALLTOALL, el * ab, ep, stride, a, algo))
                          + 2.0 * group_time(COLL_ALLTOALL, el * ab, ep, stride, a, algo))
        link_bytes += n_moe_s * (ep - 1.0) / ep * el * (n_f * (disp + ab) + 2.0 * ab)
    # context parallel (ring attention, Megatron/TE p2p): per layer the rank's keys and values
    # travel cp - 1 hops forward, keys, values and their gradients backward; each hop overlaps
    # the attention on the chunk already there, so only the excess over the attention core's
    # time is exposed
    cp_f = 0.0
    cp_r = 0.0
    cp_b = 0.0
    if cp > 1.0:
        if m[M_KV_SHARED] > 0.5:
            kv = m[M_KV_ELEMS]
        else:
            kv = m[M_KV_ELEMS] * max(m[M_KV_HEADS] / tp, 1.0) / m[M_KV_HEADS]
        S = T * kv * ab
        ring = (cp - 1.0) * p2p_time(S, tp, a)
        cp_f = Ls * max(ring - attn_f, 0.0)
        cp_r = 0.0 if rc == RECOMP_NONE else cp_f
        cp_b = Ls * max(2.0 * ring - attn_b, 0.0)
        link_bytes += Ls * (cp - 1.0) * S * (3.0 if rc == RECOMP_NONE else 4.0)
    # pipeline parallel: activations forward, gradients backward, per virtual stage
    t_pp = 0.0
    if c[C_PP] > 1.0:
        vpp = max(c[C_VPP], 1.0)
        S = T * d * ab
        if sp > 0.5 and tp > 1.0:
            S /= tp
        t_pp = 2.0 * vpp * p2p_time(S, tp * cp * c[C_DP], a)
        link_bytes += 2.0 * vpp * S
    return t_tp, t_ep, (cp_f, cp_r, cp_b), t_pp, link_bytes


@njit(cache=True)
def stage_params(m, c, Ls):
    """(dense, expert) parameters per device on the slowest stage."""
    d = m[M_D]
    dense, experts, rest = param_split(m)
    if c[C_PP] <= 1.0:
        bound = rest
    else:
        bound = max(rest - m[M_VOCAB] * d, m[M_VOCAB] * d)
    L = m[M_LAYERS]
    psi_d = (dense * Ls / L + bound) / c[C_TP]
    psi_e = experts * Ls / L / (c[C_TP] * c[C_EP])
    return psi_d, psi_e


@njit(cache=True, inline="always")
def _groups(c):
    """(gradient group of the dense parameters = dp x cp, ZeRO shard group size)."""
    g = c[C_DP] * max(c[C_CP], 1.0)
    z = c[C_ZGROUP]
    if z <= 0.0 or z > g:
        z = g
    return g, z


@njit(cache=True)
def data_parallel_comm(c, Ls, psi_d, psi_e, a):
    """Data-parallel (ZeRO stage 0-3) traffic of the dense and expert parameters ->
    (ZeRO-3 all-gather per layer, ZeRO-3 gradient reduction per layer, other time per
    micro-batch, time per step, bytes per step per device).

    Gradients are reduced over the g = dp x cp ranks holding the same parameters (dp x cp / ep
    for experts). ZeRO shards over groups of z of them (zero_group; z = g by default); with
    z < g (hybrid sharding: PyTorch HYBRID_SHARD, InternLM zero1 = 8) each shard's gradient is
    also all-reduced over the g / z replicas. ZeRO-3 moves its parameters layer by layer:
    gathered before the layer's forward (and again before its backward when resharded), the
    layer's gradients reduce-scattered after its backward, every micro-batch."""
    tp = c[C_TP]
    ep = c[C_EP]
    nm = c[C_NMICRO]
    gb = c[C_GRAD_BYTES]
    zero = int(c[C_ZERO])
    algo = c[C_ALGO]                # float: one compiled group_time (collectives.py)
    n_ag = 2.0 if c[C_RESHARD] > 0.5 else 1.0
    g_d, z_d = _groups(c)
    Lf = max(Ls, 1.0)
    ag_l = 0.0
    rs_l = 0.0
    t_mb = 0.0
    t_step = 0.0
    nbytes = 0.0
    for part in range(2):
        psi = psi_d if part == 0 else psi_e
        if part == 0:
            g, z, stride = g_d, z_d, tp
        else:
            g = max(g_d / ep, 1.0)
            z = g if z_d >= g_d else min(z_d, g)
            stride = tp * ep
        if psi <= 0.0 or g <= 1.0:
            continue
        rep = g / z
        f = (z - 1.0) / z
        rep_bytes = 2.0 * (rep - 1.0) / rep * gb * psi / z
        if zero == 0:
            t_step += group_time(COLL_ALLREDUCE, gb * psi, g, stride, a, algo)
            nbytes += 2.0 * (g - 1.0) / g * gb * psi
            continue
        t_rep = group_time(COLL_ALLREDUCE, gb * psi / z, rep, stride * z, a, algo)
        if zero == 3:
            ag_l += group_time(COLL_ALLGATHER, PARAM_BYTES * psi / Lf, z, stride, a, algo)
            rs_l += (group_time(COLL_REDUCE_SCATTER, gb * psi / Lf, z, stride, a, algo)
                     + group_time(COLL_ALLREDUCE, gb * psi / (Lf * z), rep, stride * z, a, algo))
            nbytes += (f * (n_ag * PARAM_BYTES + gb) * psi + rep_bytes) * nm
            continue
        t_rs = group_time(COLL_REDUCE_SCATTER, gb * psi, z, stride, a, algo)
        t_ag = group_time(COLL_ALLGATHER, PARAM_BYTES * psi, z, stride, a, algo)
        if zero == 1:
            t_step += t_rs + t_rep + t_ag
            nbytes += f * (gb + PARAM_BYTES) * psi + rep_bytes
        else:
            t_mb += t_rs + t_rep
            t_step += t_ag
            nbytes += (f * gb * psi + rep_bytes) * nm + f * PARAM_BYTES * psi
    return ag_l, rs_l, t_mb, t_step, nbytes


@njit(cache=True)
def zero3_exposed(ag, rs, Ls, c_f, c_b, reshard, overlap):
    """Exposed ZeRO-3 time of one micro-batch on a stage of Ls layers: ag, rs the per-layer
    all-gather and gradient reduction, c_f, c_b the per-layer forward and backward (+ recompute)
    compute. Forward: layer 1's gather is exposed; layer i + 1's gather runs during layer i's
    compute and shows where it is longer (prefetch one layer ahead: FSDP limit_all_gathers).
    Backward (last layer kept gathered after forward, as torchtitan and FSDP's root do): layer
    i's compute hides the gather of layer i - 1 (when resharded) and the reduce-scatter of layer
    i + 1 together, as they share the same links; layer 1's reduce-scatter is exposed. Without
    overlap everything is exposed."""
    R = 1.0 if reshard else 0.0
    if overlap <= 0.0:
        return Ls * ag * (1.0 + R) + Ls * rs
    fwd = ag + (Ls - 1.0) * max(ag - c_f, 0.0)
    if Ls < 2.0:
        return fwd + rs
    bwd = (max(R * ag - c_b, 0.0) + (Ls - 2.0) * max(R * ag + rs - c_b, 0.0)
           + max(rs - c_b, 0.0) + rs)
    return fwd + bwd


@njit(cache=True)
def optimizer_pass(c, Ls, psi_d, psi_e, fx, a, s, terms, acc):
    """AdamW on this device's shard: one fused elementwise kernel per layer over the gradients,
    master weights and moments, as a one-row operator table priced by passes.cost_rows; with FP8
    GEMMs and ZeRO 0-2 also the per-step FP8 weight casts (fx[0], fp8_weight_rows)."""
    g, z = _groups(c)
    g_e = max(g / c[C_EP], 1.0)
    z_e = g_e if z >= g else min(z, g_e)
    zero = int(c[C_ZERO])
    n_upd = psi_d / (z if zero >= 1 else 1.0) + psi_e / (z_e if zero >= 1 else 1.0)
    opt = np.zeros((2, N_OF))
    _vec_row(opt[0], float(K_ELTWISE), 1.0, 0.0, 0.0, OPT_FLOPS * n_upd, 0.0, 1.0)
    opt[0, O_AIN] = (c[C_GRAD_BYTES] + OPT_STATE_BYTES) * n_upd
    opt[0, O_AOUT] = (OPT_STATE_BYTES + PARAM_BYTES) * n_upd
    opt[0, O_KERNELS] = Ls
    if zero != 3 and fx[0, O_COUNT] > 0.0:
        _copy_row(fx, 0, opt, 1)
    return cost_rows(opt, a, s, terms, acc, True, None, None)


@njit(cache=True)
def memory_per_device(m, c, Ls, psi_d, psi_e, a, ops):
    """(weights, gradients, optimizer state, activations) bytes per device (ZeRO stages after
    Rajbhandari et al. 2020). Overwrites ops with the first stage's forward table. With FP8
    GEMMs the saved inputs of the FP8_LINEAR GEMMs are their FP8 copies (TE saves the cast input
    for wgrad), everything else stays BF16, and TE's cached FP8 weights W and W^T add 2 bytes
    per parameter."""
    tp = c[C_TP]
    pp = c[C_PP]
    nm = c[C_NMICRO]
    mb = c[C_MB]
    seq = c[C_SEQ]
    cp = max(c[C_CP], 1.0)
    gb = c[C_GRAD_BYTES]
    zero = int(c[C_ZERO])
    vpp = max(c[C_VPP], 1.0)
    g, z = _groups(c)
    g_e = max(g / c[C_EP], 1.0)
    z_e = g_e if z >= g else min(z, g_e)
    psi_dev = psi_d + psi_e
    w_mem = PARAM_BYTES * psi_dev
    g_mem = gb * psi_dev
    o_mem = OPT_STATE_BYTES * psi_dev
    sh_d = psi_d / z
    sh_e = psi_e / z_e
    if zero >= 1:
        o_mem = OPT_STATE_BYTES * (sh_d + sh_e)
    if zero >= 2:
        g_mem = gb * (sh_d + sh_e)
    if zero >= 3:
        if c[C_RESHARD] > 0.5:
            # shards plus the gathered parameters of the layer being computed (and the next)
            w_mem = PARAM_BYTES * (sh_d + sh_e + 2.0 * psi_dev / max(Ls, 1.0))
        else:
            # gathered in forward and kept until the layer's backward: the whole stage
            w_mem = PARAM_BYTES * (sh_d + sh_e + psi_dev)
    elif c[C_FP8] > 0.0:
        w_mem += 2.0 * FP8_BYTES * psi_dev     # TE's cached FP8 copies W and W^T
    # activations: the first stage holds min(pp, n_micro) micro-batches in 1F1B (more with
    # interleaving); the last stage one micro-batch plus fp32 logits
    unf = c[C_UNFUSED] > 0.5
    train_fwd_table(m, Ls, mb, seq, tp, c[C_EP], c[C_WDT], c[C_ADT], 1.0, 0.0, c[C_UNFUSED], ops,
                    cp, c[C_FP8])
    per_mb = saved_activations(ops, m, mb, seq / cp, tp, c[C_ADT], c[C_SP], int(c[C_RECOMP]),
                               Ls, unf)
    logits = mb * seq / cp * m[M_VOCAB] / tp * 4.0
    if pp > 1.0:
        infl = min(pp, nm)
        if vpp > 1.0:
            infl *= 1.0 + (pp - 1.0) / (pp * vpp)
        act = max(per_mb * infl, per_mb + logits)
    else:
        act = per_mb + logits
    return w_mem, g_mem, o_mem, act


@njit(cache=True)
def train_point(m, c, a, ops, bops, terms, res):
    """Evaluate one training configuration c[N_CFG] into res[N_TR]. Scratch: ops[N_SLOTS, N_OF],
    bops[2 N_SLOTS, N_OF] (the backward table), terms[2 N_SLOTS, N_TERMS]."""
    for j in range(N_TR):
        res[j] = 0.0
    tp = c[C_TP]
    pp = c[C_PP]
    dp = c[C_DP]
    cp = max(c[C_CP], 1.0)
    nm = c[C_NMICRO]
    rc = int(c[C_RECOMP])
    ovl = c[C_OVERLAP]
    L = m[M_LAYERS]
    Ls = math.ceil(L / pp)
    devices = tp * pp * dp * cp
    s = np.zeros(N_SCEN)                        # the pass loop reads tp (and the mapping)
    s[S_TP] = tp
    s[S_MAPPING] = MAP_HOST_ONLY
    s[S_RUNTIME] = RUN_FUSED                    # CPU runs ahead: only GPU-side kernel gaps

    # ---- whole-model FLOPs per micro-batch (model FLOPs do not depend on the split) ---------
    train_fwd_table(m, int(L), c[C_MB], c[C_SEQ], 1.0, 1.0, c[C_WDT], c[C_ADT], 1.0, 1.0, 0.0,
                    ops, 1.0, 0.0)        # int(L): the stages' Ls is an int (one variant)
    f_fwd = matrix_flops(ops, SEL_ALL)
    if rc == RECOMP_FULL:
        f_rc = matrix_flops(ops, SEL_LAYERS)
    elif rc == RECOMP_SELECTIVE:
        f_rc = matrix_flops(ops, SEL_ATTN_CORE)
    else:
        f_rc = 0.0
    model_flops = 3.0 * f_fwd * nm * dp
    hw_flops = (3.0 * f_fwd + f_rc) * nm * dp

    # ---- the slowest stage: passes, model-parallel and data-parallel communication ---------
    acc_f = np.zeros(N_ACC)
    acc_b = np.zeros(N_ACC)
    acc_r = np.zeros(N_ACC)
    acc_o = np.zeros(N_ACC)
    sel = np.empty((N_SLOTS, N_OF))
    cst = np.empty((N_SLOTS, N_OF))
    fx = np.zeros((2, N_OF))
    t_fwd, t_bwd, t_rc, attn_f, attn_b = stage_passes(m, c, Ls, a, s, ops, sel, bops, cst, fx,
                                                      terms, acc_f, acc_b, acc_r)
    t_tp, t_ep, cps, t_pp, link_bytes = model_parallel_comm(m, c, Ls, a, ops, attn_f, attn_b)
    t_cp = cps[0] + cps[1] + cps[2]
    # the windows other traffic hides behind: the passes as they run, context-parallel ring
    # (where it outlasts the attention it overlaps) included
    w_f = t_fwd + cps[0]
    w_b = t_bwd + t_rc + cps[1] + cps[2]
    psi_d, psi_e = stage_params(m, c, Ls)
    ag_l, rs_l, t_dp_mb, t_dp_step, dp_bytes = data_parallel_comm(c, Ls, psi_d, psi_e, a)
    link_bytes += dp_bytes / nm
    dp_mb_exposed = max(t_dp_mb - ovl * (w_f + w_b), 0.0)
    if int(c[C_ZERO]) == 3:
        dp_mb_exposed += zero3_exposed(ag_l, rs_l, float(Ls), w_f / Ls, w_b / Ls,
                                       c[C_RESHARD] > 0.5, ovl)
    dp_step_exposed = max(t_dp_step - ovl * w_b, 0.0)

    # ---- one micro-batch, the pipeline, the optimizer --------------------------------------
    # expert all-to-all hidden behind the other micro-batch's compute (DualPipe-style)
    ep_exposed = max(t_ep - c[C_OVERLAP_EP] * (w_f + w_b), 0.0)
    t_mb = t_fwd + t_bwd + t_rc + t_tp + ep_exposed + t_cp + t_pp + dp_mb_exposed
    bubble = (pp - 1.0) / max(c[C_VPP], 1.0) * t_mb if pp > 1.0 else 0.0
    t_opt = optimizer_pass(c, Ls, psi_d, psi_e, fx, a, s, terms, acc_o)
    step = nm * t_mb + bubble + dp_step_exposed + t_opt
    tokens = nm * c[C_MB] * dp * c[C_SEQ]
    peak = matrix_peak(a, 3 if c[C_FP8] > 0.0 else int(c[C_ADT]))

    # ---- memory per device -----------------------------------------------------------------
    w_mem, g_mem, o_mem, act = memory_per_device(m, c, Ls, psi_d, psi_e, a, ops)
    total = w_mem + g_mem + o_mem + act
    cap = usable_capacity(a)

    # ---- energy: every device runs the bottleneck stage's work ------------------------------
    e_dev = (nm * (acc_f[ACC_ENERGY] + acc_b[ACC_ENERGY] + acc_r[ACC_ENERGY]) + acc_o[ACC_ENERGY]
             + nm * link_bytes * a[A_E_LINK] + static_power(a) * step)

    res[TR_STEP] = step
    res[TR_TOKENS_PER_S] = tokens / step
    res[TR_MODEL_FLOPS] = model_flops
    res[TR_HW_FLOPS] = hw_flops
    res[TR_MFU] = model_flops / (step * devices * peak)
    res[TR_HFU] = hw_flops / (step * devices * peak)
    res[TR_MODEL_TFLOPS_DEV] = model_flops / (step * devices) / 1e12
    res[TR_HW_TFLOPS_DEV] = hw_flops / (step * devices) / 1e12
    # shares: these three cover the micro-batches' operators; optimizer, bubble and each
    # communication term are separate, and all of them add up to the step time
    res[TR_T_COMPUTE] = nm * (acc_f[ACC_COMPUTE] + acc_b[ACC_COMPUTE] + acc_r[ACC_COMPUTE])
    res[TR_T_MEM] = nm * (acc_f[ACC_MEM] + acc_b[ACC_MEM] + acc_r[ACC_MEM])
    res[TR_T_LAT] = nm * (acc_f[ACC_LAT] + acc_b[ACC_LAT] + acc_r[ACC_LAT])
    res[TR_T_TP] = nm * t_tp
    res[TR_T_PP] = nm * t_pp
    res[TR_T_EP] = nm * ep_exposed
    res[TR_T_CP] = nm * t_cp
    res[TR_T_DP] = nm * dp_mb_exposed + dp_step_exposed
    res[TR_T_OPT] = t_opt
    res[TR_T_BUBBLE] = bubble
    res[TR_T_FWD] = t_fwd
    res[TR_T_BWD] = t_bwd
    res[TR_T_RECOMP] = t_rc
    res[TR_T_MB] = t_mb
    res[TR_MEM_W] = w_mem
    res[TR_MEM_G] = g_mem
    res[TR_MEM_OPT] = o_mem
    res[TR_MEM_ACT] = act
    res[TR_MEM_TOTAL] = total
    res[TR_MEM_CAP] = cap
    res[TR_FITS] = 1.0 if total <= cap else 0.0
    res[TR_ENERGY] = e_dev * devices
    res[TR_PARAMS_DEV] = psi_d + psi_e
    res[TR_BUBBLE_FRAC] = bubble / step
    res[TR_LAYERS_STAGE] = Ls
    res[TR_TOKENS_STEP] = tokens
    res[TR_DP_BYTES] = dp_bytes


@njit(cache=True, parallel=True)
def train_grid(m, cfgs, a, out):
    """Evaluate every row of cfgs[n, N_CFG] into out[n, N_TR] in parallel."""
    n = cfgs.shape[0]
    for p in prange(n):
        ops = np.empty((N_SLOTS, N_OF))
        bops = np.empty((2 * N_SLOTS, N_OF))
        terms = np.empty((2 * N_SLOTS, N_TERMS))
        train_point(m, cfgs[p], a, ops, bops, terms, out[p])
