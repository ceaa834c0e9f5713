"""One training step of a decoder LLM on a tp x pp x dp cluster (docs/training.md).

The forward pass of one micro-batch on one pipeline stage is the inference operator table
(ops.build_ops with q = seq new tokens, no cache) with three training changes: the LM head and
the loss run on every position, no KV cache is written, and with expert parallelism each device
holds n_experts / ep experts and receives the tokens of ep devices. Backward is derived from it
row by row (two GEMMs per forward GEMM), recomputation repeats some forward rows, and every
table is priced by the inference pass loop (passes.cost_rows on the host: the same roofline
and the same accumulator as nmc.analyze). Collectives come from collectives.py.

    t_mb   = t_fwd + t_bwd + t_recompute + t_tp + t_ep + t_pp + t_dp(per micro-batch, exposed)
    t_step = n_micro * t_mb + (pp - 1) / vpp * t_mb + t_dp(per step, exposed) + t_optimizer

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
    ACC_COMPUTE, ACC_ENERGY, ACC_LAT, ACC_MEM, A_E_LINK,
    C_ADT, C_ALGO, C_DP, C_EP, C_GRAD_BYTES, C_MB, C_NMICRO, C_OVERLAP, C_OVERLAP_EP, C_PP,
    C_RECOMP, C_SEQ, C_SP, C_TP, C_UNFUSED, C_VPP, C_WDT, C_ZERO, DT_BYTES, K_COMM, K_CONTEXT,
    K_ELTWISE, K_GEMM, K_LMHEAD, K_NORM, K_SCORE, MAP_HOST_ONLY, M_D, M_EXPERTS, M_FF, M_FFE,
    M_GATED, M_HEADS, M_KVB_K, M_KVB_N, M_LAYERS, M_MOE_LAYERS, M_O_K, M_PARAMS, M_Q_OUT,
    M_SHARED_FF, M_TOPK, M_VOCAB, N_ACC, N_OF, N_SCEN, N_SLOTS, N_TERMS, N_TR, OP_ACT,
    OP_ALLREDUCE, OP_CONTEXT, OP_DOWN, OP_EACT, OP_EDOWN, OP_EMBED, OP_EUP, OP_FNORM, OP_KVB,
    OP_LMHEAD, OP_NORM1, OP_NORM2, OP_OPROJ, OP_QKV, OP_ROUTER, OP_SCORE, OP_SDOWN, OP_SOFTMAX,
    OP_SUP, OP_UP, O_AIN, O_AOUT, O_COMM, O_COUNT, O_FLOPS, O_K, O_KERNELS, O_KIND, O_KVRD, O_KVWR,
    O_M, O_N, O_TFRAC, O_W, RUN_FUSED, S_RUNTIME, RECOMP_FULL, RECOMP_NONE, RECOMP_SELECTIVE, S_MAPPING, S_TP,
    TR_BUBBLE_FRAC, TR_DP_BYTES, TR_ENERGY, TR_FITS, TR_HFU, TR_HW_FLOPS, TR_HW_TFLOPS_DEV,
    TR_LAYERS_STAGE, TR_MEM_ACT, TR_MEM_CAP, TR_MEM_G, TR_MEM_OPT, TR_MEM_TOTAL, TR_MEM_W, TR_MFU,
    TR_MODEL_FLOPS, TR_MODEL_TFLOPS_DEV, TR_PARAMS_DEV, TR_STEP, TR_TOKENS_PER_S, TR_TOKENS_STEP,
    TR_T_BUBBLE, TR_T_BWD, TR_T_COMPUTE, TR_T_DP, TR_T_EP, TR_T_FWD, TR_T_LAT, TR_T_MB, TR_T_MEM,
    TR_T_OPT, TR_T_PP, TR_T_RECOMP, TR_T_TP,
)
from .ops import NORM_FLOPS, SOFTMAX_FLOPS, _gemm, _vec, build_ops
from .passes import cost_rows
from .pim import static_power, usable_capacity

OPT_STATE_BYTES = 12.0      # fp32 master weights + Adam m + v per parameter
PARAM_BYTES = 2.0           # bf16 working copy of the weights (also under fp8 GEMMs)
OPT_FLOPS = 14.0            # AdamW update per parameter (moments, bias correction, decay, step)
BWD_ATTN = 2.0              # backward of the attention core = 2x its forward FLOPs
SEL_ALL, SEL_LAYERS, SEL_ATTN_CORE = 0, 1, 2   # row selections (select_rows, matrix_flops)


@njit(cache=True, inline="always")
def _is_matrix(kind):
    return kind == K_GEMM or kind == K_LMHEAD or kind == K_SCORE or kind == K_CONTEXT


@njit(cache=True, inline="always")
def _is_layer_row(i):
    return not (i == OP_EMBED or i == OP_FNORM or i == OP_LMHEAD or i == OP_ALLREDUCE)


@njit(cache=True, inline="always")
def _is_attn_core(i):
    return i == OP_SCORE or i == OP_SOFTMAX or i == OP_CONTEXT


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
def train_fwd_table(m, layers, mb, seq, tp, ep, wdt, adt, first, last, unfused, ops):
    """Forward operator table of one micro-batch (mb sequences of seq tokens) on a stage of
    `layers` layers, per tensor-parallel device. unfused: attention as three kernels (pre-
    FlashAttention): the full s x s score matrix is computed, written, read and rewritten by
    the softmax and read by the context GEMM."""
    ms = m.copy()
    L = m[M_LAYERS]
    ms[M_LAYERS] = layers
    ms[M_MOE_LAYERS] = m[M_MOE_LAYERS] * layers / L
    build_ops(ms, mb, seq, 0.0, tp, wdt, adt, adt, RUN_FUSED, ops)
    ab = DT_BYTES[int(adt)]
    wb = DT_BYTES[int(wdt)]
    T = mb * seq
    d = m[M_D]
    ops[OP_SCORE, O_KVWR] = 0.0                 # keys and values stay in the QKV output
    if unfused:
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
    if not first:
        ops[OP_EMBED, O_COUNT] = 0.0
    if last:
        # every position is predicted: LM head over T tokens, logits read again by the loss
        _vec(ops, OP_FNORM, K_NORM, 1.0, T * d, T * d, NORM_FLOPS * T * d, d * ab, ab)
        _gemm(ops, OP_LMHEAD, 1.0, T, m[M_VOCAB] / tp, d, 1.0, wb, ab, adt, 1.0)
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
        _gemm(ops, OP_EUP, n, per, nup * ffe, d, G, wb, ab, adt, 1.0)
        _gemm(ops, OP_EDOWN, n, per, d, ffe, G, wb, ab, adt, 1.0)


@njit(cache=True, inline="always")
def _copy_row(src, i, dst, j):
    for k in range(N_OF):
        dst[j, k] = src[i, k]


@njit(cache=True)
def backward_rows(ops, i, gb, wb, sc, j0):
    """Write the backward kernels of forward row i into sc[j0] (and sc[j0 + 1]); return how
    many.

    A GEMM Y[M,N] = X[M,K] W[K,N] becomes two GEMMs: dX[M,K] = dY W^T (reads dY and W, writes
    dX) and dW[K,N] = X^T dY (reads X and dY, reads and writes the gradient accumulator of
    gb bytes per weight): 2x the FLOPs. The attention core costs BWD_ATTN x its forward FLOPs
    and reads and writes twice its forward bytes; vector ops read their input and dY and write
    dX (2x FLOPs)."""
    kind = int(ops[i, O_KIND])
    _copy_row(ops, i, sc, j0)
    if kind == K_GEMM or kind == K_LMHEAD:
        M = ops[i, O_M]
        N = ops[i, O_N]
        K = ops[i, O_K]
        # dgrad: M x K output, reduction over N, W as the stationary operand
        sc[j0, O_N] = K
        sc[j0, O_K] = N
        sc[j0, O_AIN] = ops[i, O_AOUT]
        sc[j0, O_AOUT] = ops[i, O_AIN]
        # wgrad: K x N output, reduction over the M tokens, dY as the streamed operand
        j1 = j0 + 1
        _copy_row(ops, i, sc, j1)
        sc[j1, O_M] = K
        sc[j1, O_N] = N
        sc[j1, O_K] = M
        sc[j1, O_AIN] = ops[i, O_AIN]
        sc[j1, O_W] = ops[i, O_AOUT]
        sc[j1, O_AOUT] = 2.0 * ops[i, O_W] * gb / wb
        return 2
    if kind == K_SCORE or kind == K_CONTEXT:
        sc[j0, O_FLOPS] = BWD_ATTN * ops[i, O_FLOPS]
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
def backward_table(ops, gb, wb, bops):
    """The backward pass of forward table ops as an operator table bops[2 N_SLOTS, N_OF]: rows
    2i and 2i + 1 hold the backward kernels of forward row i (count 0 where there is one)."""
    for j in range(bops.shape[0]):
        bops[j, O_COUNT] = 0.0
    for i in range(N_SLOTS):
        if ops[i, O_COUNT] == 0.0 or int(ops[i, O_KIND]) == K_COMM:
            continue
        backward_rows(ops, i, gb, wb, bops, 2 * i)


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


@njit(cache=True)
def stage_passes(m, c, Ls, a, s, ops, sel, bops, terms, acc_f, acc_b, acc_r):
    """Forward, backward and recomputed-forward time of one micro-batch on the slowest stage
    (Ls layers plus the LM head and loss), each table priced by passes.cost_rows on the host
    into its own accumulator. Leaves the stage's forward table in ops."""
    tp = c[C_TP]
    rc = int(c[C_RECOMP])
    wdt = c[C_WDT]
    train_fwd_table(m, Ls, c[C_MB], c[C_SEQ], tp, c[C_EP], wdt, c[C_ADT], c[C_PP] <= 1.0, True,
                    c[C_UNFUSED] > 0.5, ops)
    select_rows(ops, SEL_ALL, sel)
    t_fwd = cost_rows(sel, a, s, terms, acc_f, True)
    backward_table(ops, c[C_GRAD_BYTES], DT_BYTES[int(wdt)], bops)
    t_bwd = cost_rows(bops, a, s, terms, acc_b, True)
    t_rc = 0.0
    if rc != RECOMP_NONE:
        select_rows(ops, SEL_LAYERS if rc == RECOMP_FULL else SEL_ATTN_CORE, sel)
        t_rc = cost_rows(sel, a, s, terms, acc_r, True)
    return t_fwd, t_bwd, t_rc


