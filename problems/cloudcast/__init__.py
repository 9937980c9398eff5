"""Multi-cloud broadcast (ADRS `cloudcast`): evolve relay paths that send a dataset to many regions cheaply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.cloudcast.problem import Cloudcast, CloudcastOptions


def make(options: Mapping[str, Any] | None = None) -> Cloudcast:
    """Build the problem from `problem.options` (see CloudcastOptions)."""
    return Cloudcast(CloudcastOptions.from_mapping(options or {}))


__all__ = ["Cloudcast", "CloudcastOptions", "make"]
