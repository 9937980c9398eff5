"""Trusted makespan arithmetic: ASAP placement of transactions in a given order, and a lower bound.

Time is counted in unit steps 0, 1, 2, …; a transaction that starts at s runs its operation at offset q
in step s+q. On a key, conflicting operations (w–w, r–w, w–r) run in schedule order and reads may share a
step, so appending a transaction needs only the last step each key was written and accessed:

    start = max(0, max over its ops of avail(op) − q),
    avail(w on k) = last_any[k] + 1,   avail(r on k) = last_write[k] + 1,

which costs O(length) per appended transaction. The makespan is the latest finish, start + length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from problems.txn.batch import Batch


def start_times(batch: Batch, order: Sequence[int] | np.ndarray) -> list[int]:
    """ASAP start step of every transaction when they are appended in `order` (a permutation)."""
    last_any = [-1] * batch.n_keys
    last_write = [-1] * batch.n_keys
    starts = [0] * batch.n
    ops = batch.ops
    for t in (order.tolist() if isinstance(order, np.ndarray) else order):
        txn = ops[t]
        s = 0
        for q, (w, k) in enumerate(txn):
            a = (last_any[k] if w else last_write[k]) + 1 - q
            if a > s:
                s = a
        for q, (w, k) in enumerate(txn):
            step = s + q
            if step > last_any[k]:
                last_any[k] = step
            if w:
                last_write[k] = step
        starts[t] = s
    return starts


def makespan(batch: Batch, order: Sequence[int] | np.ndarray) -> int:
    """Latest finish of the ASAP schedule of `order`."""
    starts = start_times(batch, order)
    lengths = batch.lengths.tolist()
    return max((s + length for s, length in zip(starts, lengths)), default=0)


def fifo_makespan(batch: Batch) -> int:
    """Makespan of the sequential order 0, 1, …, n−1."""
    return makespan(batch, range(batch.n))


def lower_bound(batch: Batch) -> int:
    """A valid lower bound on every order's makespan.

    Per key: each write needs a step of its own and all reads can share one more; none of them can run
    before the smallest offset at which the key occurs in its transaction, and the operation in the key's
    last step is followed by at least the smallest tail (ops after it) among the key's operations.
    Also no schedule is shorter than the longest transaction.
    """
    if batch.n == 0:
        return 0
    k, q = batch.keys, batch.positions
    tail = np.repeat(batch.lengths, batch.lengths) - q - 1
    writes = np.bincount(k[batch.writes], minlength=batch.n_keys)
    has_read = np.bincount(k[~batch.writes], minlength=batch.n_keys) > 0
    big = np.iinfo(np.int64).max
    head = np.full(batch.n_keys, big, dtype=np.int64)
    np.minimum.at(head, k, q)
    rest = np.full(batch.n_keys, big, dtype=np.int64)
    np.minimum.at(rest, k, tail)
    used = head < big
    per_key = head[used] + writes[used] + has_read[used] + rest[used]
    return int(max(per_key.max(initial=0), batch.lengths.max()))


class Prefix:
    """The state after appending some transactions: what the next appended one has to wait for."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.last_any = np.full(batch.n_keys, -1, dtype=np.int64)
        self.last_write = np.full(batch.n_keys, -1, dtype=np.int64)
        self.makespan = 0
        self.order: list[int] = []

    def starts(self, ids: np.ndarray) -> np.ndarray:
        """ASAP start of each transaction in `ids` if it were appended next (vectorised over all ops)."""
        b = self.batch
        ids = np.asarray(ids, dtype=np.int64)
        lengths = b.lengths[ids]
        first = b.offsets[ids]
        seg = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        ops = np.repeat(first - seg, lengths) + np.arange(int(lengths.sum()))
        k = b.keys[ops]
        avail = np.where(b.writes[ops], self.last_any[k], self.last_write[k]) + 1 - b.positions[ops]
        return np.maximum(np.maximum.reduceat(avail, seg), 0)

    def append(self, t: int) -> int:
        """Append transaction t; return its start step."""
        b = self.batch
        s = int(self.starts(np.array([t]))[0])
        lo, hi = int(b.offsets[t]), int(b.offsets[t + 1])
        k = b.keys[lo:hi]
        steps = s + np.arange(hi - lo, dtype=np.int64)
        np.maximum.at(self.last_any, k, steps)
        w = b.writes[lo:hi]
        np.maximum.at(self.last_write, k[w], steps[w])
        self.makespan = max(self.makespan, s + hi - lo)
        self.order.append(t)
        return s


def greedy_order(batch: Batch) -> list[int]:
    """SMF without sampling: repeatedly append the pending transaction that raises the makespan least
    (ties: the lowest index). A trusted reference, O(n · ops) with each step vectorised."""
    prefix = Prefix(batch)
    pending = np.arange(batch.n, dtype=np.int64)
    while pending.size:
        finish = prefix.starts(pending) + batch.lengths[pending]
        j = int(np.argmin(np.maximum(finish, prefix.makespan)))
        prefix.append(int(pending[j]))
        pending = np.delete(pending, j)
    return prefix.order
