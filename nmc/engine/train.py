"""One training step of a decoder LLM on a tp x pp x dp cluster (docs/training.md).

The forward pass of one micro-batch on one pipeline stage is the inference operator table
(ops.build_ops with q = seq new tokens, no cache) with three training changes: the LM head and
the loss run on every position, no KV cache is written, and with expert parallelism each device
holds n_experts / ep experts and receives the tokens of ep devices. Backward is derived from it
row by row (two GEMMs per forward GEMM), recomputation repeats some forward rows, and every row
is costed with gpu.gpu_cost (the one roofline). Collectives come from collectives.py.

    t_mb   = t_fwd + t_bwd + t_recompute + t_tp + t_ep + t_pp + t_dp(per micro-batch, exposed)
    t_step = n_micro * t_mb + (pp - 1) / vpp * t_mb + t_dp(per step, exposed) + t_optimizer

The configuration enters as a flat vector (C_*), results leave as one (TR_*); train_grid
evaluates many configurations in parallel without Python objects per point."""
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
from .gpu import gpu_cost, matrix_peak
from .layout import (
    A_E_LINK,
    A_MEM_CAP,
    A_MEM_USABLE,
    A_P_STATIC,
    DT_BYTES,
    K_COMM,
    K_CONTEXT,
    K_ELTWISE,
    K_GEMM,
    K_LMHEAD,
    K_NORM,
    K_SCORE,
    M_D,
    M_EXPERTS,
    M_FF,
    M_FFE,
    M_GATED,
    M_HEADS,
    M_KVB_K,
    M_KVB_N,
    M_LAYERS,
    M_MOE_LAYERS,
    M_O_K,
    M_PARAMS,
    M_Q_OUT,
    M_SHARED_FF,
    M_TOPK,
    M_VOCAB,
    N_OF,
    N_SLOTS,
    N_TERMS,
    O_AIN,
    O_AOUT,
    O_COMM,
    O_COUNT,
    O_FLOPS,
    O_K,
    O_KERNELS,
    O_KIND,
    O_KVRD,
    O_KVWR,
    O_M,
    O_N,
    O_TFRAC,
    O_W,
    OP_ACT,
    OP_ALLREDUCE,
    OP_CONTEXT,
    OP_DOWN,
    OP_EACT,
    OP_EDOWN,
    OP_EMBED,
    OP_EUP,
    OP_FNORM,
    OP_KVB,
    OP_LMHEAD,
    OP_NORM1,
    OP_NORM2,
    OP_OPROJ,
    OP_QKV,
    OP_ROUTER,
    OP_SCORE,
    OP_SDOWN,
    OP_SOFTMAX,
    OP_SUP,
    OP_UP,
    T_COMPUTE,
    T_ENERGY,
    T_LAT,
    T_MEM,
)
from .ops import NORM_FLOPS, SOFTMAX_FLOPS, _gemm, _vec, build_ops

# ---- configuration vector -------------------------------------------------------------------
(C_TP, C_PP, C_DP, C_EP, C_MB, C_NMICRO, C_SEQ, C_RECOMP, C_ZERO, C_WDT, C_ADT, C_VPP, C_SP,
 C_OVERLAP, C_ALGO, C_GRAD_BYTES, C_UNFUSED, C_OVERLAP_EP) = range(18)
N_CFG = 18
CFG_FIELDS = ("tp", "pp", "dp", "ep", "micro_batch", "n_micro", "seq", "recompute", "zero",
              "weights", "activations", "vpp", "sequence_parallel", "overlap_dp", "algorithm",
              "grad_bytes", "unfused_attention", "overlap_ep")
RECOMP_NONE, RECOMP_SELECTIVE, RECOMP_FULL = range(3)
RECOMP_NAMES = ("none", "selective", "full")

# ---- results ---------------------------------------------------------------------------------
(TR_STEP, TR_TOKENS_PER_S, TR_MODEL_FLOPS, TR_HW_FLOPS, TR_MFU, TR_HFU, TR_MODEL_TFLOPS_DEV,
 TR_HW_TFLOPS_DEV, TR_T_COMPUTE, TR_T_MEM, TR_T_LAT, TR_T_TP, TR_T_PP, TR_T_EP, TR_T_DP,
 TR_T_OPT, TR_T_BUBBLE, TR_T_FWD, TR_T_BWD, TR_T_RECOMP, TR_T_MB, TR_MEM_W, TR_MEM_G, TR_MEM_OPT,
 TR_MEM_ACT, TR_MEM_TOTAL, TR_MEM_CAP, TR_FITS, TR_ENERGY, TR_PARAMS_DEV, TR_BUBBLE_FRAC,
 TR_LAYERS_STAGE, TR_TOKENS_STEP, TR_DP_BYTES) = range(34)
