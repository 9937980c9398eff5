"""Single-machine total tardiness (SMTT): evolve a dispatching heuristic for 1||ΣT_j."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.smtt.problem import Smtt, SmttOptions


def make(options: Mapping[str, Any] | None = None) -> Smtt:
    """Build the problem from `problem.options` (see SmttOptions)."""
    return Smtt(SmttOptions.from_mapping(options or {}))


__all__ = ["Smtt", "SmttOptions", "make"]
