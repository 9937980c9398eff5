"""Exact solvers and a lower bound for single-machine total tardiness (1||ΣT_j).

`solve` is Lawler's (1977) decomposition with memoisation: in EDD order, the longest job k of a job set
goes right after some EDD prefix, which splits the set into two independent subproblems (before k,
starting at t; after k, starting at k's completion). A position is tried only when it is consistent with
Lawler's modified due date max(d_k, C_k) (the fixed-point form of his theorem, as in Potts & Van
Wassenhove 1982), and two rules of Emmons (1969) shrink every subproblem first: a job whose due date is at
least the subproblem's makespan can go last, and when every job is tardy wherever it goes, SPT is optimal.
Subproblems are memoised on (job set, start time), which is what makes n = 100 tractable in Python.

`subset_dp` (Held–Karp over subsets, numpy) and `brute_force` are independent checks for small n;
`lower_bound` is a valid bound for instances no exact method here can close.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import sys
from dataclasses import dataclass

import numpy as np

#: the largest n `subset_dp` accepts (2^n states of int64: 22 → 32 MiB per array)
SUBSET_DP_MAX_N = 22
#: the largest n `brute_force` accepts
BRUTE_FORCE_MAX_N = 9


@dataclass(frozen=True)
class Solution:
    """An optimal sequence and its total tardiness (plus how many subproblems the solver visited)."""

    value: int
    order: tuple[int, ...]
    states: int = 0


class SearchLimit(Exception):
    """Raised by `solve` when the memo grows past `max_states` (the instance is too hard for this budget)."""


def _edd_ranks(p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Job indices in EDD order, ties by shorter processing time, then by index."""
    return np.lexsort((np.arange(len(p)), p, d))


def solve(p: np.ndarray, d: np.ndarray, start: int = 0, max_states: int | None = None) -> Solution:
    """An optimal sequence of the jobs (p, d) on a machine free from time `start`.

    Raises SearchLimit when more than `max_states` subproblems would be memoised.
    """
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    n = len(p)
    if n == 0:
        return Solution(0, (), 0)
    if p.min() < 1:
        raise ValueError("processing times must be positive")
    solver = _Lawler(p, d, max_states)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 4 * n + 1000))
    try:
        root, tail = solver.canonical(0, n - 1, n, int(start))
        value = solver.f(root)
        seq: list[int] = []
        solver.build(root, seq)
        seq.extend(solver.job[r] for r in tail)
    finally:
        sys.setrecursionlimit(old_limit)
    return Solution(int(value), tuple(seq), len(solver.memo))