N_TR = 34
TR_FIELDS = ("step_time_s", "tokens_per_s", "model_flops_per_step", "hardware_flops_per_step",
             "mfu", "hfu", "model_tflops_per_device", "hardware_tflops_per_device",
             "t_compute_s", "t_memory_s", "t_latency_s", "t_comm_tp_s", "t_comm_pp_s",
             "t_comm_ep_s", "t_comm_dp_s", "t_optimizer_s", "t_bubble_s", "t_forward_mb_s",
             "t_backward_mb_s", "t_recompute_mb_s", "t_micro_batch_s", "mem_weights_bytes",
             "mem_grads_bytes", "mem_optimizer_bytes", "mem_activations_bytes", "mem_total_bytes",
             "mem_capacity_bytes", "fits", "energy_per_step_j", "params_per_device",
             "bubble_fraction", "layers_per_stage", "tokens_per_step", "dp_bytes_per_step")

OPT_STATE_BYTES = 12.0      # fp32 master weights + Adam m + v per parameter
PARAM_BYTES = 2.0           # bf16 working copy of the weights (also under fp8 GEMMs)
OPT_FLOPS = 14.0            # AdamW update per parameter (moments, bias correction, decay, step)
BWD_ATTN = 2.0              # backward of the attention core = 2x its forward FLOPs

# accumulator slots
ACC_COMP, ACC_MEMT, ACC_LATT, ACC_EN, ACC_FL, ACC_TIME = range(6)


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
    build_ops(ms, mb, seq, 0.0, tp, wdt, adt, adt, ops)
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
def backward_rows(ops, i, gb, wb, sc):
    """Write the backward kernels of forward row i into sc[0] (and sc[1]); return how many.

    A GEMM Y[M,N] = X[M,K] W[K,N] becomes two GEMMs: dX[M,K] = dY W^T (reads dY and W, writes
    dX) and dW[K,N] = X^T dY (reads X and dY, reads and writes the gradient accumulator of
    gb bytes per weight): 2x the FLOPs. The attention core costs BWD_ATTN x its forward FLOPs
    and reads and writes twice its forward bytes; vector ops read their input and dY and write
    dX (2x FLOPs)."""
    kind = int(ops[i, O_KIND])
    _copy_row(ops, i, sc, 0)
    if kind == K_GEMM or kind == K_LMHEAD:
        M = ops[i, O_M]
        N = ops[i, O_N]
        K = ops[i, O_K]
        # dgrad: M x K output, reduction over N, W as the stationary operand
        sc[0, O_N] = K
        sc[0, O_K] = N
        sc[0, O_AIN] = ops[i, O_AOUT]
        sc[0, O_AOUT] = ops[i, O_AIN]
        # wgrad: K x N output, reduction over the M tokens, dY as the streamed operand
        _copy_row(ops, i, sc, 1)
        sc[1, O_M] = K
        sc[1, O_N] = N
        sc[1, O_K] = M
        sc[1, O_AIN] = ops[i, O_AIN]
        sc[1, O_W] = ops[i, O_AOUT]
        sc[1, O_AOUT] = 2.0 * ops[i, O_W] * gb / wb
        return 2
    if kind == K_SCORE or kind == K_CONTEXT:
        sc[0, O_FLOPS] = BWD_ATTN * ops[i, O_FLOPS]
        sc[0, O_AIN] = 2.0 * ops[i, O_AIN] + ops[i, O_AOUT]
        sc[0, O_AOUT] = ops[i, O_AIN] + ops[i, O_KVRD]
        return 1
    sc[0, O_FLOPS] = 2.0 * ops[i, O_FLOPS]
    sc[0, O_AIN] = ops[i, O_AIN] + ops[i, O_AOUT]
    sc[0, O_AOUT] = ops[i, O_AIN]
    if ops[i, O_W] > 0.0:
        sc[0, O_W] = ops[i, O_W] * (1.0 + 2.0 * gb / wb)
    return 1


@njit(cache=True)
def _acc_row(tab, j, a, tp, terms, acc, n):
    """Cost row j of tab with gpu_cost, add n instances to acc, return their time."""
    gpu_cost(tab, j, a, tp, terms)
    tc = terms[j, T_COMPUTE]
    tm = terms[j, T_MEM]
    tl = terms[j, T_LAT]
    if tc >= tm:
        acc[ACC_COMP] += n * tc
    else:
        acc[ACC_MEMT] += n * tm
    acc[ACC_LATT] += n * tl
    acc[ACC_EN] += n * terms[j, T_ENERGY]
    if _is_matrix(int(tab[j, O_KIND])):
        acc[ACC_FL] += n * tab[j, O_FLOPS]
    t = n * (max(tc, tm) + tl)
    acc[ACC_TIME] += t
    return t


