"""KVPR by hand, the leaderboard's cases and scores, the validator, and cheaters in the sandbox."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from evolve.problem import InvalidOutput
from problems.prism import kvpr, make


def _case() -> kvpr.Case:
    return kvpr.Case(2, np.array([20, 30, 40, 10]), np.array([6, 4, 9, 2]), np.array([3, 2, 9, 1]))


def test_kvpr_of_a_placement_by_hand() -> None:
    # GPU0: models 0, 2 -> load 2 + 1 = 3 over 80 - 60 = 20 -> 0.15; GPU1: 2 + 2 = 4 over 40 -> 0.1
    assert kvpr.max_kvpr(_case(), [0, 1, 0, 1]) == pytest.approx(0.15)
    assert kvpr.optimal_bound(_case()) == pytest.approx(7 / 60)


def test_a_gpu_filled_exactly_scores_as_the_leaderboard_says() -> None:
    case = kvpr.Case(2, np.array([40, 40, 10]), np.array([1, 1, 1]), np.array([1, 1, 1]))
    assert kvpr.max_kvpr(case, [0, 0, 1]) == kvpr.FULL_GPU_KVPR


def test_case_score_uses_the_sqrt_of_the_closed_share() -> None:
    assert kvpr.case_score(1.0, 0.0, 0.75) == pytest.approx(50.0)
    assert kvpr.case_score(1.0, 0.0, 2.0) == 0.0 and kvpr.case_score(1.0, 0.0, -1.0) == 100.0


def test_the_holdout_is_the_leaderboards_own_fifty_cases() -> None:
    np.random.seed(42)  # the leaderboard's generator, call for call
    hold = make({}).instances("holdout")
    assert len(hold) == 50
    for inst in hold[:10]:
        gpu_num = np.random.randint(5, 10)
        rows = [(np.random.randint(10, 30), np.random.randint(1, 10), np.random.randint(5, 10))
                for _ in range(gpu_num * 2)]
        assert inst.args[0] == gpu_num
        assert [tuple(r) for r in zip(*inst.args[1:])] == rows


@pytest.mark.parametrize(("output", "message"), [
    (None, "list"), ({0: [0]}, "list"), ([0, 1, 0], "4 expected"), ([0, 1, 0, 2], "0..1"),
    ([0, 1, 0, -1], "0..1"), ([0, 1, 0, 1.0], "0..1"), ([0, 1, 0, True], "0..1"),
    ([0, 0, 0, 1], "holds 90 GB"), (np.array([0.0, 1, 0, 1]), "integer GPU id"),
])
def test_malformed_placements_are_invalid(output, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidOutput, match=message):
        kvpr.validate(output, _case())


def test_numpy_integers_are_accepted() -> None:
    assert kvpr.validate(np.array([0, 1, 0, 1]), _case()) == [0, 1, 0, 1]
    assert kvpr.validate([np.int64(0), 1, 0, np.int32(1)], _case()) == [0, 1, 0, 1]


def test_baselines_rank_as_expected() -> None:
    p = make({"train_n": 20})
    insts = p.instances("train")
    scores = {}
    for name, src in {"seed": p.initial_program, **p.baselines()}.items():
        ns: dict[str, object] = {}
        exec(src, ns)
        scores[name] = p.aggregate(insts, [p.score(i, ns["place"](*i.args)) for i in insts])["score"]
    assert scores["round_robin"] == 0.0
    assert 40.0 < scores["seed"] == scores["greedy"] < scores["greedy_local_search"] <= 100.0


#: shrinks the model sizes it was handed, then packs everything on GPU 0 (the leaderboard scored the
#: model objects a program handed back, so a program could edit their sizes)
SHRINKS_MODELS = '''
def place(gpu_num, sizes, rates, slos):
    try:
        sizes.setflags(write=True)
        sizes[:] = 1
    except ValueError:
        pass
    return [0] * len(sizes)
'''


@pytest.mark.slow
def test_a_program_that_edits_its_inputs_is_judged_on_the_real_sizes() -> None:
    p = make({"train_n": 3})
    with Sandbox() as sandbox:
        out = evaluate(p, sandbox, SHRINKS_MODELS, ["quick"], Limits())
    assert out.status == "invalid" and "GB of models" in (out.error or "")
