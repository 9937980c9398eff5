"""The served model and GPU: the engine's cost coefficients, KV-cache capacity and SLOs (description.md
gives the derivation and the sources)."""

from __future__ import annotations

from typing import Any

#: Llama-2-13B (40 layers, hidden size 5120, fp16) on one A100-40GB, vLLM-style paged KV cache.
#: fixed_s: reading the 26 GB of weights at ~1.7 TB/s plus launch overheads, per iteration;
#: per_token_s: 2 × 13e9 FLOPs per token at ~217 TFLOPS (70% of the A100's 312 dense fp16 peak);
#: per_kv_token_s: one token's KV (2 × 40 × 5120 × 2 bytes = 800 KiB, vLLM §3) read at ~1.35 TB/s;
#: per_pair_s: prefill attention, 4 × 40 × 5120 FLOPs per (query, key) pair at the same 217 TFLOPS;
#: per_swap_token_s: 800 KiB over PCIe 4.0 x16 at ~25 GB/s.
LLAMA2_13B_A100_40GB: dict[str, Any] = {
    "fixed_s": 0.015,
    "per_token_s": 1.2e-4,
    "per_kv_token_s": 6.0e-7,
    "per_pair_s": 3.8e-9,
    "per_swap_token_s": 3.3e-5,
    "block_size": 16,
    #: ~12 GB left for the KV cache after weights and activations (vLLM's OPT-13B on A100-40GB setting):
    #: 12e9 / 800 KiB ≈ 15 000 tokens
    "num_blocks": 960,
    #: vLLM's default 4 GiB of swap space per GPU: 4 GiB / 800 KiB ≈ 5 200 tokens
    "swap_blocks": 327,
    #: vLLM's max_num_batched_tokens for a 4096-token model, and its default max_num_seqs
    "max_batch_tokens": 4096,
    "max_batch_size": 256,
    "context_len": 4096,
}

#: SLOs in Sarathi-Serve's way (strict = 5× the latency of the unloaded system): TBT 5× a decode-only
#: iteration of one request at 2048 tokens of context; TTFT 5× the request's own prefill run alone.
SLO_FACTOR = 5.0
TTFT_FLOOR_S = 0.25


def solo_prefill_s(cfg: dict[str, Any], prompt_len: int) -> float:
    """Seconds to prefill `prompt_len` tokens alone in one iteration."""
    return cfg["fixed_s"] + cfg["per_token_s"] * prompt_len + cfg["per_pair_s"] * prompt_len * prompt_len / 2


def solo_decode_s(cfg: dict[str, Any], context: int) -> float:
    """Seconds of a decode-only iteration of one request with `context` tokens cached."""
    return cfg["fixed_s"] + cfg["per_token_s"] + cfg["per_kv_token_s"] * context


def engine_config(cfg: dict[str, Any] = LLAMA2_13B_A100_40GB) -> dict[str, Any]:
    """The configuration the engine runs with, the TBT SLO included."""
    return {**cfg, "tbt_slo_s": round(SLO_FACTOR * solo_decode_s(cfg, 2048), 6)}


def ttft_slo_s(cfg: dict[str, Any], prompt_len: int) -> float:
    return max(TTFT_FLOOR_S, SLO_FACTOR * solo_prefill_s(cfg, prompt_len))
