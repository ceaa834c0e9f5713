"""Cost of one operator instance on a near-memory (PIM) engine, and the PIM mapping policies
(docs/nmc.md). Everything is derived here, inside numba, from the raw DRAM organisation,
timing and PIM-unit parameters of the arch vector, so sweeps over any of them work.

Engine 1 = the PIM units in the DRAM banks. The host (engine 0) is costed by gpu.py."""
import math

from numba import njit

from ..arch.schema import INDEX as _AI
from .gpu import gpu_cost
from .layout import (
    A_MEM_CAP,
    A_MEM_USABLE,
    A_P_STATIC,
    DT_BYTES,
    K_COMM,
    K_CONTEXT,
    K_ELTWISE,
    K_EMBED,
    K_GEMM,
    K_LMHEAD,
    K_NORM,
    K_SCORE,
    K_SOFTMAX,
    MAP_AUTO,
    MAP_HOST_ONLY,
    MAP_PIM_ALL_DECODE,
    MAP_PIM_ATTENTION,
    MAP_PIM_GEMV,
    N_SLOTS,
    O_AIN,
    O_AOUT,
    O_COUNT,
    O_DTYPE,
    O_FLOPS,
    O_K,
    O_KERNELS,
    O_KIND,
    O_KVRD,
    O_KVWR,
    O_M,
    O_N,
    O_W,
    OP_LMHEAD,
    OP_QKV,
    S_ADT,
    S_KVDT,
    S_MAPPING,
    S_RUNTIME,
    S_TP,
    S_WDT,
    T_COMM,
    T_COMPUTE,
    T_DRAM,
    T_ENERGY,
    T_ENGINE,
    T_LAT,
    T_MEM,
    T_PEAK,
    T_SRAM,
)

ENGINE_HOST = 0
ENGINE_PIM = 1

A_PIM_DEVICES = _AI["pim_devices"]
A_PIM_CHANNELS = _AI["pim_channels"]
A_PIM_BANKS = _AI["pim_banks"]
A_PIM_PAGE = _AI["pim_page"]
A_PIM_BURST = _AI["pim_burst"]
A_PIM_PINS = _AI["pim_pins"]
A_PIM_IO_RATE = _AI["pim_io_rate"]
A_PIM_LOCALITY = _AI["pim_locality"]
A_PIM_TCCD = _AI["pim_tccd"]
A_PIM_TRCD = _AI["pim_trcd"]
A_PIM_TRP = _AI["pim_trp"]
A_PIM_TRAS = _AI["pim_tras"]
A_PIM_REFRESH = _AI["pim_refresh"]
A_PIM_BPU = _AI["pim_banks_per_unit"]
A_PIM_UNIT_FLOPS = _AI["pim_unit_flops"]
A_PIM_UNIT_INT8 = _AI["pim_unit_flops_int8"]
A_PIM_UNIT_FP32 = _AI["pim_unit_flops_fp32"]
A_PIM_BUFFER = _AI["pim_buffer"]
A_PIM_KERNEL_OVH = _AI["pim_kernel_overhead"]
A_PIM_MODE_SWITCH = _AI["pim_mode_switch"]
A_PIM_BROADCAST = _AI["pim_broadcast"]
A_PIM_E_BANK = _AI["pim_e_bank"]
A_PIM_E_ACT = _AI["pim_e_act"]
A_PIM_E_IO = _AI["pim_e_io"]
A_PIM_E_FLOP = _AI["pim_e_flop"]
A_PIM_CAPACITY = _AI["pim_capacity"]
A_PIM_CAP_LOSS = _AI["pim_capacity_loss"]
A_PIM_RANKS = _AI["pim_ranks"]
A_PIM_TFAW = _AI["pim_tfaw"]
A_PIM_FAW_ACTS = _AI["pim_faw_acts"]
A_PIM_TRRD = _AI["pim_trrd"]
A_PIM_ACT_WEIGHT = _AI["pim_act_weight"]
A_PIM_POWER = _AI["pim_power"]
A_PIM_OVERLAP = _AI["pim_overlap"]
A_PIM_P_STATIC = _AI["pim_p_static"]


