"""Single-machine total weighted tardiness (SMWTT) on the OR-Library sets wt40, wt50 and wt100."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.smwtt.problem import Smwtt, SmwttOptions


def make(options: Mapping[str, Any] | None = None) -> Smwtt:
    """Build the problem from `problem.options` (see SmwttOptions)."""
    return Smwtt(SmwttOptions.from_mapping(options or {}))


__all__ = ["Smwtt", "SmwttOptions", "make"]
