"""MoE expert-parallel load balancing (EPLB): evolve a fast expert replication and placement policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.eplb.problem import Eplb, EplbOptions


def make(options: Mapping[str, Any] | None = None) -> Eplb:
    """Build the problem from `problem.options` (see EplbOptions)."""
    return Eplb(EplbOptions.from_mapping(options or {}))


__all__ = ["Eplb", "EplbOptions", "make"]
