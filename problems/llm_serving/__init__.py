"""LLM inference serving: evolve the batch scheduler of one GPU (Orca, vLLM, Sarathi-Serve)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.llm_serving.problem import LlmServing, LlmServingOptions


def make(options: Mapping[str, Any] | None = None) -> LlmServing:
    """Build the problem from `problem.options` (see LlmServingOptions)."""
    return LlmServing(LlmServingOptions.from_mapping(options or {}))


__all__ = ["LlmServing", "LlmServingOptions", "make"]
