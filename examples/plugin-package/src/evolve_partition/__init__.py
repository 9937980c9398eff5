"""Two-way number partitioning as an evolve problem plugin, packaged on its own (an example).

evolve finds it through the `evolve.problems` entry point declared in pyproject.toml and calls `make`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evolve_partition.problem import Options, Partition


def make(options: Mapping[str, Any] | None = None) -> Partition:
    """Build the problem from `problem.options` (see Options)."""
    return Partition(Options.from_mapping(options or {}))


__all__ = ["Options", "Partition", "make"]
