"""Hand-checked load arithmetic: slot and GPU loads, balancedness and its ceiling."""

from __future__ import annotations

import numpy as np
import pytest

from problems.eplb import balance


def test_each_expert_load_is_split_evenly_over_its_replicas() -> None:
    # expert 0 (load 6) on slots 0, 1, 2; expert 1 (load 2) on slot 3
    loads = balance.slot_loads(np.array([[0, 0, 0, 1]]), np.array([[6.0, 2.0]]))
    assert loads.tolist() == [[2.0, 2.0, 2.0, 2.0]]


def test_a_perfectly_spread_layer_has_balancedness_one() -> None:
    gpu = balance.unit_loads(np.array([[0, 0, 0, 1]]), np.array([[6.0, 2.0]]), 2)
    assert gpu.tolist() == [[4.0, 4.0]]
    assert balance.balancedness(gpu) == 1.0


def test_balancedness_is_mean_over_max() -> None:
    # two replicas each: slot loads 3, 3, 1, 1 -> GPU loads 6 and 2 -> mean 4 / max 6
    gpu = balance.unit_loads(np.array([[0, 0, 1, 1]]), np.array([[6.0, 2.0]]), 2)
    assert gpu.tolist() == [[6.0, 2.0]]
    assert balance.balancedness(gpu) == pytest.approx(4 / 6)


def test_balancedness_is_a_ratio_of_sums_over_layers() -> None:
    # layer 0: GPU loads 6, 2 (mean 4, max 6); layer 1: 1, 1 (mean 1, max 1) -> (4 + 1) / (6 + 1)
    phy2log = np.array([[0, 0, 1, 1], [0, 1, 0, 1]])
    weight = np.array([[6.0, 2.0], [1.0, 1.0]])
    assert balance.balancedness(balance.unit_loads(phy2log, weight, 2)) == pytest.approx(5 / 7)


def test_node_loads_group_consecutive_gpus() -> None:
    # 8 slots, 4 GPUs of 2 slots, 2 nodes of 2 GPUs: slot loads 4,4,1,1 | 1,1,1,1 (expert 0 has 2 replicas)
    phy2log = np.array([[0, 0, 1, 2, 3, 4, 5, 6]])
    weight = np.array([[8.0, 1, 1, 1, 1, 1, 1]])
    assert balance.unit_loads(phy2log, weight, 2).tolist() == [[10.0, 4.0]]
    assert balance.unit_loads(phy2log, weight, 4).tolist() == [[8.0, 2.0, 2.0, 2.0]]


def test_a_layer_without_load_counts_as_balanced() -> None:
    assert balance.balancedness(np.zeros((2, 4))) == 1.0


def test_min_max_replica_load_gives_replicas_to_the_heaviest() -> None:
    # 6 slots for loads 9, 3, 1: counts 4, 1, 1 -> max(2.25, 3, 1) = 3; counts 3, 2, 1 -> 3 as well
    assert balance.min_max_replica_load(np.array([[9.0, 3.0, 1.0]]), 6).tolist() == [3.0]


def test_ceiling_is_limited_by_an_unsplittable_hot_expert() -> None:
    # one replica per expert: the GPU with expert 0 carries 10, the mean GPU load is 5
    assert balance.balancedness_ceiling(np.array([[10.0, 0, 0, 0]]), 4, 2) == pytest.approx(0.5)


def test_ceiling_is_one_when_replication_can_even_out_the_load() -> None:
    assert balance.balancedness_ceiling(np.array([[6.0, 2.0]]), 4, 2) == 1.0


def test_ceiling_bounds_every_mapping() -> None:
    rng = np.random.default_rng(5)
    weight = rng.integers(0, 100, size=(4, 6)).astype(float)
    ceiling = balance.balancedness_ceiling(weight, 12, 3)
    for _ in range(200):
        counts = np.ones((4, 6), dtype=np.int64)
        for ly in range(4):
            np.add.at(counts[ly], rng.integers(0, 6, size=6), 1)
        phy2log = np.stack([rng.permutation(np.repeat(np.arange(6), c)) for c in counts])
        assert balance.balancedness(balance.unit_loads(phy2log, weight, 3)) <= ceiling + 1e-12
