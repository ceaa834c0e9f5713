"""Every flat vector the kernels read or write, declared once.

Each block below is ONE declaration: a list of (constant suffix, field name[, width]). declare()
gives the entries consecutive offsets and defines the module constants PREFIX_SUFFIX, so no
offset is ever typed by hand and two names can never share a slot (tests/test_layout.py checks
every block). Blocks: model vector (M_*), scenario vector (S_*), operator slots (OP_*), operator
kinds (K_*), operator-table columns (O_*), per-operator terms (T_*), bounds (BOUND_*), per-point
results (R_*), the pass accumulator (ACC_*), the host structure stage (P_*, PX_*), the training
configuration and results (C_*, TR_*) and the AIMC chip/training figures (CH_*, AT_*).
Arch vector indices (A_*) come from nmc.arch.schema, the one list of preset parameters.

Numba reads module-level integers as compile-time constants however they were defined, so the
generated constants cost nothing in the kernels."""
from ..arch.schema import INDEX as _AI, N_PARAMS  # noqa: F401


def declare(prefix: str, entries, start: int = 0) -> tuple:
    """Define PREFIX_SUFFIX = offset for each entry (suffix, field[, width]) of a block, in
    order from `start`; returns the field names (a field of width w names its first slot;
    PREFIX_SUFFIX + k for k < w addresses the rest). The block's end is start + the widths."""
    g = globals()
    off = start
    fields = []
    for e in entries:
        suffix, field = e[0], e[1]
        width = e[2] if len(e) > 2 else 1
        name = f"{prefix}_{suffix}"
        if name in g:
            raise ValueError(f"layout: {name} declared twice")
        g[name] = off
        fields.append(field)
        off += width
    _BLOCKS[prefix] = (start, off)
    return tuple(fields)


_BLOCKS: dict[str, tuple[int, int]] = {}     # prefix -> (first offset, end); for tests


def block_end(prefix: str) -> int:
    return _BLOCKS[prefix][1]


# ---- model vector ----------------------------------------------------------------------------
MODEL_FIELDS = declare("M", [
    ("LAYERS", "n_layers"), ("D", "d_model"), ("HEADS", "n_heads"), ("KV_HEADS", "n_kv_heads"),
    ("DQK", "d_qk"), ("DV", "d_v"), ("KV_ELEMS", "kv_elems"), ("KV_SHARED", "kv_shared"),
    ("Q_OUT", "q_out"), ("KVB_K", "kvb_k"), ("KVB_N", "kvb_n"), ("O_K", "o_k"), ("FF", "d_ff"),
    ("GATED", "gated"), ("EXPERTS", "n_experts"), ("TOPK", "top_k"), ("FFE", "d_ff_expert"),
    ("SHARED_FF", "shared_ff"), ("MOE_LAYERS", "n_moe_layers"), ("VOCAB", "vocab"),
    ("PARAMS", "params_total"),
    ("MLA_DQK", "mla_dqk"), ("MLA_DV", "mla_dv"), ("Q_REP", "q_rep"), ("QK_NORM", "qk_norm"),
    ("NORMS", "norms"),
])
N_MODEL = block_end("M")

