"""The SMTT problem: exact references for the default splits, instance records, and the split metrics."""

from __future__ import annotations

import numpy as np
import pytest

from evolve.errors import ProblemError
from evolve.plugins import load_problem
from evolve.problem import Instance, InvalidOutput
from problems.smtt import Smtt, exact, make, references
from problems.smtt.metrics import DESCRIPTIONS, by_class, gap_metrics
from problems.smtt.problem import REFERENCE_FILE, instance_key, instance_metrics

EXPECTED_METRICS = {"score", "gap_pct", "mean_gap_pct", "optimal_pct", "total_tardiness", "reference_tardiness",
                    "instances"}


def test_load_problem_finds_the_builtin_plugin() -> None:
    problem = load_problem("smtt")
    assert isinstance(problem, Smtt) and problem.entry == "schedule"
    assert "# EVOLVE-BLOCK-START" in problem.initial_program and "schedule(p, d)" in problem.description


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown smtt option\(s\) \['sizes'\]"):
        make({"sizes": [10]})
    with pytest.raises(ProblemError):
        load_problem("smtt", options={"sizes": [10]})


def test_default_splits_keep_their_definitions() -> None:
    problem = make()
    sizes = {split: sorted({i.meta["n"] for i in problem.instances(split)}) for split in ("quick", "train", "holdout")}
    assert sizes == {"quick": [20], "train": [50], "holdout": [20, 100]}
    assert [len(problem.instances(s)) for s in ("quick", "train", "holdout")] == [20, 40, 40]


def test_every_default_instance_has_a_cached_optimum(smtt_problem: Smtt) -> None:
    table = references.load_table(REFERENCE_FILE)
    for split in ("quick", "train", "holdout"):
        for inst in smtt_problem.instances(split):
            key = inst.id.split("/", 1)[1]
            assert table[key]["kind"] == "optimum" and inst.reference_kind == "optimum"
            assert inst.reference == table[key]["value"]


def test_cached_optima_are_the_solver_optima(smtt_problem: Smtt) -> None:
    for inst in [*smtt_problem.instances("quick"), *smtt_problem.instances("holdout")[::7]]:
        assert exact.solve(*inst.args).value == inst.reference


@pytest.mark.slow
def test_cached_optima_of_20_jobs_agree_with_the_subset_dp(smtt_problem: Smtt) -> None:
    for inst in smtt_problem.instances("quick")[5::5]:
        assert exact.subset_dp(*inst.args).value == inst.reference


def test_instances_record_their_generator_parameters(smtt_problem: Smtt) -> None:
    inst = smtt_problem.instances("train")[0]
    assert set(inst.meta) == {"n", "tf", "rdd", "seed", "class"}
    assert inst.id == f"train/n{inst.meta['n']}-tf{inst.meta['tf']}-rdd{inst.meta['rdd']}-s{inst.meta['seed']}"
    assert inst.meta["class"] == f"tf{inst.meta['tf']}-rdd{inst.meta['rdd']}"


def test_options_outside_the_cache_are_solved_on_the_fly() -> None:
    problem = make({"quick_n": [12], "quick_seed": 77})
    inst = problem.instances("quick")[0]
    p, d = inst.args
    assert inst.reference_kind == "optimum" and inst.reference == exact.subset_dp(p, d).value


def test_intractable_references_fall_back_to_a_lower_bound_marked_as_such() -> None:
    from problems.smtt.generator import generate

    raw = generate(100, 0.6, 0.2, 1)
    value, kind = references.optimum_or_bound(raw.p, raw.d, max_states=5)
    assert kind == "lower_bound" and value == exact.lower_bound(raw.p, raw.d)


def test_optimal_schedules_score_zero_gap(smtt_problem: Smtt) -> None:
    metrics = []
    for inst in smtt_problem.instances("quick"):
        order = exact.solve(*inst.args).order
        metrics.append(smtt_problem.score(inst, list(order)))
    agg = smtt_problem.aggregate(smtt_problem.instances("quick"), metrics)
    assert agg["gap_pct"] == 0.0 and agg["score"] == 0.0 and agg["optimal_pct"] == 100.0


def test_aggregate_is_a_flat_dict_of_floats_with_unit_bearing_names(smtt_problem: Smtt) -> None:
    inst = smtt_problem.instances("quick")
    agg = smtt_problem.aggregate(inst, [smtt_problem.score(i, list(range(len(i.args[0])))) for i in inst])
    assert set(agg) == EXPECTED_METRICS
    assert all(type(v) is float for v in agg.values())
    assert set(smtt_problem.describe_metrics()) == set(DESCRIPTIONS) >= EXPECTED_METRICS
    assert set(smtt_problem.summary_metrics) <= set(agg)


def _instance(p: list[int], reference: float, kind: str = "optimum") -> Instance:
    return Instance(id="x", args=(np.array(p), np.zeros(len(p), dtype=np.int64)), reference=reference,
                    reference_kind=kind)


def test_gap_is_a_ratio_of_sums_and_the_mean_gap_has_a_floor() -> None:
    a = instance_metrics(_instance([50, 50], 0.0), 10)  # optimum 0: ratio would be infinite
    b = instance_metrics(_instance([500, 500], 1000.0), 1100)
    agg = gap_metrics([a, b])
    assert agg["gap_pct"] == pytest.approx(100.0 * (1110 - 1000) / 1000)
    # per instance: 10 / max(0, floor 100) = 10%, 100 / max(1000, 1000) = 10%
    assert agg["mean_gap_pct"] == pytest.approx(10.0)
    assert agg["total_tardiness"] == 555.0 and agg["reference_tardiness"] == 500.0
    assert agg["optimal_pct"] == 0.0


def test_optimal_pct_counts_only_proven_references() -> None:
    hit = instance_metrics(_instance([5], 7.0, "optimum"), 7)
    bound = instance_metrics(_instance([5], 7.0, "lower_bound"), 7)
    known = instance_metrics(_instance([5], 7.0, "best_known"), 7)
    assert gap_metrics([hit, bound, known])["optimal_pct"] == pytest.approx(200.0 / 3)


def test_per_class_metrics_group_instances(smtt_problem: Smtt) -> None:
    inst = smtt_problem.instances("train")
    metrics = [smtt_problem.score(i, list(range(len(i.args[0])))) for i in inst]
    classes = by_class([i.meta["class"] for i in inst], metrics)
    assert len(classes) == 20 and all(c["instances"] == 2.0 for c in classes.values())
    total = sum(c["total_tardiness"] * c["instances"] for c in classes.values())
    assert total == pytest.approx(smtt_problem.aggregate(inst, metrics)["total_tardiness"] * len(inst))


def test_aggregate_of_nothing_is_invalid(smtt_problem: Smtt) -> None:
    with pytest.raises(InvalidOutput):
        smtt_problem.aggregate([], [])


def test_instance_key_names_the_generator_parameters() -> None:
    from problems.smtt.generator import generate

    assert instance_key(generate(20, 0.4, 0.6, 9)) == "n20-tf0.4-rdd0.6-s9"
