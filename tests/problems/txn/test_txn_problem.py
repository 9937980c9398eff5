"""Scoring of the offline problem: recomputed makespans, ratio-of-sums aggregation, seed and baselines."""

from __future__ import annotations

import pytest

from evolve.problem import Instance, InvalidOutput
from problems.txn import Txn, simulator
from problems.txn.problem import batch_of, summarise
from problems.txn.workloads import SKEWED, generate


def test_instances_hand_the_candidate_only_the_immutable_transactions(txn_problem: Txn) -> None:
    inst = txn_problem.instances("quick")[0]
    (txns,) = inst.args
    assert isinstance(txns, tuple) and all(isinstance(t, tuple) for t in txns)
    assert inst.reference_kind == "lower_bound"
    assert inst.reference == inst.meta["lower_bound"] == simulator.lower_bound(batch_of(inst))
    assert inst.meta["fifo_makespan"] == simulator.fifo_makespan(batch_of(inst))


def test_score_recomputes_the_makespan_of_the_returned_order(txn_problem: Txn) -> None:
    inst = txn_problem.instances("quick")[1]
    order = list(range(len(inst.args[0])))[::-1]
    metrics = txn_problem.score(inst, order)
    assert metrics["makespan"] == simulator.makespan(batch_of(inst), order)
    assert metrics["fifo_makespan"] == inst.meta["fifo_makespan"]
    assert metrics["lower_bound"] == inst.meta["lower_bound"]


@pytest.mark.parametrize("output", [[0, 1], "fifo", None, {"order": []}])
def test_score_rejects_an_output_that_is_not_a_permutation(txn_problem: Txn, output) -> None:
    with pytest.raises(InvalidOutput):
        txn_problem.score(txn_problem.instances("quick")[0], output)


def test_fifo_order_scores_zero_and_the_bound_would_score_one_hundred() -> None:
    fifo = summarise([{"makespan": 50.0, "fifo_makespan": 50.0, "lower_bound": 20.0}])
    bound = summarise([{"makespan": 20.0, "fifo_makespan": 50.0, "lower_bound": 20.0}])
    assert fifo["score"] == 0.0 and bound["score"] == 100.0
    assert fifo["improvement_vs_fifo_pct"] == 0.0 and bound["gap_to_bound_pct"] == 0.0


def test_aggregate_is_a_ratio_of_sums_not_a_mean_of_ratios(txn_problem: Txn) -> None:
    metrics = [{"makespan": 10.0, "fifo_makespan": 20.0, "lower_bound": 10.0},   # closes 100 % of 10
               {"makespan": 300.0, "fifo_makespan": 300.0, "lower_bound": 100.0}]  # closes 0 % of 200
    agg = txn_problem.aggregate([], metrics)
    assert agg["score"] == pytest.approx(100.0 * 10 / 210)
    assert agg["improvement_vs_fifo_pct"] == pytest.approx(100.0 * 10 / 320)
    assert agg["gap_to_bound_pct"] == pytest.approx(100.0 * 200 / 110)
    assert agg["makespan"] == 155.0 and agg["makespan_sum"] == 310.0


def test_aggregate_of_nothing_is_invalid(txn_problem: Txn) -> None:
    with pytest.raises(InvalidOutput):
        txn_problem.aggregate([], [])


def test_seed_is_sampled_smf_with_evolve_markers(txn_problem: Txn) -> None:
    source = txn_problem.initial_program
    assert "# EVOLVE-BLOCK-START" in source and "# EVOLVE-BLOCK-END" in source
    assert "def schedule(txns)" in source
    assert "schedule(txns)" in txn_problem.description


@pytest.mark.parametrize("workload", SKEWED)
def test_seed_smf_beats_fifo_on_skewed_workloads(txn_problem: Txn, workload: str, load_entry) -> None:
    schedule = load_entry(txn_problem.initial_program)
    fifo = smf = 0
    for seed in range(5):
        batch = generate(workload, 100, 1000 + seed).batch
        fifo += simulator.fifo_makespan(batch)
        smf += simulator.makespan(batch, schedule(batch.as_txns()))
    assert smf < 0.9 * fifo


def test_baselines_are_fifo_smf_without_sampling_and_neh(txn_problem: Txn) -> None:
    assert set(txn_problem.baselines()) == {"fifo", "smf_full", "neh"}


def test_smf_full_baseline_reproduces_the_trusted_greedy_order(txn_problem: Txn, load_entry) -> None:
    schedule = load_entry(txn_problem.baselines()["smf_full"])
    for inst in txn_problem.instances("quick"):
        assert list(schedule(inst.args[0])) == simulator.greedy_order(batch_of(inst))


def test_neh_baseline_returns_valid_orders_better_than_fifo_in_total(txn_problem: Txn, load_entry) -> None:
    schedule = load_entry(txn_problem.baselines()["neh"])
    insts: list[Instance] = list(txn_problem.instances("quick"))
    metrics = [txn_problem.score(i, schedule(i.args[0])) for i in insts]
    assert txn_problem.aggregate(insts, metrics)["score"] > 0


def slow_neh(batch) -> list[int]:  # type: ignore[no-untyped-def]
    """NEH by brute force: re-simulate every insertion position (earliest position wins ties)."""
    order = sorted(range(batch.n), key=lambda i: (-int(batch.lengths[i]), i))
    seq = [order[0]]
    for x in order[1:]:
        spans = [simulator.makespan(batch, [*seq[:p], x, *seq[p:]]) for p in range(len(seq) + 1)]
        seq.insert(spans.index(min(spans)), x)
    return seq


def test_neh_baseline_matches_brute_force_insertion(txn_problem: Txn, load_entry) -> None:
    schedule = load_entry(txn_problem.baselines()["neh"])
    for workload in ("tpcc", "smallbank", "ycsb"):
        batch = generate(workload, 25, 77).batch
        assert list(schedule(batch.as_txns())) == slow_neh(batch)


def test_feedback_gives_the_gap_to_the_bound_per_workload_worst_first(txn_problem: Txn) -> None:
    instances = txn_problem.instances("train")
    metrics = [txn_problem.score(i, list(range(len(i.args[0])))) for i in instances]
    text = txn_problem.feedback(instances, metrics) or ""
    workloads = {str(i.meta["workload"]) for i in instances}
    assert text.startswith("makespan above the lower bound per workload") and all(w in text for w in workloads)
    gaps = [float(part.split(" %")[0].split()[-1]) for part in text.split(": ", 1)[1].split(", ")]
    assert gaps == sorted(gaps, reverse=True) and "+0.0 % vs FIFO" in text  # FIFO order gains nothing