# ---- scenario vector -------------------------------------------------------------------------
SCEN_FIELDS = declare("S", [
    ("PHASE", "phase"), ("BATCH", "batch"), ("PROMPT", "prompt"), ("CONTEXT", "context"),
    ("GEN", "generate"), ("TP", "tp"), ("WDT", "weights"), ("ADT", "activations"),
    ("KVDT", "kv"),
    ("MAPPING", "mapping"),     # which engine runs which operator (nmc/engine/mapping.py)
    ("RUNTIME", "runtime"),     # how kernels are launched and fused (RUNTIME_NAMES)
    ("DEQUANT", "dequant"),     # ALU ops per weight to de-quantize weight-only int8/int4 GEMMs
    ("EP", "ep"),               # expert-parallel degree: data-parallel attention, experts split
])
N_SCEN = block_end("S")
MAPPING_NAMES = declare("MAP", [
    ("HOST_ONLY", "host-only"), ("PIM_GEMV", "pim-gemv"), ("PIM_ATTENTION", "pim-attention"),
    ("PIM_ALL_DECODE", "pim-all-decode"), ("AUTO", "auto"),
])
# runtime modes (docs/model.md, "Runtime modes"): kernels per operator and per-kernel cost
RUNTIME_NAMES = declare("RUN", [("EAGER", "eager"), ("GRAPHS", "graphs"), ("FUSED", "fused")])
PHASE_NAMES = declare("PHASE", [("PREFILL", "prefill"), ("DECODE", "decode"),
                                ("GENERATE", "generate")])
DT_BYTES = (4.0, 2.0, 2.0, 1.0, 1.0, 0.5)      # fp32 bf16 fp16 fp8 int8 int4 (dtype codes)

# ---- operator slots (rows of the op table) --------------------------------------------------
OP_NAMES = declare("OP", [
    ("EMBED", "embed"), ("NORM1", "attn_norm"), ("QKV", "qkv_proj"), ("ROPE", "rope"),
    ("KVB", "kv_up_proj"),
    ("SCORE", "attn_score"), ("SOFTMAX", "softmax"), ("CONTEXT", "attn_context"),
    ("OPROJ", "o_proj"), ("ALLREDUCE", "tp_allreduce"), ("RESID", "residual_add"),
    ("NORM2", "mlp_norm"), ("UP", "mlp_up"), ("ACT", "mlp_act"), ("DOWN", "mlp_down"),
    ("ROUTER", "moe_router"), ("EUP", "expert_up"), ("EACT", "expert_act"),
    ("EDOWN", "expert_down"), ("SUP", "shared_up"), ("SDOWN", "shared_down"),
    ("A2A", "ep_all_to_all"),   # expert parallelism: token dispatch and combine
    ("FNORM", "final_norm"), ("LMHEAD", "lm_head"),
    ("DEQUANT", "dequantize"),  # weight-only int8/int4: converting the weights (fused in GEMMs)
])
N_SLOTS = block_end("OP")

KIND_NAMES = declare("K", [
    ("GEMM", "gemm"), ("SCORE", "attn_score"), ("SOFTMAX", "softmax"),
    ("CONTEXT", "attn_context"), ("NORM", "norm"), ("ELTWISE", "elementwise"),
    ("EMBED", "embedding"), ("LMHEAD", "lm_head"), ("COMM", "comm"),
])

# collectives of K_COMM rows (the row says which: O_COLL = code, O_G = group size, O_STRIDE =
# rank stride of its members); codes as nmc/engine/collectives.py COLL_*
COLL_CODE_ALLREDUCE, COLL_CODE_ALLTOALL = 0, 3

# operator-table columns (per instance; O_COUNT instances run)
OP_COLUMNS = declare("O", [
    ("COUNT", "count"), ("KIND", "kind"), ("M", "M"), ("N", "N"), ("K", "K"), ("G", "groups"),
    ("FLOPS", "flops"), ("W", "weight_bytes"), ("AIN", "act_in_bytes"),
    ("AOUT", "act_out_bytes"), ("KVRD", "kv_read_bytes"), ("KVWR", "kv_write_bytes"),
    ("COMM", "comm_bytes"), ("DTYPE", "dtype"), ("KERNELS", "kernels"),
    ("STATIC", "static_weights"), ("TFRAC", "tile_fraction"),
    ("COLL", "collective"), ("STRIDE", "stride"),   # K_COMM rows: code, members' rank stride
])
N_OF = block_end("O")