class _Lawler:
    """Lawler's decomposition over job sets of the form {EDD rank in [a, b], length order below h}.

    Jobs are renamed by EDD rank (ties by p, then index). `order[r]` is the rank of job r in the
    (p, rank) order; `allowed[h]` lists the ranks whose length order is below h, ascending. A subproblem
    key is (h, lo, hi, t): the jobs allowed[h][lo:hi] started at time t, where h - 1 is the length order
    of the longest job in the set (so every set has one key).
    """

    def __init__(self, p: np.ndarray, d: np.ndarray, max_states: int | None) -> None:
        n = len(p)
        ranks = _edd_ranks(p, d)
        self.job = [int(x) for x in ranks]
        self.P = P = [int(x) for x in p[ranks]]
        self.D = D = [int(x) for x in d[ranks]]
        by_length = sorted(range(n), key=lambda r: (P[r], r))
        self.by_length = by_length
        order = [0] * n
        for i, r in enumerate(by_length):
            order[r] = i
        self.order = order
        self.allowed: list[list[int]] = [[]]
        self.keys: list[list[int]] = [[]]
        self.prefix: list[list[int]] = [[0]]
        self.slack: list[list[int]] = [[]]
        self.k_index: list[int] = [-1]
        #: numpy copies of prefix[h] and of the due dates along allowed[h] (plus a pad), for long scans
        self.prefix_rows: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self.d_rows: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        members: list[int] = []
        for h in range(1, n + 1):
            bisect.insort(members, by_length[h - 1])
            row = list(members)
            self.allowed.append(row)
            self.keys.append([order[r] for r in row])
            self.prefix.append([0, *itertools.accumulate(P[r] for r in row)])
            self.slack.append([D[r] - P[r] for r in row])
            self.k_index.append(bisect.bisect_left(row, by_length[h - 1]))
            self.prefix_rows.append(np.array(self.prefix[-1], dtype=np.int64))
            self.d_rows.append(np.array([*(D[r] for r in row), 0], dtype=np.int64))
        self.memo: dict[tuple[int, int, int, int], tuple[int, int]] = {}
        self.limit = max_states if max_states is not None else 1 << 62
        #: try only the positions consistent with k's modified due date (False: every position, a check)
        self.prune = True

    def canonical(self, a: int, b: int, h: int, t: int) -> tuple[tuple[int, int, int, int] | None, list[int]]:
        """The key of {ranks a..b with length order below h} started at t, after Emmons' rule: the last
        EDD jobs due no earlier than the makespan go last at no cost. Returns (key or None, those jobs)."""
        row = self.allowed[h]
        lo = bisect.bisect_left(row, a)
        hi = bisect.bisect_right(row, b)
        if lo >= hi:
            return None, []
        pre, D, P = self.prefix[h], self.D, self.P
        total = t + pre[hi] - pre[lo]
        end = hi
        while end > lo and D[row[end - 1]] >= total:
            end -= 1
            total -= P[row[end]]
        tail = row[end:hi]
        if end == lo:
            return None, tail
        top = max(self.keys[h][lo:end]) + 1
        if top != h:
            first, last = row[lo], row[end - 1]
            row = self.allowed[top]
            lo = bisect.bisect_left(row, first)
            end = bisect.bisect_right(row, last)
        return (top, lo, end, t), tail

    def f(self, key: tuple[int, int, int, int] | None) -> int:
        """Minimum total tardiness of subproblem `key`; the choice is memoised for `build`."""
        if key is None:
            return 0
        hit = self.memo.get(key)
        if hit is not None:
            return hit[0]
        h, lo, hi, t = key
        row, pre, P, D = self.allowed[h], self.prefix[h], self.P, self.D
        if hi - lo == 1:
            v = max(0, t + P[row[lo]] - D[row[lo]])
            self.memo[key] = (v, -1)
            return v
        if max(self.slack[h][lo:hi]) <= t:
            # every job is tardy wherever it goes: ΣT = ΣC − Σd, minimised by SPT (= the order by key)
            c, v = t, 0
            for r in sorted(row[lo:hi], key=self.order.__getitem__):
                c += P[r]
                v += c - D[r]
            self.memo[key] = (v, -1)
            return v
        if len(self.memo) >= self.limit:
            raise SearchLimit(f"more than {self.limit} subproblems")
        ki = self.k_index[h]
        dk = D[row[ki]]
        best, best_i = -1, -1
        for i in self._positions(h, lo, hi, t, ki, dk):
            c = t + pre[i + 1] - pre[lo]
            v = (self.f(self.canonical(row[lo], row[i], h - 1, t)[0]) if i > lo else 0) + (
                c - dk if c > dk else 0)
            if best >= 0 and v >= best:
                # f(before k) and k's tardiness only grow with the position: no later one can win
                break
            if i + 1 < hi:
                v += self.f(self.canonical(row[i + 1], row[hi - 1], h, c)[0])
            if best < 0 or v < best:
                best, best_i = v, i
        self.memo[key] = (best, best_i)
        return best

    def _positions(self, h: int, lo: int, hi: int, t: int, ki: int, dk: int) -> list[int] | range:
        """Indices i (in allowed[h]) after which the longest job k may go, in increasing order.

        Lawler: k follows exactly the jobs due no later than its modified due date max(d_k, C_k), so
        position i is kept when D[i] <= max(d_k, C_i) < D[i + 1] (the first and last trivially).
        """
        if not self.prune:
            return range(ki, hi)
        row, pre, D = self.allowed[h], self.prefix[h], self.D
        base = t - pre[lo]
        if hi - ki > 40:
            dues = np.maximum(self.prefix_rows[h][ki + 1:hi + 1] + base, dk)
            d_row = self.d_rows[h]
            keep = (d_row[ki:hi] <= dues) & (d_row[ki + 1:hi + 1] > dues)
            keep[0] = d_row[ki + 1] > dues[0] if hi - ki > 1 else True
            keep[-1] = d_row[hi - 1] <= dues[-1]
            return (np.flatnonzero(keep) + ki).tolist()
        out = []
        for i in range(ki, hi):
            c = base + pre[i + 1]
            due = dk if dk > c else c
            if (i > ki and D[row[i]] > due) or (i + 1 < hi and D[row[i + 1]] <= due):
                continue
            out.append(i)
        return out

    def build(self, key: tuple[int, int, int, int] | None, out: list[int]) -> None:
        """Append the memoised optimal sequence of `key` to `out` (original job indices)."""
        while key is not None:
            h, lo, hi, t = key
            row, pre = self.allowed[h], self.prefix[h]
            i = self.memo[key][1]
            if i < 0:
                out.extend(self.job[r] for r in sorted(row[lo:hi], key=self.order.__getitem__))
                return
            if i > lo:
                sub, tail = self.canonical(row[lo], row[i], h - 1, t)
                self.build(sub, out)
                out.extend(self.job[r] for r in tail)
            out.append(self.job[row[self.k_index[h]]])
            if i + 1 >= hi:
                return
            key, tail = self.canonical(row[i + 1], row[hi - 1], h, t + pre[i + 1] - pre[lo])
            if tail:
                self.build(key, out)
                out.extend(self.job[r] for r in tail)
                return