@njit(cache=True)
def model_parallel_comm(m, c, Ls, a, ops):
    """Per micro-batch: tensor-parallel all-reduces, expert all-to-alls and pipeline sends of
    the stage whose forward table is ops -> (t_tp, t_ep, t_pp, link bytes)."""
    tp = c[C_TP]
    ep = c[C_EP]
    sp = c[C_SP]
    rc = int(c[C_RECOMP])
    algo = int(c[C_ALGO])
    ab = DT_BYTES[int(c[C_ADT])]
    T = c[C_MB] * c[C_SEQ]
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
    # expert parallel: dispatch + combine all-to-all per MoE layer, forward and backward
    t_ep = 0.0
    n_moe_s = m[M_MOE_LAYERS] * Ls / m[M_LAYERS]
    if ep > 1.0 and n_moe_s > 0.0:
        S = T * m[M_TOPK] * d * ab
        if sp > 0.5 and tp > 1.0:
            S /= tp
        n_a2a = n_moe_s * (6.0 if rc == RECOMP_FULL else 4.0)
        t_ep = n_a2a * group_time(COLL_ALLTOALL, S, ep, tp, a, algo)
        link_bytes += n_a2a * (ep - 1.0) / ep * S
    # pipeline parallel: activations forward, gradients backward, per virtual stage
    t_pp = 0.0
    if c[C_PP] > 1.0:
        vpp = max(c[C_VPP], 1.0)
        S = T * d * ab
        if sp > 0.5 and tp > 1.0:
            S /= tp
        t_pp = 2.0 * vpp * p2p_time(S, tp * c[C_DP], a)
        link_bytes += 2.0 * vpp * S
    return t_tp, t_ep, t_pp, link_bytes


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


