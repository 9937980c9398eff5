"""Child-side driver of `txn_online`: runs one scheduling episode with the candidate's policy.

This file is executed inside the sandbox child, in the same untrusted process as the policy, so it holds
no secrets and the parent trusts nothing it returns: the parent replays the episode with the same seed and
the same `offer` function (it imports this module) and checks that every decision was one of the offered
transactions, then recomputes the makespan itself. Depends on numpy and the standard library only.

Episode: all n transactions are pending. At every step the driver offers `k` pending transactions drawn
at random (seeded), oldest first; the policy returns the index of the one to append; the driver appends it
ASAP after the schedule so far. Nothing scheduled can be moved: the policy only ever picks from the offer.
A decision that uses more than `budget_ms` of CPU time ends the episode as invalid (a cheap check inside
the child; the sandbox's per-instance wall clock is the hard limit).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def offer(rng: np.random.Generator, pending: list[int], k: int) -> list[int]:
    """The pending transaction ids offered at this step: k drawn without replacement, oldest first.

    With k or fewer pending, all are offered and the generator is not advanced.
    """
    if len(pending) <= k:
        return list(pending)
    picks = rng.choice(len(pending), size=k, replace=False)
    return sorted(pending[i] for i in picks.tolist())


class ScheduleState:
    """What the policy may look at: the schedule built so far (read-only).

    - `makespan`: latest finish step so far; `scheduled` / `remaining`: transactions appended / pending.
    - `last_any[key]`, `last_write[key]`: latest step in which `key` was accessed / written (−1 if never);
      read-only int64 numpy arrays indexed by key (0..n_keys-1).
    - `start_if_appended(txn)`, `finish_if_appended(txn)`, `makespan_if_appended(txn)`: where `txn` (a tuple
      of (kind, key) pairs) would run if it were appended next.
    """

    __slots__ = ("_any", "_makespan", "_n", "_scheduled", "_write", "last_any", "last_write")

    def __init__(self, n_txns: int, n_keys: int) -> None:
        self._any = np.full(n_keys, -1, dtype=np.int64)
        self._write = np.full(n_keys, -1, dtype=np.int64)
        self.last_any = self._any.view()
        self.last_any.flags.writeable = False
        self.last_write = self._write.view()
        self.last_write.flags.writeable = False
        self._makespan = 0
        self._scheduled = 0
        self._n = n_txns

    @property
    def makespan(self) -> int:
        return self._makespan

    @property
    def scheduled(self) -> int:
        return self._scheduled

    @property
    def remaining(self) -> int:
        return self._n - self._scheduled

    @property
    def n_keys(self) -> int:
        return int(self._any.size)

    def start_if_appended(self, txn: Any) -> int:
        start = 0
        for q, (kind, key) in enumerate(txn):
            ready = int(self._any[key] if kind == "w" else self._write[key]) + 1 - q
            if ready > start:
                start = ready
        return start

    def finish_if_appended(self, txn: Any) -> int:
        return self.start_if_appended(txn) + len(txn)

    def makespan_if_appended(self, txn: Any) -> int:
        return max(self._makespan, self.finish_if_appended(txn))

    def _append(self, txn: Any) -> None:
        start = self.start_if_appended(txn)
        for q, (kind, key) in enumerate(txn):
            if start + q > self._any[key]:
                self._any[key] = start + q
            if kind == "w":
                self._write[key] = start + q
        self._makespan = max(self._makespan, start + len(txn))
        self._scheduled += 1


def drive(choose: Any, txns: Any, k: int, seed: int, budget_ms: float) -> dict[str, Any]:
    """Run the episode; return {"decisions": transaction ids in append order, "error": None or why it
    stopped early}."""
    clock = time.process_time
    n = len(txns)
    n_keys = 1 + max((key for t in txns for _, key in t), default=-1)
    rng = np.random.default_rng(seed)
    state = ScheduleState(n, n_keys)
    pending = list(range(n))
    decisions: list[int] = []
    for step in range(n):
        offered = offer(rng, pending, k)
        candidates = tuple(txns[t] for t in offered)
        begin = clock()
        pick = choose(state, candidates)
        used_ms = (clock() - begin) * 1000.0
        if used_ms > budget_ms:
            return {"decisions": decisions,
                    "error": f"decision {step} used {used_ms:.1f} ms of CPU time; the budget is {budget_ms:g} ms"}
        if isinstance(pick, (bool, np.bool_)) or not isinstance(pick, (int, np.integer)):
            return {"decisions": decisions,
                    "error": f"decision {step}: choose returned {type(pick).__name__} {pick!r:.40}, not an index"}
        if not 0 <= int(pick) < len(candidates):
            return {"decisions": decisions,
                    "error": f"decision {step}: index {int(pick)} is outside 0..{len(candidates) - 1}"}
        t = offered[int(pick)]
        state._append(txns[t])
        pending.remove(t)
        decisions.append(t)
    return {"decisions": decisions, "error": None}
