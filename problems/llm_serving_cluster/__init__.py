"""LLM inference serving on a cluster: evolve the dispatcher in front of several servers (Llumnix)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.llm_serving_cluster.problem import LlmServingCluster, LlmServingClusterOptions


def make(options: Mapping[str, Any] | None = None) -> LlmServingCluster:
    """Build the problem from `problem.options` (see LlmServingClusterOptions)."""
    return LlmServingCluster(LlmServingClusterOptions.from_mapping(options or {}))


__all__ = ["LlmServingCluster", "LlmServingClusterOptions", "make"]