# per-operator results (per instance unless noted)
TERM_FIELDS = declare("T", [
    ("COMPUTE", "t_compute_s"), ("MEM", "t_memory_s"), ("LAT", "t_latency_s"),
    ("COMM", "t_comm_s"), ("TOTAL", "time_s"), ("ENERGY", "energy_j"), ("DRAM", "dram_bytes"),
    ("SRAM", "sram_bytes"), ("BOUND", "bound"), ("ENGINE", "engine"), ("PEAK", "peak_flops"),
])
N_TERMS = block_end("T")
BOUND_NAMES = declare("BOUND", [("COMPUTE", "compute"), ("MEMORY", "memory"),
                                ("LATENCY", "latency"), ("COMM", "comm")])

# ---- per-point summary -----------------------------------------------------------------------
RESULT_FIELDS = declare("R", [
    ("LATENCY", "latency_s"), ("TOKENS_PER_S", "tokens_per_s"), ("ENERGY", "energy_j"),
    ("ENERGY_PER_TOKEN", "energy_per_token_j"), ("T_COMPUTE", "t_compute_s"),
    ("T_MEM", "t_memory_s"), ("T_LAT", "t_latency_s"), ("T_COMM", "t_comm_s"),
    ("FLOPS", "flops"), ("DRAM", "dram_bytes"), ("MEM_FOOTPRINT", "memory_bytes"),
    ("FITS", "fits"), ("BOUND", "bound"), ("TTFT", "ttft_s"), ("TPOT", "tpot_s"),
    ("MAX_BATCH", "max_batch"), ("WEIGHT_BYTES", "weight_bytes"), ("KV_BYTES", "kv_bytes"),
    ("ACT_BYTES", "activation_bytes"),
    # AIMC whole-model figures (nmc/engine/aimc.py, aimc_summary); NaN on other families
    ("AIMC_TILES", "aimc_tiles_needed"), ("AIMC_CHIPS", "aimc_chips_needed"),
    ("AIMC_REPROG", "aimc_reprogram"), ("AIMC_T_REPROG", "aimc_reprogram_s_per_token"),
    ("AIMC_LIFETIME", "aimc_lifetime_tokens"), ("AIMC_EFF_BITS", "aimc_effective_bits"),
    ("AIMC_BOUND", "aimc_bound"), ("AIMC_UTIL", "aimc_tile_utilization"),
    ("AIMC_PEAK", "aimc_peak_ops"), ("AIMC_RESIDENT", "aimc_resident_fraction"),
])
N_RESULTS = block_end("R")
AIMC_BOUND_NAMES = ("array", "adc", "digital", "capacity", "interchip")

# ---- one or more passes summed (nmc/engine/passes.py) ----------------------------------------
ACC_FIELDS = declare("ACC", [
    ("COMPUTE", "t_compute_s"), ("MEM", "t_memory_s"), ("LAT", "t_latency_s"),
    ("COMM", "t_comm_s"), ("TIME", "time_s"), ("ENERGY", "energy_j"), ("FLOPS", "flops"),
    ("DRAM", "dram_bytes"),
])
N_ACC = block_end("ACC")

