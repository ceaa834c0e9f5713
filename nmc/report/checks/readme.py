"""Numbers of README.md: the headline ratios (the same values as docs/experiments.md's
"Headline ratios" table, source `headline` in experiments.py)."""
from __future__ import annotations

from . import quotes
from .experiments import _headline  # noqa: F401  (registers the source)

quotes("README.md",
       "decodes llama-3-8b {headline.pim_gpu_s_b1_8b:.2f}× faster than the H100 at batch 1 and "
       "{headline.pim_gpu_s_best_8b:.2f}× faster when",
       "chip gives {headline.aimc_gpu_1b_b1:.2S}× the H100's tokens per joule on llama-3.2-1b at batch 1 "
       "but {headline.aimc_gpu_1b_best:.2f}× at the best operating points (band "
       "{headline.aimc_gpu_1b_best_lo:.2f}–{headline.aimc_gpu_1b_best_hi:.2f}); the",
       "the H20 is {headline.h20_b1_bf16:.2f}× the H100 at batch 1 and {headline.h20_b64_bf16:.2f}× at "
       "batch 64 (BF16);",
       "the H800 runs at {headline.h800_ds_ep16_decode:.2f}× the H100.",
       )