# ---- derived quantities (all from raw parameters) ---------------------------------------------
@njit(cache=True, inline="always")
def pim_units(a):
    """PIM units in the system: devices x channels x banks / banks per unit."""
    return a[A_PIM_DEVICES] * a[A_PIM_CHANNELS] * a[A_PIM_BANKS] / a[A_PIM_BPU]


@njit(cache=True, inline="always")
def pim_ext_bw(a):
    """External (host <-> PIM) bandwidth of the whole system: devices x pins x rate per pin."""
    return a[A_PIM_DEVICES] * a[A_PIM_PINS] * a[A_PIM_IO_RATE]


@njit(cache=True, inline="always")
def pim_unit_rate(a, dt):
    """FLOP/s of one PIM unit for compute dtype code dt (0 fp32, 1-2 bf16/fp16, 3-5 8/4-bit)."""
    f16 = a[A_PIM_UNIT_FLOPS]
    if dt == 0:
        return a[A_PIM_UNIT_FP32] if a[A_PIM_UNIT_FP32] > 0 else 0.5 * f16
    if dt >= 3:
        return a[A_PIM_UNIT_INT8] if a[A_PIM_UNIT_INT8] > 0 else f16
    return f16


@njit(cache=True, inline="always")
def pim_reuse(a, eb, ab):
    """Input vectors one streamed burst of matrix data is applied to before it must be read
    again: the unit holds, per vector, the input slice matching one burst (burst/eb elements of
    ab bytes) and as many accumulators. eb = bytes per matrix element, ab = per activation."""
    per_vec = 2.0 * a[A_PIM_BURST] / eb * ab
    return max(1.0, math.floor(a[A_PIM_BUFFER] / per_vec))


@njit(cache=True, inline="always")
def pim_domains(a):
    """Activation domains in the system (tFAW / tRRD windows): devices x channels x ranks."""
    return a[A_PIM_DEVICES] * a[A_PIM_CHANNELS] * a[A_PIM_RANKS]


@njit(cache=True, inline="always")
def pim_act_slot(a):
    """Time one bank activation occupies in its domain's activation budget:
    w x max(tFAW / n_FAW, tRRD) (0 when neither limit is set or w = 0)."""
    return a[A_PIM_ACT_WEIGHT] * max(a[A_PIM_TFAW] / a[A_PIM_FAW_ACTS], a[A_PIM_TRRD])


@njit(cache=True, inline="always")
def pim_segment_timing(a, run):
    """u, nb and the DRAM-timing time per activation of one unit (no tFAW / power limit).

    u = min(run, page x locality); nb = u / burst (runs shorter than a row are packed back to
    back, so a partial burst at a run's end is shared with the next run); streaming takes
    nb x tCCD; a bank is busy max(tRAS, tRCD + nb x tCCD) + tRP per activation; a unit serving
    k banks overlaps the activation of one bank with streaming from another:
    t_seg = max(nb tCCD, t_bank / k)."""
    u = min(run, a[A_PIM_PAGE] * a[A_PIM_LOCALITY])
    nb = u / a[A_PIM_BURST]
    t_str = nb * a[A_PIM_TCCD]
    t_bank = max(a[A_PIM_TRAS], a[A_PIM_TRCD] + t_str) + a[A_PIM_TRP]
    return u, nb, max(t_str, t_bank / a[A_PIM_BPU])


@njit(cache=True, inline="always")
def pim_segment_used(a, run, used, e_x):
    """u, nb and the steady-state time per activation of one unit when `used` units stream at
    once (docs/nmc.md section 2):

    t_seg = max(t_timing,                                  DRAM timing (pim_segment_timing)
                used / domains x w x max(tFAW / n, tRRD),  every active unit opens one row per
                                                           segment; a domain starts at most n
                                                           per tFAW and one per tRRD
                used / devices x (u (e_bank + e_x) + P e_act) / P_budget)   a device's active
                                                           units draw at most the power budget.

    e_x: energy per streamed byte beyond the bank read (the PIM units' FLOPs on it), J/B."""
    u, nb, t = pim_segment_timing(a, run)
    slot = pim_act_slot(a)
    if slot > 0.0:
        t = max(t, used / pim_domains(a) * slot)
    if a[A_PIM_POWER] > 0.0:
        e_seg = u * (a[A_PIM_E_BANK] + e_x) + a[A_PIM_PAGE] * a[A_PIM_E_ACT]
        t = max(t, used / a[A_PIM_DEVICES] * e_seg / a[A_PIM_POWER])
    return u, nb, t


