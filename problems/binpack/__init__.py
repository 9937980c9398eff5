"""Online bin packing: evolve the `priority(item, bins) -> array` rule that picks each item's bin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.binpack.problem import BinPacking, BinPackingOptions


def make(options: Mapping[str, Any] | None = None) -> BinPacking:
    """Build the problem from `problem.options` (see BinPackingOptions)."""
    return BinPacking(BinPackingOptions.from_mapping(options or {}))


__all__ = ["BinPacking", "BinPackingOptions", "make"]
