"""Local search: the O(n) insertion evaluation is exact, descent reaches a local optimum and never worsens."""

from __future__ import annotations

import numpy as np

from problems.smtt import exact, search, tardiness


def neighbours(order: np.ndarray) -> list[np.ndarray]:
    """Every insertion move (which includes every adjacent interchange)."""
    out = []
    n = len(order)
    for a in range(n):
        for b in range(n):
            if a != b:
                o = list(order)
                job = o.pop(a)
                o.insert(b, job)
                out.append(np.array(o))
    return out


def test_insertion_matrix_equals_recomputed_costs() -> None:
    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(2, 10))
        p, w = rng.integers(1, 20, n), rng.integers(1, 5, n)
        d = rng.integers(0, int(p.sum()), n)
        order = rng.permutation(n)
        delta = search.insertion_matrix(order, p, d, w)
        base = search.cost(order, p, d, w)
        for a in range(n):
            for b in range(n):
                o = list(order)
                o.insert(b, o.pop(a))
                assert delta[a, b] == search.cost(np.array(o), p, d, w) - base


def test_per_job_best_insertion_equals_the_matrix_optimum() -> None:
    rng = np.random.default_rng(2)
    for _ in range(100):
        n = int(rng.integers(2, 12))
        p, w = rng.integers(1, 30, n), rng.integers(1, 4, n)
        d = rng.integers(0, int(p.sum()), n)
        order = rng.permutation(n)
        delta = search.insertion_matrix(order, p, d, w)
        comp = np.cumsum(p[order])
        for a in range(n):
            gain, to = search.best_insertion(order, a, p, d, w, comp)
            assert gain == max(0, -int(delta[a].min()))
            if gain:
                assert delta[a, to] == -gain


def test_descent_reaches_a_local_optimum_of_insertions() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(2, 9))
        p = rng.integers(1, 50, n)
        d = rng.integers(0, int(p.sum()), n)
        start = rng.permutation(n)
        out = search.descent(start, p, d)
        value = tardiness.total_tardiness(out, p, d)
        assert sorted(out.tolist()) == list(range(n))
        assert value <= tardiness.total_tardiness(start, p, d)
        assert all(tardiness.total_tardiness(o, p, d) >= value for o in neighbours(out))


def test_large_instance_descent_never_worsens_mdd_and_returns_a_permutation() -> None:
    rng = np.random.default_rng(4)
    n = 150  # above MATRIX_MAX_N: the per-job path
    p = rng.integers(1, 101, n)
    d = rng.integers(0, int(p.sum() * 0.6), n)
    start = tardiness.mdd(p, d)
    out = search.descent(start, p, d)
    assert sorted(out.tolist()) == list(range(n))
    assert tardiness.total_tardiness(out, p, d) <= tardiness.total_tardiness(start, p, d)
    swaps = [out.copy() for _ in range(n - 1)]
    for m, o in enumerate(swaps):
        o[m], o[m + 1] = o[m + 1], o[m]
    value = tardiness.total_tardiness(out, p, d)
    assert min(tardiness.total_tardiness(o, p, d) for o in swaps) >= value


def test_iterated_local_search_is_deterministic_and_never_below_the_optimum() -> None:
    rng = np.random.default_rng(5)
    for _ in range(10):
        p = rng.integers(1, 30, 8)
        d = rng.integers(0, int(p.sum() * 0.7), 8)
        a = search.iterated_local_search(p, d, kicks=5, seed=3)
        b = search.iterated_local_search(p, d, kicks=5, seed=3)
        assert np.array_equal(a, b)
        assert tardiness.total_tardiness(a, p, d) >= exact.brute_force(p, d).value
