"""Options, metadata and aggregation of the online problem."""

from __future__ import annotations

import pytest

from evolve.plugins import load_problem
from evolve.problem import InvalidOutput
from problems.txn_online import TxnOnline, TxnOnlineOptions


def test_plugin_loads_by_name_with_options() -> None:
    problem = load_problem("txn_online", options={"k": 3, "quick_n": [20]})
    assert isinstance(problem, TxnOnline) and problem.entry == "choose"
    assert problem.harness.driver == "driver.py" and "def drive(" in (problem.driver_source() or "")
    assert all(i.args[1] == 3 and len(i.args[0]) == 20 for i in problem.instances("quick"))


@pytest.mark.parametrize(("options", "message"), [
    ({"k": 0}, "k"), ({"decision_budget_ms": 0}, "decision_budget_ms"),
    ({"sample_size": 5}, "unknown txn_online option"), ({"k": "five"}, "k=")])
def test_bad_options_are_a_clear_error(options, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TxnOnlineOptions.from_mapping(options)


def test_seed_policy_has_evolve_markers_and_the_documented_signature(online_problem: TxnOnline) -> None:
    source = online_problem.initial_program
    assert "# EVOLVE-BLOCK-START" in source and "# EVOLVE-BLOCK-END" in source
    assert "def choose(state, candidates)" in source
    assert "choose(state, candidates)" in online_problem.description


def test_baselines_are_fifo_and_shortest_without_neh(online_problem: TxnOnline) -> None:
    assert set(online_problem.baselines()) == {"fifo", "shortest"}


def test_aggregate_reports_the_unsampled_smf_reference_as_a_mean(online_problem: TxnOnline) -> None:
    metrics = [{"makespan": 10.0, "fifo_makespan": 20.0, "lower_bound": 10.0, "smf_full_makespan": 12.0},
               {"makespan": 300.0, "fifo_makespan": 300.0, "lower_bound": 100.0, "smf_full_makespan": 200.0}]
    agg = online_problem.aggregate([], metrics)
    assert agg["score"] == pytest.approx(100.0 * 10 / 210) and agg["smf_full_makespan"] == 106.0
    with pytest.raises(InvalidOutput):
        online_problem.aggregate([], [])
