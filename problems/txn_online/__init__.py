"""Online transaction scheduling: evolve a policy that appends one of k sampled pending transactions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.txn_online.problem import TxnOnline, TxnOnlineOptions


def make(options: Mapping[str, Any] | None = None) -> TxnOnline:
    """Build the problem from `problem.options` (see TxnOnlineOptions)."""
    return TxnOnline(TxnOnlineOptions.from_mapping(options or {}))


__all__ = ["TxnOnline", "TxnOnlineOptions", "make"]