@njit(cache=True)
def data_parallel_comm(c, psi_d, psi_e, a):
    """Data-parallel (ZeRO stage 0-3) traffic of the dense and expert parameters ->
    (time per micro-batch, time per step, bytes per step per device)."""
    dp = c[C_DP]
    tp = c[C_TP]
    ep = c[C_EP]
    nm = c[C_NMICRO]
    gb = c[C_GRAD_BYTES]
    zero = int(c[C_ZERO])
    algo = int(c[C_ALGO])
    rc = int(c[C_RECOMP])
    dp_e = max(dp / ep, 1.0)
    t_dp_step = 0.0
    t_dp_mb = 0.0
    dp_bytes = 0.0
    for part in range(2):
        psi = psi_d if part == 0 else psi_e
        g = dp if part == 0 else dp_e
        stride = tp if part == 0 else tp * ep
        if psi <= 0.0 or g <= 1.0:
            continue
        t_ar = group_time(COLL_ALLREDUCE, gb * psi, g, stride, a, algo)
        t_rs = group_time(COLL_REDUCE_SCATTER, gb * psi, g, stride, a, algo)
        t_ag = group_time(COLL_ALLGATHER, PARAM_BYTES * psi, g, stride, a, algo)
        f = (g - 1.0) / g
        if zero == 0:
            t_dp_step += t_ar
            dp_bytes += 2.0 * f * gb * psi
        elif zero == 1:
            t_dp_step += t_rs + t_ag
            dp_bytes += f * (gb + PARAM_BYTES) * psi
        elif zero == 2:
            t_dp_mb += t_rs
            t_dp_step += t_ag
            dp_bytes += f * (gb * nm + PARAM_BYTES) * psi
        else:
            n_ag = 3.0 if rc == RECOMP_FULL else 2.0
            t_dp_mb += n_ag * t_ag + t_rs
            dp_bytes += f * (n_ag * PARAM_BYTES + gb) * psi * nm
    return t_dp_mb, t_dp_step, dp_bytes