@njit(cache=True, inline="always")
def pim_segment(a, run):
    """u, nb and the steady-state time per activation of one unit with every unit streaming and
    no compute energy counted against the power budget (pim_segment_used(a, run, units, 0))."""
    return pim_segment_used(a, run, pim_units(a), 0.0)


@njit(cache=True, inline="always")
def usable_capacity(a):
    """Bytes usable for weights, KV cache and activations: mem_capacity x mem_usable; on a PIM
    system less the capacity the compute units take, devices x pim_capacity x pim_capacity_loss."""
    if a[A_PIM_BANKS] > 0.0:
        return (a[A_MEM_CAP] - a[A_PIM_DEVICES] * a[A_PIM_CAPACITY] * a[A_PIM_CAP_LOSS]) \
            * a[A_MEM_USABLE]
    return a[A_MEM_CAP] * a[A_MEM_USABLE]


@njit(cache=True, inline="always")
def static_power(a):
    """Power charged for the whole time: p_static, plus devices x pim_p_static on a PIM system."""
    if a[A_PIM_BANKS] > 0.0:
        return a[A_P_STATIC] + a[A_PIM_DEVICES] * a[A_PIM_P_STATIC]
    return a[A_P_STATIC]


@njit(cache=True)
def pim_internal_bw(a, run):
    """Effective internal bandwidth (B/s) for a stream whose contiguous run is `run` bytes:
    units x u / t_seg x (1 - refresh). With run >= page and locality 1 this is the best case."""
    u, _nb, t_seg = pim_segment(a, run)
    return pim_units(a) * u / t_seg * (1.0 - a[A_PIM_REFRESH])


@njit(cache=True)
def pim_peak_bw(a):
    """Column-access peak of all units: units x burst / tCCD x (1 - refresh) (no activations)."""
    return pim_units(a) * a[A_PIM_BURST] / a[A_PIM_TCCD] * (1.0 - a[A_PIM_REFRESH])


@njit(cache=True, inline="always")
def pim_stream(a, nbytes, run, e_x):
    """Time to stream nbytes out of the banks in runs of `run` contiguous bytes, the number of
    row activations and the number of units that take part. e_x: energy per streamed byte the
    units spend beyond the bank read (their FLOPs), counted against the power budget.

    The data is spread over used = min(units, ceil(nbytes / burst)) units (at least one burst
    each); a unit streams its share s = nbytes / used in floor(s / u) full activations of
    t_seg(u) and, for the remainder r, one more of t_seg(r)."""
    if nbytes <= 0.0:
        return 0.0, 0.0, pim_units(a)
    used = min(pim_units(a), math.ceil(nbytes / a[A_PIM_BURST]))
    share = nbytes / used
    u, _nb, t_seg = pim_segment_used(a, min(run, share), used, e_x)
    full = math.floor(share / u * (1.0 + 1e-12))
    rem = share - full * u
    t = full * t_seg
    n_act = full
    if rem > 1e-9 * u:
        t += pim_segment_used(a, rem, used, e_x)[2]
        n_act += 1.0
    return t / (1.0 - a[A_PIM_REFRESH]), n_act * used, used


