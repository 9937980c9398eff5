"""The exact solver against brute force and the subset DP; the DP and the lower bound; solving speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from problems.smtt import exact
from problems.smtt.generator import CLASSES, generate


def random_instance(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Mixed instances: tiny p ranges (many ties in p and d), loose and tight due dates, a start time."""
    p = rng.integers(1, int(rng.choice([3, 10, 100])) + 1, n)
    d = rng.integers(0, int(p.sum() * rng.uniform(0.2, 1.2)) + 1, n)
    start = int(rng.integers(0, 30)) if rng.random() < 0.3 else 0
    return p, d, start


def tardiness(order: tuple[int, ...], p: np.ndarray, d: np.ndarray, start: int = 0) -> int:
    o = list(order)
    return int(np.maximum(start + np.cumsum(p[o]) - d[o], 0).sum())


def test_solver_matches_brute_force_up_to_8_jobs() -> None:
    rng = np.random.default_rng(20240601)
    for _ in range(600):
        p, d, start = random_instance(rng, int(rng.integers(1, 9)))
        got, want = exact.solve(p, d, start), exact.brute_force(p, d, start)
        assert got.value == want.value, (p.tolist(), d.tolist(), start)
        assert sorted(got.order) == list(range(len(p)))
        assert tardiness(got.order, p, d, start) == got.value


def test_solver_matches_the_subset_dp_up_to_16_jobs() -> None:
    rng = np.random.default_rng(7)
    for _ in range(60):
        p, d, start = random_instance(rng, int(rng.integers(9, 17)))
        got, want = exact.solve(p, d, start), exact.subset_dp(p, d, start)
        assert got.value == want.value, (p.tolist(), d.tolist(), start)
        assert tardiness(got.order, p, d, start) == got.value


def test_solver_matches_the_subset_dp_on_standard_classes_with_16_jobs() -> None:
    for c, (tf, rdd) in enumerate(CLASSES):
        inst = generate(16, tf, rdd, 900 + c)
        assert exact.solve(inst.p, inst.d).value == exact.subset_dp(inst.p, inst.d).value, (tf, rdd)


def test_subset_dp_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(100):
        p, d, start = random_instance(rng, int(rng.integers(1, 8)))
        dp = exact.subset_dp(p, d, start)
        assert dp.value == exact.brute_force(p, d, start).value
        assert tardiness(dp.order, p, d, start) == dp.value


def test_lower_bound_never_exceeds_the_optimum() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        p, d, start = random_instance(rng, int(rng.integers(1, 13)))
        assert exact.lower_bound(p, d, start) <= exact.solve(p, d, start).value


def test_lower_bound_is_tight_when_every_job_is_late_in_spt_order() -> None:
    p = np.array([5, 3, 8, 1])
    d = np.zeros(4, dtype=np.int64)
    assert exact.lower_bound(p, d) == exact.solve(p, d).value == 1 + 4 + 9 + 17


def test_solver_handles_empty_and_single_job_instances() -> None:
    assert exact.solve(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).value == 0
    one = exact.solve(np.array([7]), np.array([3]))
    assert (one.value, one.order) == (4, (0,))


def test_solver_rejects_non_positive_processing_times() -> None:
    with pytest.raises(ValueError, match="positive"):
        exact.solve(np.array([1, 0]), np.array([0, 0]))


def test_solver_raises_search_limit_past_its_budget() -> None:
    inst = generate(100, 0.6, 0.2, 1)
    with pytest.raises(exact.SearchLimit):
        exact.solve(inst.p, inst.d, max_states=10)


def test_subset_dp_refuses_too_many_jobs() -> None:
    with pytest.raises(ValueError, match="n <= 22"):
        exact.subset_dp(np.ones(23, dtype=np.int64), np.zeros(23, dtype=np.int64))


def test_twenty_jobs_are_solved_instantly() -> None:
    start = time.monotonic()
    for c, (tf, rdd) in enumerate(CLASSES):
        inst = generate(20, tf, rdd, 100 + c)
        exact.solve(inst.p, inst.d)
    assert time.monotonic() - start < 2.0


@pytest.mark.slow
def test_solver_matches_the_subset_dp_on_20_jobs() -> None:
    for c in (5, 10, 11, 15):
        tf, rdd = CLASSES[c]
        inst = generate(20, tf, rdd, 300 + c)
        assert exact.solve(inst.p, inst.d).value == exact.subset_dp(inst.p, inst.d).value


@pytest.mark.slow
def test_hundred_jobs_of_every_standard_class_are_solved_in_seconds() -> None:
    for c, (tf, rdd) in enumerate(CLASSES):
        inst = generate(100, tf, rdd, 1000 + c)
        start = time.process_time()
        sol = exact.solve(inst.p, inst.d)
        assert time.process_time() - start < 10.0, (tf, rdd)
        assert tardiness(sol.order, inst.p, inst.d) == sol.value
        assert exact.lower_bound(inst.p, inst.d) <= sol.value


def unpruned_value(p: np.ndarray, d: np.ndarray, start: int = 0) -> int:
    """Lawler's decomposition trying every position of the longest job (no modified-due-date rule)."""
    solver = exact._Lawler(p, d, None)
    solver.prune = False
    root, _ = solver.canonical(0, len(p) - 1, len(p), start)
    return solver.f(root)


@pytest.mark.slow
def test_position_rule_loses_no_optimum_on_larger_instances() -> None:
    """Beyond brute-force sizes: the pruned decomposition equals the one that tries every position."""
    for c, (tf, rdd) in enumerate(CLASSES):
        inst = generate(40, tf, rdd, 4242 + c)
        assert exact.solve(inst.p, inst.d).value == unpruned_value(inst.p, inst.d), (tf, rdd)
    rng = np.random.default_rng(5)
    for _ in range(150):
        n = int(rng.integers(10, 35))
        p = rng.integers(1, int(rng.choice([3, 8, 100])) + 1, n)
        d = rng.integers(0, int(p.sum() * rng.uniform(0.2, 1.1)) + 1, n)
        start = int(rng.integers(0, 50))
        assert exact.solve(p, d, start).value == unpruned_value(p, d, start), (p.tolist(), d.tolist(), start)