# Host structure stage (passes.prepare_host): prep[P_*, j] for the j-th active operator row;
# px[PX_*] holds per-pass sums, the footprint and the per-class rates (cost_host).
declare("P", [
    ("ROW", "row"), ("N", "count"), ("CLS", "compute class"), ("ECLS", "energy class"),
    ("WORK", "FLOPs at full shape efficiency"), ("FLOPS", "flops"), ("DRAM", "dram bytes"),
    ("SRAM", "on-chip bytes"), ("KERN", "kernels"), ("LINK", "link bytes"),
    ("BUF", "collective buffer bytes"), ("COMM", "collective code + 1 (0: none)"),
    ("GRP", "collective group size"), ("STRIDE", "collective member stride"),
    ("NW", "count x work"),
    ("ND", "count x dram"), ("NS", "count x sram"),
    # the preset tile as the second candidate of a matrix product (gpu.gpu_shape, pick_tile)
    ("WORK0", "FLOPs at full shape efficiency, preset tile"), ("SRAM0", "on-chip bytes, preset tile"),
    ("NW0", "count x work, preset tile"), ("NS0", "count x sram, preset tile"),
])
N_PREP = block_end("P")
N_CLASSES = 6                                  # dtype codes: compute and energy classes
declare("PX", [
    ("ACTIVE", "active rows"), ("KERN", "kernels"), ("LINK", "link bytes"),
    ("NCOMM", "collectives"), ("FLOPS", "flops"),
    ("DRAM", "dram bytes"),
    ("F0", "flops per energy class", N_CLASSES),
    # the footprint of the pass's point (point_into)
    ("W", "weight bytes"), ("KV", "kv bytes"), ("ACT", "activation bytes"),
    ("KV1", "kv bytes of one sequence"), ("ACT1", "activation bytes of one sequence"),
    # per-class rates of the arch (cost_host)
    ("RC", "seconds per FLOP per class", N_CLASSES), ("EC", "joules per FLOP per class", N_CLASSES),
])
N_PX = block_end("PX")

# ---- training configuration and results (nmc/engine/train.py) --------------------------------
CFG_FIELDS = declare("C", [
    ("TP", "tp"), ("PP", "pp"), ("DP", "dp"), ("EP", "ep"), ("MB", "micro_batch"),
    ("NMICRO", "n_micro"), ("SEQ", "seq"), ("RECOMP", "recompute"), ("ZERO", "zero"),
    ("WDT", "weights"), ("ADT", "activations"), ("VPP", "vpp"), ("SP", "sequence_parallel"),
    ("OVERLAP", "overlap_dp"), ("ALGO", "algorithm"), ("GRAD_BYTES", "grad_bytes"),
    ("UNFUSED", "unfused_attention"), ("OVERLAP_EP", "overlap_ep"),
    ("CP", "cp"),                       # context parallel: each rank holds seq / cp tokens
    ("FP8", "fp8"),                     # FP8 linear GEMMs: 0 off, FP8_DELAYED, FP8_CURRENT
    ("RESHARD", "zero3_reshard"),       # ZeRO-3: 1 gather the layer again for backward
    ("ZGROUP", "zero_group"),           # ranks one ZeRO shard spans (0: the whole dp x cp)
])
N_CFG = block_end("C")
RECOMP_NAMES = declare("RECOMP", [("NONE", "none"), ("SELECTIVE", "selective"),
                                  ("FULL", "full")])
FP8_NAMES = declare("FP8", [("OFF", "off"), ("DELAYED", "delayed"), ("CURRENT", "current")])
TR_FIELDS = declare("TR", [
    ("STEP", "step_time_s"), ("TOKENS_PER_S", "tokens_per_s"),
    ("MODEL_FLOPS", "model_flops_per_step"), ("HW_FLOPS", "hardware_flops_per_step"),
    ("MFU", "mfu"), ("HFU", "hfu"), ("MODEL_TFLOPS_DEV", "model_tflops_per_device"),
    ("HW_TFLOPS_DEV", "hardware_tflops_per_device"), ("T_COMPUTE", "t_compute_s"),
    ("T_MEM", "t_memory_s"), ("T_LAT", "t_latency_s"), ("T_TP", "t_comm_tp_s"),
    ("T_PP", "t_comm_pp_s"), ("T_EP", "t_comm_ep_s"), ("T_CP", "t_comm_cp_s"),
    ("T_DP", "t_comm_dp_s"),
    ("T_OPT", "t_optimizer_s"), ("T_BUBBLE", "t_bubble_s"), ("T_FWD", "t_forward_mb_s"),
    ("T_BWD", "t_backward_mb_s"), ("T_RECOMP", "t_recompute_mb_s"), ("T_MB", "t_micro_batch_s"),
    ("MEM_W", "mem_weights_bytes"), ("MEM_G", "mem_grads_bytes"),
    ("MEM_OPT", "mem_optimizer_bytes"), ("MEM_ACT", "mem_activations_bytes"),
    ("MEM_TOTAL", "mem_total_bytes"), ("MEM_CAP", "mem_capacity_bytes"), ("FITS", "fits"),
    ("ENERGY", "energy_per_step_j"), ("PARAMS_DEV", "params_per_device"),
    ("BUBBLE_FRAC", "bubble_fraction"), ("LAYERS_STAGE", "layers_per_stage"),
    ("TOKENS_STEP", "tokens_per_step"), ("DP_BYTES", "dp_bytes_per_step"),
])
N_TR = block_end("TR")

