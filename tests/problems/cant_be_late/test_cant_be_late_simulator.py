"""The simulator follows the leaderboard's rules; scores use its anchors; the baselines rank as published."""

from __future__ import annotations

import numpy as np
import pytest

from problems.cant_be_late import make
from problems.cant_be_late.driver import NONE, ON_DEMAND, SPOT, Episode, replay, run_episode

HOUR = 3600.0


def _run(decide, trace, duration=2 * HOUR, deadline=4 * HOUR, overhead=0.0, gap=HOUR):  # type: ignore[no-untyped-def]
    decisions, error = run_episode(decide, np.asarray(trace, dtype=np.uint8), gap, duration, deadline, overhead)
    assert error is None
    return decisions, replay(decisions, np.asarray(trace, dtype=np.uint8), gap, duration, deadline, overhead)


def test_all_spot_on_an_always_available_trace_costs_the_spot_hours_plus_the_closing_tick() -> None:
    decisions, ep = _run(lambda o, m: "none" if o.work_done_seconds >= o.task_duration_seconds else "spot",
                         [0] * 8)
    # ticks 0 and 1 run spot, the job is done at the start of tick 2, which is billed as "none"
    assert decisions == "110" and ep.finish_tick == 2
    assert ep.cost == pytest.approx(2 * 0.9731)


def test_a_preemption_stops_work_and_a_restart_pays_the_overhead() -> None:
    # spot at tick 0, preempted at tick 1, back at tick 2; overhead of half a tick on every (re)start
    decisions, ep = _run(lambda o, m: "spot" if o.has_spot else "none", [0, 1, 0, 0, 0, 0, 0, 0],
                         duration=2 * HOUR, deadline=8 * HOUR, overhead=0.5 * HOUR)
    assert decisions[:3] == "101"
    # work: tick0 0.5h, tick2 0.5h, tick3 1h -> done at the start of tick 4; this policy still asks for
    # spot at tick 4, and that closing tick is billed as the leaderboard bills it
    assert ep.finish_tick == 4 and ep.ticks_by_type[SPOT] == 4


def test_the_strong_guarantee_forces_on_demand_when_the_deadline_presses() -> None:
    _decisions, ep = _run(lambda o, m: "none", [1] * 10, duration=2 * HOUR, deadline=3 * HOUR)
    assert ep.ticks_by_type[ON_DEMAND] == 2 and ep.finish_tick * HOUR <= 3 * HOUR
    assert ep.cost == pytest.approx(2 * 3.06)


def test_a_spot_request_without_spot_becomes_none() -> None:
    ep = Episode(np.array([1, 1, 1, 1, 1, 1], dtype=np.uint8), HOUR, HOUR, 6 * HOUR, 0.0)
    ep.observe()
    ep.step(SPOT)
    assert ep.cluster == NONE


def test_replay_rejects_too_many_or_too_few_decisions() -> None:
    trace = np.zeros(8, dtype=np.uint8)
    with pytest.raises(ValueError, match="unfinished"):
        replay("1", trace, HOUR, 2 * HOUR, 4 * HOUR, 0.0)
    with pytest.raises(ValueError, match="done after"):
        replay("1100", trace, HOUR, 2 * HOUR, 4 * HOUR, 0.0)


def test_driver_reports_a_decision_of_the_wrong_type() -> None:
    trace = np.zeros(8, dtype=np.uint8)
    for bad in (1, None, "SPOT", b"spot"):
        decisions, error = run_episode(lambda o, m, bad=bad: bad, trace, HOUR, 2 * HOUR, 4 * HOUR, 0.0)
        assert decisions == "" and error is not None and "return 'spot'" in error


def test_baselines_rank_as_the_literature_says_on_the_train_split() -> None:
    p = make({})
    scores = {}
    for name, src in {"seed": p.initial_program, **p.baselines()}.items():
        ns: dict[str, object] = {}
        exec(src, ns)
        insts = p.instances("train")
        scores[name] = p.aggregate(insts, [p.score(i, run_episode(ns["decide"], *i.args)[0]) for i in insts])
    assert scores["on_demand"]["score"] == 0.0
    assert scores["seed"]["score"] == scores["greedy_safety"]["score"] > 10.0
    assert scores["uniform_progress"]["score"] > scores["greedy_safety"]["score"]
    assert all(s["late_pct"] == 0.0 for s in scores.values())
    assert scores["seed"]["od_anchor"] == pytest.approx(146.88)
    assert scores["seed"]["spot_anchor"] == pytest.approx(46.7088)
