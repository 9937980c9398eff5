"""Offline transaction scheduling: evolve an ordering of a batch of transactions to minimise makespan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from problems.txn.problem import Txn
from problems.txn.suite import TxnOptions


def make(options: Mapping[str, Any] | None = None) -> Txn:
    """Build the problem from `problem.options` (see TxnOptions)."""
    return Txn(TxnOptions.from_mapping(options or {}))


__all__ = ["Txn", "TxnOptions", "make"]
