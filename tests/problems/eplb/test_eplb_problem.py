"""The EPLB plugin: options, instances, per-instance scoring and the score formula."""

from __future__ import annotations

import numpy as np
import pytest

from evolve.errors import ProblemError
from evolve.plugins import load_problem
from evolve.problem import InvalidOutput
from problems.eplb import make, policy
from problems.eplb.problem import Eplb

PROBLEM = make()


def metrics(balancedness: float, reference: float = 0.8, oracle: float = 1.0) -> dict[str, float]:
    return {"balancedness": balancedness, "node_balancedness": 1.0, "balancedness_same": 1.0,
            "balancedness_oracle": oracle, "balancedness_reference": reference, "ceiling_same": 1.0,
            "ceiling_next": 1.0}


def score(balancedness: float, ms: float | None) -> float:
    return PROBLEM.aggregate([], [metrics(balancedness)], None if ms is None else [ms])["score"]


def test_load_problem_finds_the_builtin_plugin() -> None:
    problem = load_problem("eplb")
    assert isinstance(problem, Eplb) and problem.entry == "rebalance_experts"
    assert "# EVOLVE-BLOCK-START" in problem.initial_program and "rebalance_experts" in problem.description


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown eplb option\(s\) \['seeds'\]"):
        make({"seeds": 1})
    with pytest.raises(ProblemError, match=r"bad problem\.options"):
        load_problem("eplb", options={"seeds": 1})


@pytest.mark.parametrize("options", [{"windows": 1}, {"repeats": 0}, {"repeats": 1, "warmup": 0},
                                     {"speed_cap": 1.0}])
def test_out_of_range_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="eplb options need"):
        make(options)


def test_options_reach_the_harness() -> None:
    problem = make({"repeats": 7, "warmup": 2})
    assert (problem.harness.repeats, problem.harness.warmup, problem.harness.driver) == (7, 2, "driver.py")


def test_instances_are_deterministic_for_the_same_options() -> None:
    a, b = make().instances("train"), make().instances("train")
    assert [i.id for i in a] == [i.id for i in b]
    assert all(np.array_equal(x.args[0], y.args[0]) and x.reference == y.reference for x, y in zip(a, b))


def test_splits_use_different_seeds_and_shapes() -> None:
    shapes = {s: {(i.meta["shape"], i.meta["hardware"]) for i in PROBLEM.instances(s)}
              for s in ("quick", "train", "holdout")}
    assert shapes["holdout"].isdisjoint(shapes["train"]) and shapes["quick"].isdisjoint(shapes["train"])
    assert ("dsv3", "h288") in shapes["train"]


def test_an_instance_pairs_window_i_inputs_with_window_i_plus_one_for_scoring() -> None:
    traces = PROBLEM.traces("train")
    inst = PROBLEM.instances("train")[1]  # first trace, window 1
    assert np.array_equal(inst.args[0], traces[0].loads[1])
    assert np.array_equal(inst.private["next"], traces[0].loads[2])
    assert not any(isinstance(a, np.ndarray) and np.array_equal(a, inst.private["next"]) for a in inst.args)
    assert inst.reference_kind == "oracle" and inst.reference == inst.private["balancedness_oracle"]
    assert inst.args[1:] == (288, 8, 4, 32)


def test_score_of_the_reference_policy_matches_the_stored_reference() -> None:
    inst = PROBLEM.instances("quick")[0]
    m = PROBLEM.score(inst, policy.rebalance(*inst.args))
    assert m["balancedness"] == inst.private["balancedness_reference"]
    assert m["balancedness"] <= m["ceiling_next"] and m["balancedness_same"] <= m["ceiling_same"]
    assert 0 < m["balancedness"] <= m["balancedness_oracle"] <= 1


def test_a_candidate_listing_one_slot_twice_is_invalid() -> None:
    inst = PROBLEM.instances("quick")[0]
    phy2log, log2phy, logcnt = (a.copy() for a in policy.rebalance(*inst.args))
    ly, e = np.argwhere(logcnt >= 2)[0]
    log2phy[ly, e, 1] = log2phy[ly, e, 0]
    with pytest.raises(InvalidOutput, match="listed 2 times"):
        PROBLEM.score(inst, (phy2log, log2phy, logcnt))


def test_score_is_balance_over_oracle_when_speed_is_not_timed() -> None:
    out = PROBLEM.aggregate([], [metrics(0.8, oracle=0.9), metrics(0.6, oracle=0.7)], None)
    assert out["score"] == pytest.approx(0.7 / 0.8) and out["speed_credit"] == 0.0


def test_speed_credit_follows_the_log_scale_and_is_capped() -> None:
    assert score(0.8, 100.0) == pytest.approx(0.8)             # 100 ms: no credit
    assert score(0.8, 1.0) == pytest.approx(0.8 + 0.05 * 2 / 3)  # 1 ms: two of three decades
    assert score(0.8, 1e-6) == pytest.approx(0.85)             # never more than the cap
    assert score(0.8, 1e4) == pytest.approx(0.8)               # slow costs nothing beyond no credit


def test_runtime_is_the_geometric_mean_of_instance_medians() -> None:
    out = PROBLEM.aggregate([], [metrics(0.8), metrics(0.8)], [1.0, 100.0])
    assert out["runtime_ms"] == pytest.approx(10.0)


def test_a_fast_badly_balanced_mapping_never_beats_the_slow_reference() -> None:
    # 3 % below the reference policy's balance: no speed credit at all, however fast
    assert score(0.8 * 0.969, 1e-6) < score(0.8, 1e4)
    assert score(0.8 * 0.969, 1e-6) == pytest.approx(0.8 * 0.969)


def test_speed_never_outweighs_a_balance_lead_larger_than_the_cap() -> None:
    assert score(0.9, 1e-6) < score(0.951, 1e4)


def test_among_equally_balanced_mappings_the_faster_wins() -> None:
    assert score(0.8, 1.0) > score(0.8, 10.0) > score(0.8, 50.0)


def test_a_missing_timing_gives_no_speed_credit() -> None:
    out = PROBLEM.aggregate([], [metrics(0.8), metrics(0.8)], [1.0, None])  # type: ignore[list-item]
    assert out["speed_credit"] == 0.0 and "runtime_ms" not in out


def test_aggregate_of_nothing_is_invalid() -> None:
    with pytest.raises(InvalidOutput):
        PROBLEM.aggregate([], [], None)


def test_every_reported_metric_is_described() -> None:
    out = PROBLEM.aggregate([], [metrics(0.8)], [5.0])
    described = PROBLEM.describe_metrics()
    assert set(out) - {"instances"} <= set(described)
    assert set(PROBLEM.summary_metrics) <= set(out)


def test_feedback_gives_the_balance_per_trace_class_worst_first() -> None:
    instances = PROBLEM.instances("train")
    scored = [(i, metrics(0.5 + 0.1 * k, oracle=1.0)) for k, i in enumerate(instances)]
    text = PROBLEM.feedback([i for i, _ in scored], [m for _, m in scored]) or ""
    assert text.startswith("next-window GPU balancedness as a share of the hindsight oracle's per trace class")
    shares = [float(part.split(" (")[0].split()[-1]) for part in text.split(": ", 1)[1].split(", ")]
    assert shares == sorted(shares) and len(shares) == len({(i.meta["shape"], i.meta["hardware"],
                                                               i.meta["popularity"]) for i in instances})
