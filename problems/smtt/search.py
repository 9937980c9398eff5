"""Trusted local search for (weighted) single-machine tardiness: descent and iterated local search.

Moves are adjacent interchanges and insertions (take one job out, put it at any other position). All
insertion moves of one job are evaluated together in O(n) with cumulative sums: moving a job forward makes
the jobs it passes finish p_j earlier, moving it backward makes them finish p_j later. A full pass costs
O(n²) arithmetic in numpy, so n = 500 takes milliseconds per pass.
"""

from __future__ import annotations

import numpy as np


def cost(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray) -> int:
    """Σ w_j·max(0, C_j − d_j) of `order`."""
    return int((w[order] * np.maximum(np.cumsum(p[order]) - d[order], 0)).sum())


def _adjacent_pass(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray) -> bool:
    """Apply improving adjacent interchanges left to right; True if any was applied."""
    improved = False
    while True:
        ps, ds, ws = p[order], d[order], w[order]
        comp = np.cumsum(ps)
        a, b = slice(0, -1), slice(1, None)
        begin = comp[a] - ps[a]
        old = ws[a] * np.maximum(comp[a] - ds[a], 0) + ws[b] * np.maximum(comp[b] - ds[b], 0)
        new = ws[b] * np.maximum(begin + ps[b] - ds[b], 0) + ws[a] * np.maximum(comp[b] - ds[a], 0)
        gain = old - new
        hits = np.flatnonzero(gain > 0)
        if hits.size == 0:
            return improved
        # apply non-overlapping improving swaps in one sweep (each changes only its own pair)
        last = -2
        for m in hits.tolist():
            if m > last + 1:
                order[m], order[m + 1] = order[m + 1], order[m]
                last = m
        improved = True


def best_insertion(order: np.ndarray, pos: int, p: np.ndarray, d: np.ndarray, w: np.ndarray,
                    comp: np.ndarray) -> tuple[int, int]:
    """(gain, target) of the best position for the job now at `pos` (gain 0 if none improves)."""
    n = len(order)
    j = order[pos]
    pj, dj, wj = int(p[j]), int(d[j]), int(w[j])
    ps_d, ws = d[order], w[order]
    tj = wj * max(0, int(comp[pos]) - dj)
    best_gain, best_to = 0, pos
    if pos + 1 < n:
        c = comp[pos + 1:]
        shift = ws[pos + 1:] * (np.maximum(c - pj - ps_d[pos + 1:], 0) - np.maximum(c - ps_d[pos + 1:], 0))
        delta = np.cumsum(shift) + wj * np.maximum(c - dj, 0) - tj
        m = int(np.argmin(delta))
        if delta[m] < -best_gain:
            best_gain, best_to = int(-delta[m]), pos + 1 + m
    if pos > 0:
        c = comp[:pos]
        shift = ws[:pos] * (np.maximum(c + pj - ps_d[:pos], 0) - np.maximum(c - ps_d[:pos], 0))
        before = np.concatenate(([0], comp[:pos - 1])) if pos > 1 else np.zeros(1, dtype=comp.dtype)
        delta = np.cumsum(shift[::-1])[::-1] + wj * np.maximum(before + pj - dj, 0) - tj
        m = int(np.argmin(delta))
        if delta[m] < -best_gain:
            best_gain, best_to = int(-delta[m]), m
    return best_gain, best_to


def _insertion_pass(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray) -> bool:
    """Move each job (in its current order) to its best position when that helps; True if any moved."""
    improved = False
    jobs = order.copy()
    for j in jobs:
        pos = int(np.flatnonzero(order == j)[0])
        comp = np.cumsum(p[order])
        gain, to = best_insertion(order, pos, p, d, w, comp)
        if gain > 0:
            job = order[pos]
            if to > pos:
                order[pos:to] = order[pos + 1:to + 1]
            else:
                order[to + 1:pos + 1] = order[to:pos].copy()
            order[to] = job
            improved = True
    return improved


