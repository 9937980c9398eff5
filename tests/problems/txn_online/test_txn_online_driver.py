"""The child-side driver: seeded offers, a read-only state view, and the per-decision checks."""

from __future__ import annotations

import time

import numpy as np
import pytest

from problems.txn import simulator
from problems.txn.batch import Batch
from problems.txn.workloads import generate
from problems.txn_online.driver import ScheduleState, drive, offer


def test_offer_is_k_distinct_pending_ids_oldest_first_and_seeded() -> None:
    pending = list(range(3, 40, 2))
    a = offer(np.random.default_rng(9), pending, 5)
    b = offer(np.random.default_rng(9), pending, 5)
    assert a == b == sorted(a) and len(set(a)) == 5 and set(a) <= set(pending)


def test_offer_shows_everything_when_at_most_k_remain() -> None:
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    assert offer(rng, [4, 8], 5) == [4, 8]
    assert rng.bit_generator.state == before


def test_state_view_cannot_be_written_through_its_arrays() -> None:
    state = ScheduleState(3, 4)
    with pytest.raises(ValueError):
        state.last_any[0] = 7
    with pytest.raises(ValueError):
        state.last_write[:] = 0
    with pytest.raises(AttributeError):
        state.makespan = 3  # type: ignore[misc]


def test_state_predictions_match_the_trusted_simulator() -> None:
    """At every decision of an episode, the state a policy sees agrees with the trusted simulator fed
    the same appends: its makespan, its per-key times, and where each offered transaction would start."""
    w = generate("tpcc", 40, 6)
    txns = w.batch.as_txns()
    ids = {id(txn): t for t, txn in enumerate(txns)}  # the offers hand over these very tuples
    prefix = simulator.Prefix(w.batch)
    picked: list[int] = []

    def choose(state: ScheduleState, candidates: tuple[object, ...]) -> int:
        assert state.makespan == prefix.makespan
        assert np.array_equal(state.last_any, prefix.last_any)
        assert np.array_equal(state.last_write, prefix.last_write)
        for txn in candidates:
            assert state.start_if_appended(txn) == int(prefix.starts(np.array([ids[id(txn)]]))[0])
        pick = len(picked) % len(candidates)  # not always the oldest: the appends vary
        picked.append(ids[id(candidates[pick])])
        prefix.append(picked[-1])
        return pick

    out = drive(choose, txns, 4, seed=2, budget_ms=10_000.0)
    assert out["error"] is None and out["decisions"] == picked and len(picked) == 40


def test_drive_appends_the_picked_offer_and_reports_every_decision() -> None:
    txns = generate("smallbank", 30, 4).batch.as_txns()
    seen: list[tuple[int, int]] = []

    def last(state, candidates):  # type: ignore[no-untyped-def]
        seen.append((state.scheduled, len(candidates)))
        return len(candidates) - 1

    out = drive(last, txns, 5, 11, 50.0)
    assert out["error"] is None and sorted(out["decisions"]) == list(range(30))
    assert [s for s, _ in seen] == list(range(30))
    assert all(size == min(5, 30 - s) for s, size in seen)


def test_drive_stops_a_decision_over_the_cpu_budget() -> None:
    def slow(state, candidates):  # type: ignore[no-untyped-def]
        end = time.process_time() + 0.02
        while time.process_time() < end:
            pass
        return 0

    out = drive(slow, ((("r", 0),), (("w", 0),)), 5, 0, 5.0)
    assert out["decisions"] == [] and "budget" in out["error"]


@pytest.mark.parametrize(("pick", "message"), [(5, "outside"), (-1, "outside"), (True, "not an index"),
                                                ("0", "not an index"), (0.0, "not an index"),
                                                (None, "not an index")])
def test_drive_stops_on_a_pick_that_is_not_an_offered_index(pick, message: str) -> None:
    out = drive(lambda state, candidates: pick, ((("r", 0),), (("w", 1),)), 5, 0, 50.0)
    assert out["decisions"] == [] and message in out["error"]


def test_drive_accepts_numpy_integer_picks() -> None:
    out = drive(lambda state, candidates: np.int64(0), ((("r", 0),), (("w", 1),)), 5, 0, 50.0)
    assert out == {"decisions": [0, 1], "error": None}


def test_drive_handles_a_batch_whose_keys_are_never_shared() -> None:
    b = Batch.from_txns(((("w", 0), ("w", 1)), (("r", 2),)))
    out = drive(lambda state, candidates: 0, b.as_txns(), 1, 3, 50.0)
    assert sorted(out["decisions"]) == [0, 1] and out["error"] is None