@njit(cache=True)
def _selected(i, sel):
    if sel == 1:
        return _is_layer_row(i)
    if sel == 2:
        return _is_attn_core(i)
    return True


@njit(cache=True)
def cost_rows(ops, a, tp, terms, acc, sel):
    """Cost the forward (non-communication) rows and add count-weighted totals to acc.
    sel: 0 every row, 1 the rows inside the layers, 2 the attention core only."""
    total = 0.0
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0 or int(ops[i, O_KIND]) == K_COMM or not _selected(i, sel):
            continue
        total += _acc_row(ops, i, a, tp, terms, acc, n)
    return total


@njit(cache=True)
def cost_backward(ops, a, tp, gb, wb, acc, sc, st):
    """Cost the backward kernels of every forward row."""
    total = 0.0
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0 or int(ops[i, O_KIND]) == K_COMM:
            continue
        k = backward_rows(ops, i, gb, wb, sc)
        for j in range(k):
            total += _acc_row(sc, j, a, tp, st, acc, n)
    return total


@njit(cache=True)
def matrix_flops(ops, sel):
    f = 0.0
    for i in range(N_SLOTS):
        if sel == 1 and not _is_layer_row(i):
            continue
        if sel == 2 and not _is_attn_core(i):
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
def train_point(m, c, a, ops, bops, terms, res):
    """Evaluate one training configuration c[N_CFG] into res[N_TR]."""
    for j in range(N_TR):
        res[j] = 0.0
    tp = c[C_TP]
    pp = c[C_PP]
    dp = c[C_DP]
    ep = c[C_EP]
    mb = c[C_MB]
    nm = c[C_NMICRO]
    seq = c[C_SEQ]
    rc = int(c[C_RECOMP])
    zero = int(c[C_ZERO])
    wdt = c[C_WDT]
    adt = c[C_ADT]
    vpp = max(c[C_VPP], 1.0)
    sp = c[C_SP]
    ovl = c[C_OVERLAP]
    algo = int(c[C_ALGO])
    gb = c[C_GRAD_BYTES]
    unf = c[C_UNFUSED] > 0.5
    wb = DT_BYTES[int(wdt)]
    ab = DT_BYTES[int(adt)]
    L = m[M_LAYERS]
    Ls = math.ceil(L / pp)
    devices = tp * pp * dp
    T = mb * seq
    d = m[M_D]

    # ---- whole-model FLOPs per micro-batch (model FLOPs do not depend on the split) ---------
    train_fwd_table(m, L, mb, seq, 1.0, 1.0, wdt, adt, True, True, False, ops)
    f_fwd = matrix_flops(ops, 0)
    if rc == RECOMP_FULL:
        f_rc = matrix_flops(ops, 1)
    elif rc == RECOMP_SELECTIVE:
        f_rc = matrix_flops(ops, 2)
    else:
        f_rc = 0.0
    model_flops = 3.0 * f_fwd * nm * dp
    hw_flops = (3.0 * f_fwd + f_rc) * nm * dp

    # ---- the slowest stage: Ls layers plus the LM head and loss (last stage) ---------------
    train_fwd_table(m, Ls, mb, seq, tp, ep, wdt, adt, pp <= 1.0, True, unf, ops)
    acc_f = np.zeros(6)
    acc_b = np.zeros(6)
    acc_r = np.zeros(6)
    t_fwd = cost_rows(ops, a, tp, terms, acc_f, 0)
    t_bwd = cost_backward(ops, a, tp, gb, wb, acc_b, bops, np.empty((2, N_TERMS)))
    if rc == RECOMP_FULL:
        t_rc = cost_rows(ops, a, tp, terms, acc_r, 1)
    elif rc == RECOMP_SELECTIVE:
        t_rc = cost_rows(ops, a, tp, terms, acc_r, 2)
    else:
        t_rc = 0.0
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
    n_moe_s = m[M_MOE_LAYERS] * Ls / L
    if ep > 1.0 and n_moe_s > 0.0:
        S = T * m[M_TOPK] * d * ab
        if sp > 0.5 and tp > 1.0:
            S /= tp
        n_a2a = n_moe_s * (6.0 if rc == RECOMP_FULL else 4.0)
        t_ep = n_a2a * group_time(COLL_ALLTOALL, S, ep, tp, a, algo)
        link_bytes += n_a2a * (ep - 1.0) / ep * S

    # pipeline parallel: activations forward, gradients backward, per virtual stage
    t_pp = 0.0
    if pp > 1.0:
        S = T * d * ab
        if sp > 0.5 and tp > 1.0:
            S /= tp
        t_pp = 2.0 * vpp * p2p_time(S, tp * dp, a)
        link_bytes += 2.0 * vpp * S

    # ---- parameters per device and data-parallel traffic ----------------------------------
    dense, experts, rest = param_split(m)
    if pp <= 1.0:
        bound = rest
    else:
        bound = max(rest - m[M_VOCAB] * d, m[M_VOCAB] * d)
    psi_d = (dense * Ls / L + bound) / tp
    psi_e = experts * Ls / L / (tp * ep)
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
    link_bytes += dp_bytes / nm
    dp_mb_exposed = max(t_dp_mb - ovl * (t_fwd + t_bwd), 0.0)
    dp_step_exposed = max(t_dp_step - ovl * t_bwd, 0.0)

    # ---- one micro-batch, the pipeline, the optimizer --------------------------------------
    # expert all-to-all hidden behind the other micro-batch's compute (DualPipe-style)
    ep_exposed = max(t_ep - c[C_OVERLAP_EP] * (t_fwd + t_bwd + t_rc), 0.0)
    t_mb = t_fwd + t_bwd + t_rc + t_tp + ep_exposed + t_pp + dp_mb_exposed
    bubble = (pp - 1.0) / vpp * t_mb if pp > 1.0 else 0.0
    # optimizer: AdamW on this device's shard, one fused pass over grads, master, m, v
    n_upd = psi_d / (dp if zero >= 1 else 1.0) + psi_e / (dp_e if zero >= 1 else 1.0)
    s = OP_NORM1                                # scratch row for the optimizer kernel
    _vec(ops, s, K_ELTWISE, 1.0, 0.0, 0.0, OPT_FLOPS * n_upd, 0.0, 1.0)
    ops[s, O_AIN] = (gb + OPT_STATE_BYTES) * n_upd
    ops[s, O_AOUT] = (OPT_STATE_BYTES + PARAM_BYTES) * n_upd
    ops[s, O_KERNELS] = Ls
    acc_o = np.zeros(6)
    for j in range(N_SLOTS):
        if j != s:
            ops[j, O_COUNT] = 0.0
    t_opt = cost_rows(ops, a, tp, terms, acc_o, 0)

    step = nm * t_mb + bubble + dp_step_exposed + t_opt
    tokens = nm * mb * dp * seq
    peak = matrix_peak(a, int(adt))

    # ---- memory per device (ZeRO stages after Rajbhandari et al. 2020) ---------------------
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
    train_fwd_table(m, Ls, mb, seq, tp, ep, wdt, adt, True, False, unf, ops)
    per_mb = saved_activations(ops, m, mb, seq, tp, adt, sp, rc, Ls, unf)
    logits = T * m[M_VOCAB] / tp * 4.0
    if pp > 1.0:
        infl = min(pp, nm)
        if vpp > 1.0:
            infl *= 1.0 + (pp - 1.0) / (pp * vpp)
        act = max(per_mb * infl, per_mb + logits)
    else:
        act = per_mb + logits
    total = w_mem + g_mem + o_mem + act
    cap = a[A_MEM_CAP] * a[A_MEM_USABLE]

    # ---- energy: every device runs the bottleneck stage's work ------------------------------
    e_dev = (nm * (acc_f[ACC_EN] + acc_b[ACC_EN] + acc_r[ACC_EN]) + acc_o[ACC_EN]
             + nm * link_bytes * a[A_E_LINK] + a[A_P_STATIC] * step)

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
    res[TR_T_COMPUTE] = nm * (acc_f[ACC_COMP] + acc_b[ACC_COMP] + acc_r[ACC_COMP])
    res[TR_T_MEM] = nm * (acc_f[ACC_MEMT] + acc_b[ACC_MEMT] + acc_r[ACC_MEMT])
    res[TR_T_LAT] = nm * (acc_f[ACC_LATT] + acc_b[ACC_LATT] + acc_r[ACC_LATT])
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
    res[TR_PARAMS_DEV] = psi_dev
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
        bops = np.empty((N_SLOTS, N_OF))
        terms = np.empty((N_SLOTS, N_TERMS))
        train_point(m, cfgs[p], a, ops, bops, terms, out[p])
