"""Online bin packing: generator, driver, validator and the baselines' known order."""

from __future__ import annotations

import numpy as np
import pytest

from evolve.plugins import load_problem
from evolve.problem import Instance, InvalidOutput
from problems.binpack import BinPacking, BinPackingOptions, make
from problems.binpack.driver import drive
from problems.binpack.generator import generate, lower_bound


def _priority(source: str):  # type: ignore[no-untyped-def]
    namespace: dict[str, object] = {}
    exec(compile(source, "candidate.py", "exec"), namespace)
    return namespace["priority"]


def _train_score(problem: BinPacking, source: str) -> float:
    fn = _priority(source)
    split = problem.instances("train")
    return problem.aggregate(split, [problem.score(i, drive(fn, *i.args)) for i in split])["score"]


def tiny(items: list[int], capacity: int = 10) -> Instance:
    arr = np.array(items, dtype=np.int64)
    return Instance("tiny", (arr, capacity), reference=float(lower_bound(arr, capacity)),
                    reference_kind="lower_bound")


def test_plugin_loads_by_name_with_the_driver() -> None:
    problem = load_problem("binpack", options={"quick_n": 30})
    assert problem.entry == "priority" and problem.harness.driver == "driver.py"
    assert all(len(i.args[0]) == 30 and i.args[1] == 100 for i in problem.instances("quick"))
    assert "priority(item, bins)" in problem.description


@pytest.mark.parametrize(("options", "message"), [({"sizes": 3}, "unknown binpack option"),
                                                  ({"train_n": 0}, "train_n=0"), ({"capacity": "big"}, "capacity")])
def test_bad_options_are_a_clear_error(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinPackingOptions.from_mapping(options)


def test_instances_are_deterministic_weibull_sizes_in_range() -> None:
    a, b = generate(12, 0, 500), generate(12, 0, 500)
    assert np.array_equal(a.items, b.items) and a.items.min() >= 1 and a.items.max() <= 100
    assert 35 < a.items.mean() < 45  # Weibull(3, 45) has mean 40.2 (ceil adds about 0.5)
    splits = {s: {tuple(i.args[0][:5]) for i in make().instances(s)} for s in ("quick", "train", "holdout")}
    assert not (splits["quick"] & splits["train"]) and not (splits["train"] & splits["holdout"])


def test_driver_offers_only_fitting_bins_then_one_empty_bin() -> None:
    seen: list[list[int]] = []

    def record(item: int, bins: np.ndarray) -> np.ndarray:
        assert not bins.flags.writeable
        seen.append(bins.tolist())
        return -(bins - item)  # best fit

    out = drive(record, np.array([6, 5, 3, 4]), 10)
    assert out == {"bins": [0, 1, 0, 1], "error": None}
    assert seen == [[10], [10], [4, 5, 10], [5, 10]]


@pytest.mark.parametrize(("source", "message"), [
    ("def priority(item, bins):\n    return bins[:1]\n", "shape"),
    ("import numpy as np\ndef priority(item, bins):\n    return bins * np.nan\n", "NaN"),
    ("def priority(item, bins):\n    return 'best'\n", "not numbers"),
])
def test_driver_stops_the_episode_on_a_malformed_priority(source: str, message: str) -> None:
    problem = make()
    inst = problem.instances("quick")[0]
    out = drive(_priority(source), *inst.args)
    assert out["error"] is not None and message in out["error"]
    with pytest.raises(InvalidOutput, match=message):
        problem.score(inst, out)


def test_a_number_is_the_same_priority_for_every_bin() -> None:
    assert drive(lambda item, bins: 1.0, np.array([6, 5, 3, 4]), 10)["bins"] == [0, 1, 0, 1]


@pytest.mark.parametrize("bins", [[0, 0, 0], [0, 2, 1], [1, 0, 0], [0, 1, -1], [0, 1, 1.0]])
def test_validator_rejects_overfull_skipped_or_malformed_bins(bins: list[object]) -> None:
    with pytest.raises(InvalidOutput):
        make().score(tiny([6, 5, 4]), {"bins": bins, "error": None})


def test_score_counts_bins_against_the_l1_bound() -> None:
    problem = make()
    inst = tiny([6, 5, 4, 5])  # 20 units: bound 2; [6,4] [5,5] is perfect
    assert problem.score(inst, {"bins": [0, 1, 0, 1], "error": None}) == {"bins": 2.0, "lower_bound": 2.0}
    agg = problem.aggregate([], [{"bins": 3.0, "lower_bound": 2.0}, {"bins": 10.0, "lower_bound": 10.0}])
    assert agg["excess_pct"] == pytest.approx(100 / 12) and agg["score"] == -agg["excess_pct"]


def test_best_fit_beats_first_fit_beats_worst_fit_on_train() -> None:
    problem = make()
    base = problem.baselines()
    scores = {name: _train_score(problem, src) for name, src in base.items()}
    assert scores["best_fit"] > scores["first_fit"] > scores["worst_fit"]
    assert _train_score(problem, problem.initial_program) == scores["first_fit"]
    assert -6.0 < scores["best_fit"] < -3.0  # FunSearch reports about 4 % over the bound for best fit