def insertion_matrix(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """delta[a, b]: change of the objective when the job at position a moves to position b."""
    ps, ds, ws = p[order], d[order], w[order]
    comp = np.cumsum(ps)
    late = ws * np.maximum(comp - ds, 0)
    n = len(order)
    idx = np.arange(n)
    ahead = idx[None, :] > idx[:, None]
    # forward: the jobs passed finish p_a earlier
    earlier = np.where(ahead, ws[None, :] * np.maximum(comp[None, :] - ps[:, None] - ds[None, :], 0)
                       - late[None, :], 0)
    fwd = np.cumsum(earlier, axis=1) + ws[:, None] * np.maximum(comp[None, :] - ds[:, None], 0) - late[:, None]
    # backward: the jobs passed finish p_a later; the moved job ends at C_{b-1} + p_a
    behind = idx[None, :] < idx[:, None]
    later = np.where(behind, ws[None, :] * np.maximum(comp[None, :] + ps[:, None] - ds[None, :], 0)
                     - late[None, :], 0)
    suffix = later.sum(axis=1)[:, None] - np.cumsum(later, axis=1) + later
    before = np.concatenate(([0], comp[:-1]))
    bwd = suffix + ws[:, None] * np.maximum(before[None, :] + ps[:, None] - ds[:, None], 0) - late[:, None]
    return np.where(ahead, fwd, np.where(behind, bwd, 0))


def _matrix_descent(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray, max_moves: int) -> None:
    """Best-improvement insertion descent (adjacent interchanges are insertions by one place)."""
    for _ in range(max_moves):
        delta = insertion_matrix(order, p, d, w)
        flat = int(np.argmin(delta))
        a, b = divmod(flat, len(order))
        if delta[a, b] >= 0:
            return
        job = order[a]
        if b > a:
            order[a:b] = order[a + 1:b + 1].copy()
        else:
            order[b + 1:a + 1] = order[b:a].copy()
        order[b] = job


#: below this many jobs, descent evaluates every insertion at once (n² arrays) and takes the best
MATRIX_MAX_N = 120


def descent(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray | None = None,
            max_passes: int = 100) -> np.ndarray:
    """Adjacent interchanges and insertions until neither improves (a local optimum of both)."""
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    w = np.ones_like(p) if w is None else np.asarray(w, dtype=np.int64)
    order = np.array(order, dtype=np.int64)
    if len(order) < 2:
        return order
    if len(order) <= MATRIX_MAX_N:
        _matrix_descent(order, p, d, w, max_passes * len(order))
        return order
    for _ in range(max_passes):
        swapped = _adjacent_pass(order, p, d, w)
        inserted = _insertion_pass(order, p, d, w)
        if not (swapped or inserted):
            break
    return order


def iterated_local_search(p: np.ndarray, d: np.ndarray, w: np.ndarray | None = None,
                          starts: list[np.ndarray] | None = None, kicks: int = 100,
                          seed: int = 0) -> np.ndarray:
    """Descent from the best start, then `kicks` rounds of perturb (a few random swaps of nearby jobs)
    and descend, keeping the best; deterministic for a given seed."""
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    w = np.ones_like(p) if w is None else np.asarray(w, dtype=np.int64)
    n = len(p)
    rng = np.random.default_rng(seed)
    if not starts:
        starts = [np.lexsort((np.arange(n), d))]
    best = min((descent(s, p, d, w) for s in starts), key=lambda o: cost(o, p, d, w))
    best_cost = cost(best, p, d, w)
    current, current_cost = best.copy(), best_cost
    if n < 3:
        return best
    for _ in range(kicks):
        if best_cost == 0:
            break
        trial = current.copy()
        for _ in range(int(rng.integers(2, 5))):
            i = int(rng.integers(0, n))
            j = min(n - 1, max(0, i + int(rng.integers(-n // 5 - 1, n // 5 + 2))))
            trial[i], trial[j] = trial[j], trial[i]
        trial = descent(trial, p, d, w)
        trial_cost = cost(trial, p, d, w)
        if trial_cost <= current_cost:
            current, current_cost = trial, trial_cost
            if trial_cost < best_cost:
                best, best_cost = trial.copy(), trial_cost
    return best
