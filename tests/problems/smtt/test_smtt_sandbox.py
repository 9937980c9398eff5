"""The seed and every baseline run through the real sandbox and score as they do in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from smtt_helpers import load_entry

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from evolve.problem import SPLITS
from evolve.testing.contract import ProblemContract
from problems.smtt import Smtt, make
from problems.smtt.metrics import gap_metrics

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def test_seed_is_valid_on_every_split_and_reproduces_edd(smtt_problem: Smtt, sandbox: Sandbox) -> None:
    seed = evaluate(smtt_problem, sandbox, smtt_problem.initial_program, SPLITS, Limits())
    edd = evaluate(smtt_problem, sandbox, smtt_problem.baselines()["edd"], SPLITS, Limits())
    assert seed.status == "ok" and edd.status == "ok", (seed.error, edd.error)
    for a, b in zip(seed.stages, edd.stages):
        assert a.metrics == b.metrics
    assert 40.0 < seed.metrics["gap_pct"] < 90.0


@pytest.mark.parametrize("name", sorted(make().baselines()))
def test_baseline_through_the_sandbox_scores_as_in_process(name: str, smtt_problem: Smtt,
                                                           sandbox: Sandbox) -> None:
    code = smtt_problem.baselines()[name]
    outcome = evaluate(smtt_problem, sandbox, code, SPLITS, Limits())
    assert outcome.status == "ok", outcome.error
    schedule = load_entry(code)
    for stage in outcome.stages:
        instances = smtt_problem.instances(stage.split)
        per_instance = [smtt_problem.score(i, schedule(*i.args)) for i in instances]
        metrics = dict(stage.metrics)
        assert metrics.pop("_feedback") == smtt_problem.feedback(instances, per_instance)  # the per-class gaps
        assert metrics == pytest.approx(gap_metrics(per_instance))


class TestSmttContract(ProblemContract):
    factory = make
