"""Multi-region spot scheduling under a deadline (ADRS `cant_be_late_multi`): evolve a policy that also
chooses the zone to run in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.cant_be_late_multi.problem import CantBeLateMulti, MultiOptions


def make(options: Mapping[str, Any] | None = None) -> CantBeLateMulti:
    """Build the problem from `problem.options` (see MultiOptions)."""
    return CantBeLateMulti(MultiOptions.from_mapping(options or {}))


__all__ = ["CantBeLateMulti", "MultiOptions", "make"]
