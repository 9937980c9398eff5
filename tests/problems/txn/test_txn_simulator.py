"""The trusted simulator against hand-computed cases and an independent slow reference."""

from __future__ import annotations

import numpy as np
import pytest

from problems.txn import simulator
from problems.txn.batch import Batch
from problems.txn.workloads import WORKLOADS, generate


def slow_makespan(txns, order) -> int:
    """Reference: try start steps 0, 1, 2, … until every operation runs strictly after each conflicting
    operation placed before it (schedule order), written without the closed form."""
    placed: dict[int, list[tuple[int, bool]]] = {}
    finish = 0
    for t in order:
        start = 0
        while True:
            ok = all(step < start + q for q, (kind, key) in enumerate(txns[t])
                     for step, other_write in placed.get(key, []) if kind == "w" or other_write)
            if ok:
                break
            start += 1
        for q, (kind, key) in enumerate(txns[t]):
            placed.setdefault(key, []).append((start + q, kind == "w"))
        finish = max(finish, start + len(txns[t]))
    return finish


def random_txns(rng: np.random.Generator, n: int, n_keys: int, max_len: int):
    return tuple(tuple(("w" if rng.random() < 0.4 else "r", int(rng.integers(n_keys)))
                       for _ in range(int(rng.integers(1, max_len + 1)))) for _ in range(n))


HAND = [
    # (transactions, order, makespan)
    ((( ("w", 0), ("r", 1), ("w", 2)),), [0], 3),
    ((( ("w", 0),), (("w", 0),)), [0, 1], 2),
    ((( ("r", 0),), (("r", 0),)), [1, 0], 1),
    ((( ("w", 1), ("r", 2)), (("r", 2), ("w", 1))), [0, 1], 2),
    ((( ("w", 1), ("r", 2)), (("r", 2), ("w", 1))), [1, 0], 4),
    ((( ("r", 0), ("r", 0), ("w", 7)), (("r", 7),)), [0, 1], 4),
    ((( ("r", 0), ("r", 0), ("w", 7)), (("r", 7),)), [1, 0], 3),
    ((( ("w", 1), ("w", 1), ("w", 1)), (("w", 1),), (("w", 2),)), [0, 1, 2], 4),
    ((( ("r", 5), ("w", 5)), (("r", 5), ("w", 5))), [0, 1], 4),
]


@pytest.mark.parametrize(("txns", "order", "expected"), HAND)
def test_makespan_matches_hand_computed_case(txns, order, expected) -> None:
    assert simulator.makespan(Batch.from_txns(txns), order) == expected
    assert slow_makespan(txns, order) == expected


def test_later_transaction_starts_before_a_non_conflicting_earlier_one() -> None:
    b = Batch.from_txns(((("w", 1), ("w", 1), ("w", 1)), (("w", 1),), (("w", 2),)))
    assert simulator.start_times(b, [0, 1, 2]) == [0, 3, 0]


def test_makespan_matches_slow_reference_on_random_permutations() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        txns = random_txns(rng, int(rng.integers(1, 12)), int(rng.integers(1, 6)), 5)
        order = rng.permutation(len(txns)).tolist()
        assert simulator.makespan(Batch.from_txns(txns), order) == slow_makespan(txns, order)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_makespan_matches_slow_reference_on_generated_workloads(workload: str) -> None:
    w = generate(workload, 40, 11)
    order = np.random.default_rng(3).permutation(40)
    assert simulator.makespan(w.batch, order) == slow_makespan(w.batch.as_txns(), order.tolist())


def test_prefix_append_agrees_with_start_times() -> None:
    w = generate("tpcc", 60, 5)
    order = np.random.default_rng(1).permutation(60).tolist()
    prefix = simulator.Prefix(w.batch)
    starts = [prefix.append(t) for t in order]
    expected = simulator.start_times(w.batch, order)
    assert starts == [expected[t] for t in order]
    assert prefix.makespan == simulator.makespan(w.batch, order)


def test_prefix_starts_vectorised_over_candidates_match_one_by_one() -> None:
    w = generate("smallbank", 50, 2)
    prefix = simulator.Prefix(w.batch)
    for t in range(0, 50, 3):
        prefix.append(t)
    rest = np.array([t for t in range(50) if t % 3], dtype=np.int64)
    for t, s in zip(rest.tolist(), prefix.starts(rest).tolist()):
        assert simulator.start_times(w.batch, [*prefix.order, t])[t] == s


def test_lower_bound_counts_writes_plus_one_shared_read_step() -> None:
    b = Batch.from_txns(((("w", 1),), (("w", 1),), (("r", 1),), (("r", 1),)))
    assert simulator.lower_bound(b) == 3
    assert simulator.makespan(b, [2, 3, 0, 1]) == 3


def test_lower_bound_adds_head_and_tail_of_the_key() -> None:
    b = Batch.from_txns(((("r", 9), ("w", 1), ("r", 8)), (("r", 7), ("w", 1), ("r", 6))))
    assert simulator.lower_bound(b) == 4
    assert simulator.makespan(b, [0, 1]) == 4


def test_lower_bound_is_at_least_the_longest_transaction() -> None:
    b = Batch.from_txns(((("r", 0), ("r", 1), ("r", 2), ("r", 3), ("r", 4)), (("r", 0),)))
    assert simulator.lower_bound(b) == 5


def test_lower_bound_never_exceeds_a_makespan() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        txns = random_txns(rng, int(rng.integers(1, 10)), int(rng.integers(1, 5)), 4)
        b = Batch.from_txns(txns)
        bound = simulator.lower_bound(b)
        for _ in range(3):
            assert bound <= simulator.makespan(b, rng.permutation(len(txns)))


def test_greedy_order_is_a_permutation_that_starts_with_the_shortest_transaction() -> None:
    w = generate("ycsb", 80, 4)
    order = simulator.greedy_order(w.batch)
    assert sorted(order) == list(range(80))
    assert order[0] == int(np.argmin(w.batch.lengths))  # an empty schedule: the shortest goes first


def test_greedy_order_beats_fifo_on_a_skewed_batch() -> None:
    w = generate("smallbank", 100, 0)
    assert simulator.makespan(w.batch, simulator.greedy_order(w.batch)) < simulator.fifo_makespan(w.batch)


def test_lower_bound_never_exceeds_the_optimum_of_tiny_batches() -> None:
    from itertools import permutations

    rng = np.random.default_rng(13)
    for _ in range(40):
        txns = random_txns(rng, int(rng.integers(2, 6)), int(rng.integers(1, 4)), 4)
        b = Batch.from_txns(txns)
        best = min(simulator.makespan(b, p) for p in permutations(range(len(txns))))
        assert simulator.lower_bound(b) <= best
