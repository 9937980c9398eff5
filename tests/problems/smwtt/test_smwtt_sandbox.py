"""The SMWTT seed and every baseline run through the real sandbox and score as they do in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from smwtt_helpers import load_entry

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from evolve.testing.contract import ProblemContract
from problems.smtt.metrics import gap_metrics
from problems.smwtt import Smwtt, make

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def problem() -> Smwtt:
    return make()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.mark.parametrize("name", ["seed", *sorted(make().baselines())])
def test_program_through_the_sandbox_scores_as_in_process(name: str, problem: Smwtt, sandbox: Sandbox) -> None:
    """On quick and train; the contract tests below run every program on the hold-out split too."""
    code = problem.initial_program if name == "seed" else problem.baselines()[name]
    outcome = evaluate(problem, sandbox, code, ("quick", "train"), Limits())
    assert outcome.status == "ok", outcome.error
    schedule = load_entry(code)
    for stage in outcome.stages:
        expected = gap_metrics([problem.score(i, schedule(*i.args)) for i in problem.instances(stage.split)])
        assert stage.metrics == pytest.approx(expected)


def test_weighted_rules_beat_edd_on_the_train_split(problem: Smwtt) -> None:
    gaps = {}
    for name in ("edd", "mdd", "atc", "mdd_ls"):
        schedule = load_entry(problem.baselines()[name])
        gaps[name] = gap_metrics([problem.score(i, schedule(*i.args)) for i in problem.instances("train")])["gap_pct"]
    assert gaps["mdd_ls"] < gaps["mdd"] < gaps["atc"] < gaps["edd"] / 10


class TestSmwttContract(ProblemContract):
    factory = make
