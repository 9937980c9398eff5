"""A batch of transactions in flat arrays (trusted side) and in the form handed to candidates.

Flat form: operation j is a write when `writes[j]`, on key `keys[j]` (0..n_keys-1); transaction i owns
operations `offsets[i]:offsets[i+1]`, run back to back in that order.
Candidate form: a tuple with one entry per transaction, each a tuple of `(kind, key)` pairs where kind is
"r" or "w" — immutable, plain data that crosses the sandbox boundary as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

Txns = tuple[tuple[tuple[str, int], ...], ...]


@dataclass(frozen=True, eq=False)
class Batch:
    """n transactions as flat operation arrays."""

    writes: np.ndarray
    keys: np.ndarray
    offsets: np.ndarray
    n_keys: int

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or self.offsets.size < 1 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-D array starting at 0")
        if np.any(np.diff(self.offsets) < 1):
            raise ValueError("every transaction needs at least one operation")
        if self.offsets[-1] != self.keys.size or self.keys.size != self.writes.size:
            raise ValueError("offsets, keys and writes disagree on the number of operations")
        if self.keys.size and (self.keys.min() < 0 or self.keys.max() >= self.n_keys):
            raise ValueError(f"keys must lie in 0..{self.n_keys - 1}")

    @property
    def n(self) -> int:
        return int(self.offsets.size - 1)

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @cached_property
    def positions(self) -> np.ndarray:
        """The offset q of every operation inside its transaction."""
        return np.arange(self.keys.size, dtype=np.int64) - np.repeat(self.offsets[:-1], self.lengths)

    @cached_property
    def ops(self) -> tuple[tuple[tuple[bool, int], ...], ...]:
        """Per transaction, its (is_write, key) pairs as Python values (for the loop simulator)."""
        w, k, o = self.writes.tolist(), self.keys.tolist(), self.offsets.tolist()
        return tuple(tuple(zip(w[o[i]:o[i + 1]], k[o[i]:o[i + 1]])) for i in range(self.n))

    def as_txns(self) -> Txns:
        """The candidate form: ((("r"|"w", key), …), …)."""
        return tuple(tuple(("w" if w else "r", k) for w, k in txn) for txn in self.ops)

    @classmethod
    def from_txns(cls, txns: Sequence[Sequence[tuple[str, int]]], n_keys: int | None = None) -> Batch:
        """Build a batch from the candidate form (used by tests and tools)."""
        lengths = [len(t) for t in txns]
        ops = [op for t in txns for op in t]
        kinds = [kind for kind, _ in ops]
        if any(kind not in ("r", "w") for kind in kinds):
            raise ValueError("operation kinds must be 'r' or 'w'")
        keys = np.array([int(key) for _, key in ops], dtype=np.int64)
        return cls(writes=np.array([kind == "w" for kind in kinds], dtype=bool), keys=keys,
                   offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                   n_keys=int(n_keys if n_keys is not None else (keys.max() + 1 if keys.size else 0)))

    def describe(self) -> dict[str, Any]:
        """Size figures for instance metadata."""
        return {"n": self.n, "ops": int(self.keys.size), "n_keys": self.n_keys,
                "write_share": round(float(self.writes.mean()), 4) if self.writes.size else 0.0,
                "max_length": int(self.lengths.max())}