# ---- cost of one operator instance on the PIM units --------------------------------------------
@njit(cache=True)
def pim_cost(ops, i, a, s, terms):
    """Fill terms[i] for op row i on the PIM units: T_COMPUTE (PIM FLOPs), T_MEM (bank
    streaming incl. exposed activations), T_LAT (kernel/sync overhead), T_COMM (host <-> PIM
    transfers of input vectors and results over the external bus), T_DRAM (bytes read inside
    the banks), energy."""
    kind = int(ops[i, O_KIND])
    flops = ops[i, O_FLOPS]
    dt = int(ops[i, O_DTYPE])
    wb = DT_BYTES[int(s[S_WDT])]
    ab = DT_BYTES[int(s[S_ADT])]
    kvb = DT_BYTES[int(s[S_KVDT])]
    page = a[A_PIM_PAGE]
    ext = pim_ext_bw(a)
    per_dev = ext / a[A_PIM_DEVICES]
    copies = 1.0 if a[A_PIM_BROADCAST] > 0.5 else a[A_PIM_CHANNELS]
    stream = 0.0
    run = page
    t_in = 0.0
    t_out = 0.0
    bus = 0.0
    t_l = ops[i, O_KERNELS] * a[A_PIM_KERNEL_OVH]
    if kind == K_GEMM or kind == K_LMHEAD:
        # weight rows packed into pages; every unit needs the whole input vector(s)
        stream = ops[i, O_W] * math.ceil(ops[i, O_M] / pim_reuse(a, wb, ab))
        t_in = ops[i, O_AIN] * copies / per_dev
        bus = ops[i, O_AIN] * copies * a[A_PIM_DEVICES] + ops[i, O_AOUT]
        t_out = ops[i, O_AOUT] / ext
    elif kind == K_SCORE:
        # keys of one (sequence, kv head) are one run of span x d_qk; the q x group queries of
        # that head share each key burst (up to the buffer's reuse); new K,V are written in
        passes = math.ceil(ops[i, O_M] / pim_reuse(a, kvb, ab))
        stream = ops[i, O_KVRD] * passes + ops[i, O_KVWR]
        run = ops[i, O_N] * ops[i, O_K] * kvb
        t_in = (ops[i, O_AIN] + ops[i, O_KVWR]) / ext
        bus = ops[i, O_AIN] + ops[i, O_KVWR]
        t_out = 0.0                     # scores stay in the PIM buffers for softmax/context
    elif kind == K_CONTEXT:
        passes = math.ceil(ops[i, O_M] / pim_reuse(a, kvb, ab))
        stream = ops[i, O_KVRD] * passes
        run = ops[i, O_K] * ops[i, O_N] * kvb
        bus = ops[i, O_AOUT]
        t_out = ops[i, O_AOUT] / ext
    elif kind == K_SOFTMAX:
        t_out = 0.0                     # on the scores held in the PIM buffers
    elif kind == K_NORM or kind == K_ELTWISE:
        stream = ops[i, O_W] + ops[i, O_AIN] + ops[i, O_AOUT]   # data resident in the banks
        t_out = 0.0
    else:                               # embedding gather, collectives: not a PIM operation
        terms[i, T_COMPUTE] = math.inf
        terms[i, T_MEM] = math.inf
        terms[i, T_LAT] = t_l
        terms[i, T_COMM] = 0.0
        terms[i, T_DRAM] = 0.0
        terms[i, T_SRAM] = 0.0
        terms[i, T_PEAK] = 0.0
        terms[i, T_ENERGY] = 0.0
        return
    e_x = flops * a[A_PIM_E_FLOP] / stream if stream > 0.0 else 0.0
    t_m, n_act, used = pim_stream(a, stream, run, e_x)
    rate = pim_unit_rate(a, dt)
    t_c = flops / (used * rate) if flops > 0 else 0.0
    terms[i, T_COMPUTE] = t_c
    terms[i, T_MEM] = t_m
    terms[i, T_LAT] = t_l
    terms[i, T_COMM] = t_in + t_out
    terms[i, T_DRAM] = stream
    terms[i, T_SRAM] = 0.0
    terms[i, T_PEAK] = pim_units(a) * rate
    terms[i, T_ENERGY] = (stream * a[A_PIM_E_BANK] + n_act * page * a[A_PIM_E_ACT]
                          + bus * a[A_PIM_E_IO] + flops * a[A_PIM_E_FLOP])


# ---- mapping policies ---------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _op_time(terms, i):
    return max(terms[i, T_COMPUTE], terms[i, T_MEM]) + terms[i, T_LAT] + terms[i, T_COMM]


@njit(cache=True, inline="always")
def is_decode_pass(ops):
    """q = 1: the GEMMs see as many tokens (b*q) as the LM head sees sequences (b)."""
    return ops[OP_QKV, O_M] == ops[OP_LMHEAD, O_M]


