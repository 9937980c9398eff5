"""Policies that cheat: peeking at the trace's future, replaying in a later episode, mutating the simulator,
returning nonsense, hanging, flooding. The parent plays every episode; the child only answers observations."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import Outcome, evaluate
from evolve.problem import InvalidOutput
from problems.cant_be_late import make

#: looks for the simulator's episode in its callers' frames, to read the trace ahead
PEEKING = '''
import sys


def decide(obs, memory):
    frame = sys._getframe(1)
    while frame is not None and "ep" not in frame.f_locals:
        frame = frame.f_back
    ep = frame.f_locals["ep"]
    trace = ep.trace[ep.region]
    t = obs.tick
    if obs.has_spot:
        return "spot"
    return "none" if 0 in list(trace[t:t + 6]) else "on_demand"
'''

#: changes what it can reach (its observation, the driver's state) to claim the job is done, then idles
MUTATING = '''
import sys


def decide(obs, memory):
    obs.work_done_seconds = obs.task_duration_seconds
    driver = sys._getframe(1).f_globals
    driver["_EPISODE"].clear()
    for name in ("Play", "Episode", "replay"):
        driver[name] = None
    return "none"
'''

WRONG_TYPE = '''
def decide(obs, memory):
    return 1 if obs.tick == 3 else "none"
'''

HANGS = '''
import time


def decide(obs, memory):
    if obs.tick == 5:
        time.sleep(60)
    return "spot" if obs.has_spot else "none"
'''

FLOODS = '''
def decide(obs, memory):
    return "spot" * 1_000_000
'''

REPLAYING_PEEKER = (Path(__file__).with_name("replaying_peeker.py")).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    return make({})


@pytest.fixture(scope="module")
def sandbox():  # type: ignore[no-untyped-def]
    with Sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def seed(problem, sandbox) -> Outcome:  # type: ignore[no-untyped-def]
    outcome = evaluate(problem, sandbox, problem.initial_program, ["quick", "train"], Limits())
    assert outcome.status == "ok" and outcome.score is not None
    return outcome


def test_a_policy_that_peeks_and_replays_its_decisions_in_a_later_episode_gains_nothing(  # type: ignore[no-untyped-def]
        problem, sandbox, seed) -> None:
    cheat = evaluate(problem, sandbox, REPLAYING_PEEKER, ["quick", "train"], Limits())
    assert cheat.status != "ok" or cheat.score <= seed.score + 1e-9, (cheat.score, seed.score)


def test_a_policy_that_looks_for_the_trace_finds_none_in_its_process(problem, sandbox) -> None:  # type: ignore[no-untyped-def]
    out = evaluate(problem, sandbox, PEEKING, ["quick"], Limits())
    assert out.status == "crash" and "f_locals" in (out.error or ""), out


def test_a_policy_that_mutates_what_it_reaches_gains_nothing(problem, sandbox, seed) -> None:  # type: ignore[no-untyped-def]
    out = evaluate(problem, sandbox, MUTATING, ["quick", "train"], Limits())
    # the parent's simulator never believed the claim: idling ends under the deadline override, on-demand
    assert out.status == "ok" and out.score < seed.score, out


def test_a_decision_of_the_wrong_type_is_invalid_naming_the_tick(problem, sandbox) -> None:  # type: ignore[no-untyped-def]
    out = evaluate(problem, sandbox, WRONG_TYPE, ["quick"], Limits())
    assert out.status == "invalid"
    assert "step 3: the policy returned int 1; return 'spot', 'on_demand' or 'none'" in (out.error or "")


def test_a_policy_that_hangs_on_one_tick_times_out_naming_the_step(problem, sandbox) -> None:  # type: ignore[no-untyped-def]
    out = evaluate(problem, sandbox, HANGS, ["quick"], Limits())
    assert out.status == "timeout"
    assert "step 5: exceeded the 2 s wall-clock limit per step" in (out.error or "")
    assert out.seconds < 10


def test_a_huge_reply_is_invalid(problem, sandbox) -> None:  # type: ignore[no-untyped-def]
    out = evaluate(problem, sandbox, FLOODS, ["quick"], Limits())
    assert out.status == "invalid" and "4096 bytes per decision" in (out.error or ""), out


@pytest.mark.parametrize("output", [None, 1, "x", "13", ["1"], {"trace": "1"}])
def test_malformed_outputs_are_invalid(problem, output) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidOutput):
        problem.score(problem.instances("quick")[0], output)
