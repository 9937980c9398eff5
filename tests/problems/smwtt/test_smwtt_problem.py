"""The SMWTT problem: splits, weighted scoring against the published values, options."""

from __future__ import annotations

import numpy as np
import pytest

from evolve.plugins import load_problem
from evolve.problem import InvalidOutput
from problems.smwtt import Smwtt, make


def test_load_problem_finds_the_plugin() -> None:
    problem = load_problem("smwtt")
    assert isinstance(problem, Smwtt) and problem.entry == "schedule"
    assert "schedule(p, d, w)" in problem.description and "# EVOLVE-BLOCK-START" in problem.initial_program


def test_default_splits_are_wt40_for_search_and_wt50_wt100_held_out() -> None:
    problem = make()
    quick, train, holdout = (problem.instances(s) for s in ("quick", "train", "holdout"))
    assert [i.meta["number"] for i in quick] == [13, 38, 63, 88, 113]
    assert len(train) == 120 and {i.meta["set"] for i in train} == {"wt40"}
    assert not {i.meta["number"] for i in quick} & {i.meta["number"] for i in train}
    assert len(holdout) == 250 and {i.meta["set"] for i in holdout} == {"wt50", "wt100"}


def test_instance_passes_p_d_w_and_keeps_the_published_value() -> None:
    inst = make().instances("train")[0]
    p, d, w = inst.args
    assert inst.id == "train/wt40-001" and inst.reference == 913.0 and inst.reference_kind == "optimum"
    assert inst.meta["class"] == "tf0.2-rdd0.2" and len(p) == len(d) == len(w) == 40


def test_score_recomputes_the_weighted_tardiness() -> None:
    problem = make()
    inst = problem.instances("quick")[0]
    p, d, w = inst.args
    order = np.argsort(d, kind="stable")
    expected = int((w[order] * np.maximum(np.cumsum(p[order]) - d[order], 0)).sum())
    assert problem.score(inst, order.tolist())["total_tardiness"] == expected


@pytest.mark.parametrize("bad", [None, [0] * 40, list(range(39)), np.arange(40.0), [True] * 40, "x"])
def test_score_rejects_malformed_schedules(bad: object) -> None:
    problem = make()
    with pytest.raises(InvalidOutput):
        problem.score(problem.instances("quick")[0], bad)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match=r"unknown smwtt option\(s\) \['size'\]"):
        make({"size": 40})
    with pytest.raises(ValueError, match="also a hold-out set"):
        make({"train_set": "wt50"})
    with pytest.raises(ValueError, match="quick_numbers"):
        make({"quick_numbers": [0]})
    problem = make({"train_set": "wt50", "holdout_sets": ["wt100"], "quick_numbers": [1]})
    assert len(problem.instances("train")) == 124 and len(problem.instances("holdout")) == 125
