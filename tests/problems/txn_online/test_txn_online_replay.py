"""The parent's replay: every decision must have been offered; the makespan is recomputed."""

from __future__ import annotations

import pytest

from evolve.problem import InvalidOutput
from problems.txn import simulator
from problems.txn.problem import batch_of
from problems.txn.workloads import SKEWED, generate
from problems.txn_online import TxnOnline
from problems.txn_online.driver import drive
from problems.txn_online.replay import replay


def episode(problem: TxnOnline, load_policy, index: int = 0):  # type: ignore[no-untyped-def]
    inst = problem.instances("quick")[index]
    return inst, drive(load_policy(problem.initial_program), *inst.args)


def test_replay_accepts_the_drivers_own_episode_and_the_score_recomputes_it(online_problem: TxnOnline,
                                                                             load_policy) -> None:
    inst, out = episode(online_problem, load_policy)
    order = online_problem.decisions(inst, out)
    metrics = online_problem.score(inst, out)
    assert metrics["makespan"] == simulator.makespan(batch_of(inst), order)
    assert metrics["smf_full_makespan"] == inst.meta["smf_full_makespan"]


def test_replay_refuses_an_order_that_was_not_offered(online_problem: TxnOnline, load_policy) -> None:
    inst, _ = episode(online_problem, load_policy)
    n = len(inst.args[0])
    with pytest.raises(InvalidOutput, match="not offered"):  # FIFO needs picks the sampler never offers
        online_problem.check_output(inst, {"decisions": list(range(n)), "error": None})


def test_replay_refuses_a_reordering_of_a_legal_episode(online_problem: TxnOnline, load_policy) -> None:
    inst, out = episode(online_problem, load_policy)
    d = out["decisions"]
    swapped = [d[0], *d[2:5], d[1], *d[5:]]  # the second decision moved three places later
    with pytest.raises(InvalidOutput, match="decision 1 "):
        online_problem.check_output(inst, {"decisions": swapped, "error": None})


def test_replay_refuses_decisions_drawn_with_another_seed(online_problem: TxnOnline, load_policy) -> None:
    inst = online_problem.instances("quick")[0]
    txns, k, seed, budget = inst.args
    out = drive(load_policy(online_problem.initial_program), txns, k, seed + 1, budget)
    with pytest.raises(InvalidOutput, match="not offered"):
        online_problem.score(inst, out)


def test_replay_with_k_covering_the_batch_accepts_any_permutation() -> None:
    assert replay({"decisions": [2, 0, 1], "error": None}, 3, 3, 0) == [2, 0, 1]


@pytest.mark.parametrize(("output", "message"), [
    (None, "must be"),
    ([0, 1, 2], "must be"),
    ({"decisions": [0, 1, 2]}, "must be"),
    ({"decisions": [0, 1, 2], "error": None, "makespan": 1}, "must be"),
    ({"decisions": [0, 1], "error": "decision 2 used 30.0 ms"}, "stopped: decision 2"),
    ({"decisions": [0, 1, 2], "error": 3}, "malformed"),
    ({"decisions": (0, 1, 2), "error": None}, "list"),
    ({"decisions": [0, 1], "error": None}, "2 decisions for 3"),
    ({"decisions": [0, 1, 2, 0], "error": None}, "4 decisions for 3"),
    ({"decisions": [0, 1, None], "error": None}, "ints"),
    ({"decisions": [0, 1, 2.0], "error": None}, "ints"),
    ({"decisions": [0, True, 2], "error": None}, "ints"),
    ({"decisions": [0, 0, 1], "error": None}, "not offered"),
    ({"decisions": [0, 1, 7], "error": None}, "not offered"),
])
def test_replay_rejects_malformed_driver_output(output, message: str) -> None:
    with pytest.raises(InvalidOutput, match=message):
        replay(output, 3, 5, 0)


def test_instances_carry_k_seed_and_budget_and_differ_only_by_args_from_txn(online_problem: TxnOnline) -> None:
    from problems.txn import make as make_offline

    online, offline = online_problem.instances("quick")[0], make_offline({}).instances("quick")[0]
    assert online.args[0] == offline.args[0]
    assert online.args[1:] == (5, online.meta["episode_seed"], 20.0)


@pytest.mark.parametrize("workload", SKEWED)
def test_seed_smf_beats_fifo_in_the_offer_on_skewed_workloads(online_problem: TxnOnline, workload: str,
                                                               load_policy) -> None:
    smf, fifo = load_policy(online_problem.initial_program), load_policy(online_problem.baselines()["fifo"])
    totals = {"smf": 0, "fifo": 0, "sequential": 0}
    for seed in range(5):
        batch = generate(workload, 100, 2000 + seed).batch
        txns = batch.as_txns()
        totals["smf"] += simulator.makespan(batch, drive(smf, txns, 5, seed, 50.0)["decisions"])
        totals["fifo"] += simulator.makespan(batch, drive(fifo, txns, 5, seed, 50.0)["decisions"])
        totals["sequential"] += simulator.fifo_makespan(batch)
    assert totals["smf"] < 0.9 * min(totals["fifo"], totals["sequential"])
