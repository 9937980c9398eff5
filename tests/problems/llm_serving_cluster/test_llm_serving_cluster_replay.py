"""The cluster's replay: routing and migrations are checked one by one, and a tampered log is refused;
hostile dispatchers fail in the real sandbox."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from evolve.problem import InvalidOutput
from problems.llm_serving_cluster import make
from problems.llm_serving_cluster.driver import MIGRATE, ROUTE, drive
from problems.llm_serving_cluster.replay import replay


@pytest.fixture(scope="module")
def problem():
    return make({"quick_n": 8, "train_n": 8, "holdout_n": 8, "instances": 2})


def run(problem, dispatch):
    inst = problem.instances("quick")[0]
    return inst, drive(dispatch, *inst.args)


def alternate(view, request):
    return request.rid % view.n_instances


def test_an_honest_log_replays_and_every_request_finishes(problem) -> None:
    inst, out = run(problem, alternate)
    assert out["error"] is None
    cluster = replay(out, inst.private["trace"], problem.config, 2, inst.private["max_iterations"])
    assert all(f == f for f in cluster.finish_s)
    assert [row[2] for row in out["log"].tolist()] == [k % 2 for k in range(len(out["log"]))]


@pytest.mark.parametrize("mutate", [
    lambda o: None,
    lambda o: {**o, "error": "stopped"},
    lambda o: {**o, "log": o["log"][:, :3]},
    lambda o: {**o, "log": o["log"][:-1]},                                # the last arrival is never placed
    lambda o: {**o, "log": np.vstack([o["log"], [[0, ROUTE, 0, 0]]])},    # a row too many
    lambda o: {**o, "log": np.where(np.arange(4) == 2, 7, o["log"])},     # instance 7 of 2
    lambda o: {**o, "log": np.vstack([o["log"][:1], [[0, MIGRATE, 5, 1]], o["log"][1:]])},  # 5 not arrived
])
def test_replay_refuses_malformed_or_tampered_logs(problem, mutate) -> None:
    inst, out = run(problem, alternate)
    with pytest.raises(InvalidOutput):
        replay(mutate(out), inst.private["trace"], problem.config, 2, inst.private["max_iterations"])


PEEK = '''
import sys
def dispatch(view, request):
    sys._getframe(1)
    return 0
'''

SELF_MIGRATION = '''
def dispatch(view, request):
    for i, inst in enumerate(view.instances):
        for r in inst.running:
            return 0, [(r.rid, i)]
    return 0
'''

WRONG = '''
def dispatch(view, request):
    return "first"
'''


@pytest.mark.slow
def test_baselines_run_and_hostile_dispatchers_are_refused_in_the_sandbox(problem) -> None:
    programs = {"seed": problem.initial_program, **problem.baselines(), "peek": PEEK, "self": SELF_MIGRATION,
                "wrong": WRONG}
    with Sandbox() as sandbox:
        out = {name: evaluate(problem, sandbox, code, ["quick"], Limits()) for name, code in programs.items()}
    for name in ("seed", "round_robin", "least_loaded", "llumnix"):
        assert out[name].status == "ok", (name, out[name].error)
    assert out["peek"].status == "invalid" and "frames is not allowed" in out["peek"].error
    assert out["self"].status == "invalid" and "where it already is" in out["self"].error
    assert out["wrong"].status == "invalid"