# ---- AIMC chip figures and training step (nmc/engine/aimc_train.py) --------------------------
CHIP_FIELDS = declare("CH", [
    ("W_TILE", "weights_per_tile"), ("W_CHIP", "weights_per_chip"), ("MVM", "tile_mvm_s"),
    ("ARRAY", "tile_array_s"), ("ADC", "tile_adc_s"), ("PEAK", "peak_ops_per_chip"),
    ("E_MVM", "tile_mvm_energy_j"), ("OPS_J", "ops_per_joule"), ("PROG_TILE", "tile_program_s"),
    ("PROG_CHIP", "chip_program_s"), ("EFF_BITS", "effective_bits"),
    ("ADC_LOSSLESS", "adc_bits_lossless"), ("CONV", "tile_conversion_s"),
])
N_CHIP = block_end("CH")
AIMC_TRAIN_FIELDS = declare("AT", [
    ("FWD", "t_forward_s"), ("BWD_TILES", "t_backward_tiles_s"),
    ("BWD_DIGITAL", "t_backward_digital_s"), ("WGRAD", "t_wgrad_s"), ("OPT", "t_optimizer_s"),
    ("UPDATE", "t_update_s"), ("STEP", "t_step_s"), ("TOKENS_PER_S", "tokens_per_s"),
    ("ENERGY", "energy_j"), ("E_UPDATE", "energy_update_j"), ("UPDATE_SHARE", "update_share"),
    ("LIFETIME", "lifetime_steps"), ("TILES", "tiles_needed"), ("CHIPS", "chips_needed"),
    ("REPROG", "reprogram"), ("MEM", "train_memory_bytes"), ("FITS", "fits"),
])
N_AIMC_TRAIN = block_end("AT")

# ---- architecture vector (from the schema) ----------------------------------------------------
A_PEAK_FP32 = _AI["peak_fp32"]
A_PEAK_BF16 = _AI["peak_bf16"]
A_PEAK_FP16 = _AI["peak_fp16"]
A_PEAK_FP8 = _AI["peak_fp8"]
A_PEAK_INT8 = _AI["peak_int8"]
A_PEAK_INT4 = _AI["peak_int4"]
A_N_CORES = _AI["n_cores"]
A_TILE_M = _AI["tile_m"]
A_TILE_N = _AI["tile_n"]
A_MMA_M = _AI["mma_m"]
A_MEM_CAP = _AI["mem_capacity"]
A_MEM_BW = _AI["mem_bw"]
A_SRAM_CAP = _AI["sram_capacity"]
A_SRAM_BW = _AI["sram_bw"]
A_LINK_BW = _AI["link_bw"]
A_LINK_LAT = _AI["link_latency"]
A_EFF_COMPUTE = _AI["eff_compute"]
A_EFF_MEM = _AI["eff_mem"]
A_EFF_SRAM = _AI["eff_sram"]
A_EFF_LINK = _AI["eff_link"]
A_KERNEL_OVH = _AI["kernel_overhead"]
A_LAUNCH_OVH = _AI["launch_overhead"]
A_MEM_USABLE = _AI["mem_usable"]
A_E_FP32 = _AI["e_flop_fp32"]
A_E_BF16 = _AI["e_flop_bf16"]
A_E_FP8 = _AI["e_flop_fp8"]
A_E_MEM = _AI["e_mem"]
A_E_SRAM = _AI["e_sram"]
A_E_LINK = _AI["e_link"]
A_P_STATIC = _AI["p_static"]