def subset_dp(p: np.ndarray, d: np.ndarray, start: int = 0) -> Solution:
    """Held–Karp DP over subsets: f(S) = min over j in S of f(S∖j) + max(0, start + p(S) − d_j)."""
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    n = len(p)
    if n > SUBSET_DP_MAX_N:
        raise ValueError(f"subset_dp handles n <= {SUBSET_DP_MAX_N}, got {n}")
    if n == 0:
        return Solution(0, (), 1)
    size = 1 << n
    load = np.zeros(size, dtype=np.int64)
    count = np.zeros(size, dtype=np.int8)
    for j in range(n):
        load[1 << j: 1 << (j + 1)] = load[: 1 << j] + p[j]
        count[1 << j: 1 << (j + 1)] = count[: 1 << j] + 1
    big = np.iinfo(np.int64).max // 4
    f = np.full(size, big, dtype=np.int64)
    last = np.zeros(size, dtype=np.int8)
    f[0] = 0
    masks = np.arange(size, dtype=np.int64)
    layers = np.argsort(count, kind="stable")
    bounds = np.searchsorted(count[layers], np.arange(n + 2))
    for c in range(1, n + 1):
        layer = layers[bounds[c]: bounds[c + 1]]
        end = start + load[layer]
        for j in range(n):
            has = (masks[layer] >> j) & 1 == 1
            sel = layer[has]
            cand = f[sel ^ (1 << j)] + np.maximum(end[has] - d[j], 0)
            better = cand < f[sel]
            f[sel[better]] = cand[better]
            last[sel[better]] = j
    seq = []
    mask = size - 1
    while mask:
        j = int(last[mask])
        seq.append(j)
        mask ^= 1 << j
    return Solution(int(f[size - 1]), tuple(reversed(seq)), size)


def brute_force(p: np.ndarray, d: np.ndarray, start: int = 0) -> Solution:
    """Try every permutation (n <= BRUTE_FORCE_MAX_N)."""
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    n = len(p)
    if n > BRUTE_FORCE_MAX_N:
        raise ValueError(f"brute_force handles n <= {BRUTE_FORCE_MAX_N}, got {n}")
    if n == 0:
        return Solution(0, (), 1)
    perms = _permutations(n)
    late = np.maximum(start + np.cumsum(p[perms], axis=1) - d[perms], 0).sum(axis=1)
    i = int(np.argmin(late))
    return Solution(int(late[i]), tuple(int(x) for x in perms[i]), len(perms))


@functools.cache
def _permutations(n: int) -> np.ndarray:
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    perms.setflags(write=False)
    return perms


def lower_bound(p: np.ndarray, d: np.ndarray, start: int = 0) -> int:
    """ΣT ≥ Σ_k max(0, start + S_k − d_(k)): the k-th completion is at least the sum of the k smallest p,
    and pairing sorted completions with sorted due dates minimises Σ max(0, C − d) (a valid, weak bound)."""
    p = np.sort(np.asarray(p, dtype=np.int64))
    d = np.sort(np.asarray(d, dtype=np.int64))
    return int(np.maximum(start + np.cumsum(p) - d, 0).sum())
