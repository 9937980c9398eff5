"""Policies that cheat: peeking at the trace's future, mutating the simulator, returning nonsense."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from evolve.problem import InvalidOutput
from problems.cant_be_late import make
from problems.cant_be_late.driver import drive

#: reads the whole trace through the driver's frame and waits for spot that it knows will come
PEEKING = '''
import sys


def decide(obs, memory):
    frame = sys._getframe(1)
    while frame is not None and "ep" not in frame.f_locals:
        frame = frame.f_back
    ep = frame.f_locals["ep"]
    trace = ep.trace[ep.region]
    t = obs.tick
    if obs.work_done_seconds >= obs.task_duration_seconds - 1e-9:
        return "none"
    if obs.has_spot:
        return "spot"
    return "none" if 0 in list(trace[t:t + 6]) else "on_demand"
'''

#: marks the job done in the driver's episode so that the driver stops early and claims a cheap run
MUTATING = '''
import sys


def decide(obs, memory):
    frame = sys._getframe(1)
    while frame is not None and "ep" not in frame.f_locals:
        frame = frame.f_back
    ep = frame.f_locals["ep"]
    ep.done = ep.duration
    ep.finish_tick = ep.tick
    return "none"
'''

#: remembers the previous episode (state carried across episodes also breaks the twin rule)
CARRYING = '''
SEEN = []


def decide(obs, memory):
    if obs.tick == 0:
        SEEN.append(1)
    if obs.work_done_seconds >= obs.task_duration_seconds - 1e-9:
        return "none"
    return "spot" if obs.has_spot or len(SEEN) % 2 else "none"
'''

WRONG_TYPE = '''
def decide(obs, memory):
    return 1
'''


def _load(source: str):  # type: ignore[no-untyped-def]
    ns: dict[str, object] = {}
    exec(source, ns)
    return ns["decide"]


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    return make({})


def test_a_policy_that_peeks_at_the_future_is_rejected_by_the_twin_rule(problem) -> None:  # type: ignore[no-untyped-def]
    peek = _load(PEEKING)
    rejected = 0
    for inst in problem.instances("train"):
        try:
            problem.score(inst, drive(peek, *inst.args))
        except InvalidOutput as exc:
            assert "identical up to tick" in str(exc)
            rejected += 1
    assert rejected >= 1


def test_a_policy_that_mutates_the_simulator_gains_nothing(problem) -> None:  # type: ignore[no-untyped-def]
    inst = problem.instances("quick")[0]
    out = drive(_load(MUTATING), *inst.args)
    # the child's run claims the job was done at once; the parent's replay of those decisions does not
    with pytest.raises(InvalidOutput, match="do not replay"):
        problem.score(inst, out)


def test_a_policy_that_carries_memory_across_episodes_is_rejected(problem) -> None:  # type: ignore[no-untyped-def]
    inst = problem.instances("quick")[0]
    with pytest.raises(InvalidOutput, match="identical up to tick"):
        problem.score(inst, drive(_load(CARRYING), *inst.args))


@pytest.mark.parametrize("output", [None, "x", {"trace": "1", "twin": "1"},
                                    {"trace": "13", "twin": "13", "error": None},
                                    {"trace": ["1"], "twin": "1", "error": None},
                                    {"trace": "", "twin": "", "error": "stopped"}])
def test_malformed_driver_outputs_are_invalid(problem, output) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidOutput):
        problem.score(problem.instances("quick")[0], output)


@pytest.mark.slow
def test_cheaters_are_invalid_through_the_real_sandbox(problem) -> None:  # type: ignore[no-untyped-def]
    with Sandbox() as sandbox:
        outcomes = {name: evaluate(problem, sandbox, src, ["quick", "train"], Limits())
                    for name, src in (("peek", PEEKING), ("mutate", MUTATING), ("wrong", WRONG_TYPE),
                                      ("seed", problem.initial_program))}
    assert outcomes["seed"].status == "ok"
    for name in ("peek", "mutate", "wrong"):
        assert outcomes[name].status in ("invalid", "forbidden"), (name, outcomes[name])


REPLAYING_PEEKER = (Path(__file__).with_name("replaying_peeker.py")).read_text(encoding="utf-8")


def test_a_policy_that_peeks_and_replays_its_decisions_in_the_twin_gains_nothing(problem) -> None:  # type: ignore[no-untyped-def]
    with Sandbox() as sandbox:
        seed = evaluate(problem, sandbox, problem.initial_program, ["quick", "train"], Limits())
        cheat = evaluate(problem, sandbox, REPLAYING_PEEKER, ["quick", "train"], Limits())
    assert seed.status == "ok" and seed.score is not None
    assert cheat.status != "ok" or cheat.score <= seed.score + 1e-9, (cheat.score, seed.score)
