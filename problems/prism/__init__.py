"""Model placement on GPUs (ADRS `prism`): minimise the worst KV-cache pressure under GPU memory limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.prism.problem import Prism, PrismOptions


def make(options: Mapping[str, Any] | None = None) -> Prism:
    """Build the problem from `problem.options` (see PrismOptions)."""
    return Prism(PrismOptions.from_mapping(options or {}))


__all__ = ["Prism", "PrismOptions", "make"]
