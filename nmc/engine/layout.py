"""Indices of the flat vectors the kernels read and write.

model vector (M_*), scenario vector (S_*), operator table rows (slots) and columns (O_*),
per-operator result columns (T_*), per-point summary columns (R_*). Arch vector indices (A_*)
come from nmc.arch.schema so that the TOML schema is the single list of parameters."""
from ..arch.schema import INDEX as _AI, N_PARAMS  # noqa: F401

# ---- model vector --------------------------------------------------------------------------
M_LAYERS, M_D, M_HEADS, M_KV_HEADS, M_DQK, M_DV, M_KV_ELEMS, M_KV_SHARED, M_Q_OUT, M_KVB_K, \
    M_KVB_N, M_O_K, M_FF, M_GATED, M_EXPERTS, M_TOPK, M_FFE, M_SHARED_FF, M_MOE_LAYERS, \
    M_VOCAB, M_PARAMS = range(21)
N_MODEL = 21
MODEL_FIELDS = ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_qk", "d_v", "kv_elems",
                "kv_shared", "q_out", "kvb_k", "kvb_n", "o_k", "d_ff", "gated", "n_experts",
                "top_k", "d_ff_expert", "shared_ff", "n_moe_layers", "vocab", "params_total")

# ---- scenario vector -----------------------------------------------------------------------
S_PHASE, S_BATCH, S_PROMPT, S_CONTEXT, S_GEN, S_TP, S_WDT, S_ADT, S_KVDT = range(9)
N_SCEN = 9
SCEN_FIELDS = ("phase", "batch", "prompt", "context", "generate", "tp", "weights", "activations", "kv")
# mapping policy (nmc/engine/mapping.py): which engine runs which operator
S_MAPPING = N_SCEN
N_SCEN += 1
SCEN_FIELDS += ("mapping",)
MAP_HOST_ONLY, MAP_PIM_GEMV, MAP_PIM_ATTENTION, MAP_PIM_ALL_DECODE, MAP_AUTO = range(5)
MAPPING_NAMES = ("host-only", "pim-gemv", "pim-attention", "pim-all-decode", "auto")
PHASE_PREFILL, PHASE_DECODE, PHASE_GENERATE = 0, 1, 2
DT_BYTES = (4.0, 2.0, 2.0, 1.0, 1.0, 0.5)      # fp32 bf16 fp16 fp8 int8 int4

# ---- operator slots (rows of the op table) --------------------------------------------------
(OP_EMBED, OP_NORM1, OP_QKV, OP_KVB, OP_SCORE, OP_SOFTMAX, OP_CONTEXT, OP_OPROJ, OP_ALLREDUCE,
 OP_RESID, OP_NORM2, OP_UP, OP_ACT, OP_DOWN, OP_ROUTER, OP_EUP, OP_EACT, OP_EDOWN, OP_SUP,
 OP_SDOWN, OP_FNORM, OP_LMHEAD) = range(22)
N_SLOTS = 22
OP_NAMES = ("embed", "attn_norm", "qkv_proj", "kv_up_proj", "attn_score", "softmax",
            "attn_context", "o_proj", "tp_allreduce", "residual_add", "mlp_norm", "mlp_up",
            "mlp_act", "mlp_down", "moe_router", "expert_up", "expert_act", "expert_down",
            "shared_up", "shared_down", "final_norm", "lm_head")

# operator kinds
K_GEMM, K_SCORE, K_SOFTMAX, K_CONTEXT, K_NORM, K_ELTWISE, K_EMBED, K_LMHEAD, K_COMM = range(9)
KIND_NAMES = ("gemm", "attn_score", "softmax", "attn_context", "norm", "elementwise",
              "embedding", "lm_head", "comm")

# operator table columns
(O_COUNT, O_KIND, O_M, O_N, O_K, O_G, O_FLOPS, O_W, O_AIN, O_AOUT, O_KVRD, O_KVWR, O_COMM,
 O_DTYPE, O_KERNELS, O_STATIC, O_TFRAC) = range(17)
N_OF = 17

# per-operator results (per instance unless noted)
(T_COMPUTE, T_MEM, T_LAT, T_COMM, T_TOTAL, T_ENERGY, T_DRAM, T_SRAM, T_BOUND, T_ENGINE,
 T_PEAK) = range(11)
N_TERMS = 11
BOUND_COMPUTE, BOUND_MEMORY, BOUND_LATENCY, BOUND_COMM = range(4)
BOUND_NAMES = ("compute", "memory", "latency", "comm")

# per-point summary
(R_LATENCY, R_TOKENS_PER_S, R_ENERGY, R_ENERGY_PER_TOKEN, R_T_COMPUTE, R_T_MEM, R_T_LAT,
 R_T_COMM, R_FLOPS, R_DRAM, R_MEM_FOOTPRINT, R_FITS, R_BOUND, R_TTFT, R_TPOT, R_MAX_BATCH,
 R_WEIGHT_BYTES, R_KV_BYTES, R_ACT_BYTES) = range(19)
N_RESULTS = 19
RESULT_FIELDS = ("latency_s", "tokens_per_s", "energy_j", "energy_per_token_j", "t_compute_s",
                 "t_memory_s", "t_latency_s", "t_comm_s", "flops", "dram_bytes",
                 "memory_bytes", "fits", "bound", "ttft_s", "tpot_s", "max_batch",
                 "weight_bytes", "kv_bytes", "activation_bytes")

# AIMC whole-model figures (nmc/engine/aimc.py, aimc_summary); NaN on other families
(R_AIMC_TILES, R_AIMC_CHIPS, R_AIMC_REPROG, R_AIMC_T_REPROG, R_AIMC_LIFETIME, R_AIMC_EFF_BITS,
 R_AIMC_BOUND, R_AIMC_UTIL, R_AIMC_PEAK) = range(N_RESULTS, N_RESULTS + 9)
N_RESULTS += 9
RESULT_FIELDS += ("aimc_tiles_needed", "aimc_chips_needed", "aimc_reprogram",
                  "aimc_reprogram_s_per_token", "aimc_lifetime_tokens", "aimc_effective_bits",
                  "aimc_bound", "aimc_tile_utilization", "aimc_peak_ops")
AIMC_BOUND_NAMES = ("array", "adc", "digital", "capacity", "interchip")

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
A_MEM_USABLE = _AI["mem_usable"]
A_E_FP32 = _AI["e_flop_fp32"]
A_E_BF16 = _AI["e_flop_bf16"]
A_E_FP8 = _AI["e_flop_fp8"]
A_E_MEM = _AI["e_mem"]
A_E_SRAM = _AI["e_sram"]
A_E_LINK = _AI["e_link"]
A_P_STATIC = _AI["p_static"]