@njit(cache=True)
def optimizer_pass(c, Ls, psi_d, psi_e, a, s, terms, acc):
    """AdamW on this device's shard: one fused elementwise kernel per layer over the gradients,
    master weights and moments, as a one-row operator table priced by passes.cost_rows."""
    dp = c[C_DP]
    dp_e = max(dp / c[C_EP], 1.0)
    zero = int(c[C_ZERO])
    n_upd = psi_d / (dp if zero >= 1 else 1.0) + psi_e / (dp_e if zero >= 1 else 1.0)
    opt = np.zeros((1, N_OF))
    _vec(opt, 0, K_ELTWISE, 1.0, 0.0, 0.0, OPT_FLOPS * n_upd, 0.0, 1.0)
    opt[0, O_AIN] = (c[C_GRAD_BYTES] + OPT_STATE_BYTES) * n_upd
    opt[0, O_AOUT] = (OPT_STATE_BYTES + PARAM_BYTES) * n_upd
    opt[0, O_KERNELS] = Ls
    return cost_rows(opt, a, s, terms, acc, True)


@njit(cache=True)
def memory_per_device(m, c, Ls, psi_d, psi_e, a, ops):
    """(weights, gradients, optimizer state, activations) bytes per device (ZeRO stages after
    Rajbhandari et al. 2020). Overwrites ops with the first stage's forward table."""
    tp = c[C_TP]
    pp = c[C_PP]
    dp = c[C_DP]
    nm = c[C_NMICRO]
    mb = c[C_MB]
    seq = c[C_SEQ]
    gb = c[C_GRAD_BYTES]
    zero = int(c[C_ZERO])
    vpp = max(c[C_VPP], 1.0)
    dp_e = max(dp / c[C_EP], 1.0)
    psi_dev = psi_d + psi_e
    w_mem = PARAM_BYTES * psi_dev
    g_mem = gb * psi_dev
    o_mem = OPT_STATE_BYTES * psi_dev
    sh_d = psi_d / dp
    sh_e = psi_e / dp_e
    if zero >= 1:
        o_mem = OPT_STATE_BYTES * (sh_d + sh_e)
    if zero >= 2:
        g_mem = gb * (sh_d + sh_e)
    if zero >= 3:
        # shards plus the gathered parameters of the layer being computed (and the next)
        w_mem = PARAM_BYTES * (sh_d + sh_e + 2.0 * psi_dev / max(Ls, 1.0))
    # activations: the first stage holds min(pp, n_micro) micro-batches in 1F1B (more with
    # interleaving); the last stage one micro-batch plus fp32 logits
    unf = c[C_UNFUSED] > 0.5
    train_fwd_table(m, Ls, mb, seq, tp, c[C_EP], c[C_WDT], c[C_ADT], True, False, unf, ops)
    per_mb = saved_activations(ops, m, mb, seq, tp, c[C_ADT], c[C_SP], int(c[C_RECOMP]), Ls, unf)
    logits = mb * seq * m[M_VOCAB] / tp * 4.0
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
    nm = c[C_NMICRO]
    rc = int(c[C_RECOMP])
    ovl = c[C_OVERLAP]
    L = m[M_LAYERS]
    Ls = math.ceil(L / pp)
    devices = tp * pp * dp
    s = np.zeros(N_SCEN)                        # the pass loop reads tp (and the mapping)
    s[S_TP] = tp
    s[S_MAPPING] = MAP_HOST_ONLY
    s[S_RUNTIME] = RUN_FUSED                    # CPU runs ahead: only GPU-side kernel gaps

    # ---- whole-model FLOPs per micro-batch (model FLOPs do not depend on the split) ---------
    train_fwd_table(m, L, c[C_MB], c[C_SEQ], 1.0, 1.0, c[C_WDT], c[C_ADT], True, True, False, ops)
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
    t_fwd, t_bwd, t_rc = stage_passes(m, c, Ls, a, s, ops, sel, bops, terms, acc_f, acc_b, acc_r)
    t_tp, t_ep, t_pp, link_bytes = model_parallel_comm(m, c, Ls, a, ops)
    psi_d, psi_e = stage_params(m, c, Ls)
    t_dp_mb, t_dp_step, dp_bytes = data_parallel_comm(c, psi_d, psi_e, a)
    link_bytes += dp_bytes / nm
    dp_mb_exposed = max(t_dp_mb - ovl * (t_fwd + t_bwd), 0.0)
    dp_step_exposed = max(t_dp_step - ovl * t_bwd, 0.0)

    # ---- one micro-batch, the pipeline, the optimizer --------------------------------------
    # expert all-to-all hidden behind the other micro-batch's compute (DualPipe-style)
    ep_exposed = max(t_ep - c[C_OVERLAP_EP] * (t_fwd + t_bwd + t_rc), 0.0)
    t_mb = t_fwd + t_bwd + t_rc + t_tp + ep_exposed + t_pp + dp_mb_exposed
    bubble = (pp - 1.0) / max(c[C_VPP], 1.0) * t_mb if pp > 1.0 else 0.0
    t_opt = optimizer_pass(c, Ls, psi_d, psi_e, a, s, terms, acc_o)
    step = nm * t_mb + bubble + dp_step_exposed + t_opt
    tokens = nm * c[C_MB] * dp * c[C_SEQ]
    peak = matrix_peak(a, int(c[C_ADT]))

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