# ---- serving: one iteration's batch, the simulator's configuration and its counters ----------
# (nmc/engine/serve.py prices an iteration; nmc/engine/serve_loop.py is the event loop)
BATCH_FIELDS = declare("AG", [
    ("TOKENS", "tokens"),       # new tokens in the pass, all sequences
    ("SEQS", "seqs"),           # sequences in the pass
    ("LOGITS", "logits"),       # sequences that emit a token
    ("SPAN", "span"),           # sum over sequences of cached + new tokens
    ("PAIRS", "pairs"),         # sum over sequences of causal query-key pairs
])
N_AG = block_end("AG")
SCHED_NAMES = declare("SCHED", [("STATIC", "static"), ("CONTINUOUS", "continuous"),
                                ("CHUNKED", "chunked")])
LB_NAMES = declare("LB", [("ROUND_ROBIN", "round-robin"), ("LEAST", "least-loaded"),
                          ("RANDOM", "random")])
PREEMPT_NAMES = declare("PRE", [("RECOMPUTE", "recompute"), ("SWAP", "swap")])
# admission of a request into the running set (docs/serving.md, "Schedulers"): greedy = blocks
# for the prompt (the cache grows as tokens decode, preempting when full: vLLM); reserve =
# blocks for prompt + output at admission, no preemption (TensorRT-LLM GUARANTEED_NO_EVICT)
ADMIT_NAMES = declare("ADMIT", [("GREEDY", "greedy"), ("RESERVE", "reserve")])
SERVE_FIELDS = declare("SV", [
    ("SCHED", "scheduler"), ("MAX_BATCH", "max_batch"), ("MAX_TOKENS", "max_tokens"),
    ("BLOCK", "block_size"), ("BLOCKS", "kv_blocks"),            # KV blocks per engine
    ("ENGINES", "engines"), ("LB", "load_balancer"), ("PREEMPT", "preemption"),
    ("SWAP_S", "swap_s_per_token"),     # seconds to move one token's KV to or from the host
    ("CONCURRENCY", "concurrency"),     # closed-loop users (0: open loop)
    ("THINK", "think_s"),               # closed-loop think time
    ("PP", "pp"), ("P2P_S", "p2p_s_per_token"), ("P2P_LAT", "p2p_latency_s"),
    ("P2P_E", "p2p_j_per_token"),       # per pipeline stage boundary
    ("SEED", "seed"),                   # the random load balancer's
    ("SERIES", "series_points"),
    ("ADMIT", "admission"),             # ADMIT_NAMES
])
N_SV = block_end("SV")
SERVE_STATS = declare("SS", [
    ("ITERS", "iterations"), ("BUSY", "busy_s"),                 # summed over engines
    ("SEQS", "seqs"), ("TOKENS", "tokens"),                      # summed over iterations
    ("PREFILL_TOKENS", "prefill_tokens"),                        # incl. recomputed ones
    ("DECODE_TOKENS", "decode_tokens"), ("ENERGY", "energy_j"),  # dynamic energy
    ("PREEMPT", "preemptions"),
    ("RUN_TIME", "running_s"),          # sum of running sequences x iteration time
    ("KV_TIME", "kv_block_s"),          # sum of used KV blocks x iteration time
    ("KV_PEAK", "kv_peak_blocks"), ("END", "end_s"), ("SWAP_S", "swap_s"),
    ("DONE", "done"), ("SERIES_N", "series_n"), ("SERIES_STRIDE", "series_stride"),
])
N_SS = block_end("SS")
SERIES_FIELDS = declare("TS", [("TIME", "time_s"), ("BATCH", "batch"), ("QUEUE", "queue"),
                               ("KV", "kv_use"), ("TOKENS", "tokens")])
N_TS = block_end("TS")
