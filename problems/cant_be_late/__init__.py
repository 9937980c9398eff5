"""Spot scheduling under a deadline (ADRS `cant_be_late`): evolve a spot / on-demand / wait policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.cant_be_late.problem import CantBeLate, CantBeLateOptions


def make(options: Mapping[str, Any] | None = None) -> CantBeLate:
    """Build the problem from `problem.options` (see CantBeLateOptions)."""
    return CantBeLate(CantBeLateOptions.from_mapping(options or {}))


__all__ = ["CantBeLate", "CantBeLateOptions", "make"]