@njit(cache=True)
def pim_plan(ops, a, s, terms):
    """Write the engine of every op row into terms[:, T_ENGINE] under the scenario's policy.

    host-only: all host. pim-gemv: weight GEMMs (and LM head) of decode passes on PIM.
    pim-attention: score/softmax/context of decode passes on PIM. pim-all-decode: every
    operator of a decode pass except the embedding gather and collectives on PIM. auto: weights
    live in one place, so all weight GEMMs of a pass go to one engine, the one with the lower
    summed time; the attention group likewise; norms/elementwise each to the faster engine."""
    pol = int(s[S_MAPPING])
    for i in range(N_SLOTS):
        terms[i, T_ENGINE] = ENGINE_HOST
    if a[A_PIM_BANKS] <= 0.0 or pol == MAP_HOST_ONLY:
        return
    decode = is_decode_pass(ops)
    if pol != MAP_AUTO:
        if not decode:
            return
        for i in range(N_SLOTS):
            if ops[i, O_COUNT] == 0.0:
                continue
            k = int(ops[i, O_KIND])
            w = k == K_GEMM or k == K_LMHEAD
            att = k == K_SCORE or k == K_SOFTMAX or k == K_CONTEXT
            if ((pol == MAP_PIM_GEMV and w) or (pol == MAP_PIM_ATTENTION and att)
                    or (pol == MAP_PIM_ALL_DECODE and k != K_EMBED and k != K_COMM)):
                terms[i, T_ENGINE] = ENGINE_PIM
        return
    sw = 2.0 * a[A_PIM_MODE_SWITCH]
    wh = 0.0
    wp = 0.0
    ah = 0.0
    ap = 0.0
    tp = s[S_TP]
    for i in range(N_SLOTS):
        n = ops[i, O_COUNT]
        if n == 0.0:
            continue
        k = int(ops[i, O_KIND])
        if k == K_EMBED or k == K_COMM:
            continue
        gpu_cost(ops, i, a, tp, s[S_RUNTIME], terms)
        th = _op_time(terms, i)
        pim_cost(ops, i, a, s, terms)
        tpim = _op_time(terms, i)
        if k == K_GEMM or k == K_LMHEAD:
            wh += n * th
            wp += n * (tpim + sw)
        elif k == K_SCORE or k == K_SOFTMAX or k == K_CONTEXT:
            ah += n * th
            ap += n * tpim + (n * sw if k == K_SCORE else 0.0)
        elif tpim + sw < th:
            terms[i, T_ENGINE] = ENGINE_PIM
    for i in range(N_SLOTS):
        if ops[i, O_COUNT] == 0.0:
            continue
        k = int(ops[i, O_KIND])
        if (k == K_GEMM or k == K_LMHEAD) and wp < wh or (k == K_SCORE or k == K_SOFTMAX or k == K_CONTEXT) and ap < ah:
            terms[i, T_ENGINE] = ENGINE_PIM


@njit(cache=True, inline="always")
def pim_switches(ops, i, terms):
    """Mode switches charged to PIM op row i: one on entering PIM mode from a host op, one on
    leaving to a host op (neighbours in the layer's operator order)."""
    prev = ENGINE_HOST
    for j in range(i - 1, -1, -1):
        if ops[j, O_COUNT] != 0.0:
            prev = int(terms[j, T_ENGINE])
            break
    nxt = ENGINE_HOST
    for j in range(i + 1, N_SLOTS):
        if ops[j, O_COUNT] != 0.0:
            nxt = int(terms[j, T_ENGINE])
            break
    return (1.0 if prev != ENGINE_PIM else 0.0) + (1.0 if nxt != ENGINE_PIM else 0.0)


@njit(cache=True)
def pim_map_and_cost(ops, i, a, s, terms):
    """Cost row i on the engine pim_plan chose (terms[i, T_ENGINE])."""
    if int(terms[i, T_ENGINE]) == ENGINE_PIM:
        pim_cost(ops, i, a, s, terms)
        terms[i, T_LAT] += pim_switches(ops, i, terms) * a[A_PIM_MODE_SWITCH]
    else:
        gpu_cost(ops, i, a, s[S_TP], s[S_RUNTIME], terms)
        terms[i, T_ENGINE] = ENGINE_HOST
