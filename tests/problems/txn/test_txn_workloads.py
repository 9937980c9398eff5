"""Workload generators and split construction: deterministic, distinct across seeds, validated options."""

from __future__ import annotations

import numpy as np
import pytest

from problems.txn import make
from problems.txn.batch import Batch
from problems.txn.suite import TxnOptions
from problems.txn.workloads import WORKLOADS, generate


@pytest.mark.parametrize("workload", WORKLOADS)
def test_generator_is_deterministic_in_its_seed(workload: str) -> None:
    a, b = generate(workload, 60, 42), generate(workload, 60, 42)
    assert a.batch.as_txns() == b.batch.as_txns()
    assert a.params == b.params


@pytest.mark.parametrize("workload", WORKLOADS)
def test_generator_differs_across_seeds(workload: str) -> None:
    assert generate(workload, 60, 1).batch.as_txns() != generate(workload, 60, 2).batch.as_txns()


@pytest.mark.parametrize("workload", WORKLOADS)
def test_generated_batches_have_dense_keys_and_valid_operations(workload: str) -> None:
    b = generate(workload, 100, 3).batch
    assert b.n == 100
    assert set(np.unique(b.keys).tolist()) == set(range(b.n_keys))
    txns = b.as_txns()
    assert all(kind in ("r", "w") and type(key) is int for t in txns for kind, key in t)
    assert Batch.from_txns(txns, b.n_keys).as_txns() == txns


def test_generator_rejects_unknown_workload_and_empty_batch() -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        generate("tpch", 10, 0)
    with pytest.raises(ValueError, match="at least one"):
        generate("ycsb", 0, 0)


def test_splits_are_deterministic_and_disjoint() -> None:
    first, second = make({}), make({})
    for split in ("quick", "train", "holdout"):
        assert [i.args for i in first.instances(split)] == [i.args for i in second.instances(split)]
    ids = [i.id.split("/")[1] for s in ("quick", "train", "holdout") for i in first.instances(s)]
    seeds = [i.meta["seed"] for s in ("quick", "train", "holdout") for i in first.instances(s)]
    assert len(set(seeds)) == len(seeds) == len(ids)


def test_default_splits_cover_every_workload_and_hold_out_500_transactions() -> None:
    problem = make({})
    assert {i.meta["workload"] for i in problem.instances("train")} == set(WORKLOADS)
    assert {i.meta["n"] for i in problem.instances("train")} == {100}
    assert {i.meta["n"] for i in problem.instances("holdout")} == {100, 500}


def test_options_select_workloads_sizes_and_counts() -> None:
    problem = make({"workloads": ["tpcc"], "train_n": [30, 40], "train_per_workload": 2, "train_seed": 9})
    inst = problem.instances("train")
    assert [(i.meta["workload"], i.meta["n"]) for i in inst] == [("tpcc", 30)] * 2 + [("tpcc", 40)] * 2


@pytest.mark.parametrize(("options", "message"), [
    ({"train_size": [100]}, "unknown txn option"),
    ({"workloads": ["tpch"]}, "workloads"),
    ({"workloads": []}, "workloads"),
    ({"train_n": [0]}, "train_n"),
    ({"quick_per_workload": 0}, "quick_per_workload"),
    ({"holdout_seed": "x"}, "holdout_seed"),
])
def test_bad_options_are_a_clear_error(options, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TxnOptions.from_mapping(options)


def test_unknown_split_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown split"):
        make({}).instances("validation")
