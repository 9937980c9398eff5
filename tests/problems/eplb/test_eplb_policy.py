"""The seed, the baselines and the trusted reference policy: valid mappings, and the seed balances well."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from problems.eplb import balance, make, policy
from problems.eplb.validate import validate_mapping

PROBLEM = make()


def load(code: str) -> Any:
    namespace: dict[str, Any] = {"__name__": "candidate"}
    exec(compile(code, "candidate.py", "exec"), namespace)
    return namespace["rebalance_experts"]


SEED = load(PROBLEM.initial_program)


def test_balanced_packing_puts_the_heaviest_item_into_the_lightest_pack_with_room() -> None:
    # items 5, 4, 3, 2 into 2 packs of 2: 5 -> A, 4 -> B, 3 -> B (lighter), 2 -> A (B is full)
    pack, rank = policy.balanced_packing(np.array([[5.0, 4.0, 3.0, 2.0]]), 2)
    assert pack.tolist() == [[0, 1, 1, 0]] and rank.tolist() == [[0, 0, 1, 1]]


def test_replicate_gives_extra_replicas_to_the_largest_load_per_replica() -> None:
    # 9, 3, 1 with 6 replicas: 9 -> 4.5 -> 3 (tie with 3: lower index) -> 2.25 ... counts 4, 1, 1
    assert policy.replicate(np.array([[9.0, 3.0, 1.0]]), 6).tolist() == [[4, 1, 1]]


@pytest.mark.parametrize("split", ["quick", "train", "holdout"])
def test_seed_makes_exactly_the_reference_policys_decisions(split: str) -> None:
    for inst in PROBLEM.instances(split)[::2]:
        got, want = SEED(*inst.args), policy.rebalance(*inst.args)
        assert all(np.array_equal(g, w) for g, w in zip(got, want)), inst.id


def test_seed_balances_the_realistic_shape_close_to_the_bound_on_the_same_window() -> None:
    inst = next(i for i in PROBLEM.instances("train") if i.meta["shape"] == "dsv3")
    weight, replicas, _, _, gpus = inst.args
    phy2log = SEED(*inst.args)[0]
    same = balance.balancedness(balance.unit_loads(phy2log, weight, gpus))
    assert same >= 0.93 * balance.balancedness_ceiling(weight, replicas, gpus)


def test_seed_in_global_mode_is_within_one_percent_of_the_bound_on_the_same_window() -> None:
    inst = next(i for i in PROBLEM.instances("train") if i.meta["groups"] == 1)
    weight, replicas, _, _, gpus = inst.args
    phy2log = SEED(*inst.args)[0]
    same = balance.balancedness(balance.unit_loads(phy2log, weight, gpus))
    assert same >= 0.99 * balance.balancedness_ceiling(weight, replicas, gpus)


@pytest.mark.parametrize("name", sorted(PROBLEM.baselines()))
def test_every_baseline_returns_a_valid_mapping_on_every_instance(name: str) -> None:
    fn = load(PROBLEM.baselines()[name])
    for split in ("quick", "train", "holdout"):
        for inst in PROBLEM.instances(split):
            weight, replicas = inst.args[:2]
            m = validate_mapping(fn(*inst.args), *weight.shape, replicas)
            assert (m.logcnt.sum(axis=1) == replicas).all(), (split, inst.id)


def test_the_baselines_are_round_robin_the_global_policy_and_hamilton_snake() -> None:
    assert sorted(PROBLEM.baselines()) == ["global_policy", "hamilton_snake", "round_robin"]


def test_hamilton_snake_apportions_extra_replicas_by_largest_remainder_and_deals_them_in_snake_order() -> None:
    fn = load(PROBLEM.baselines()["hamilton_snake"])
    weight = np.array([[8.0, 4.0, 2.0, 1.0]])
    phy2log, _, logcnt = fn(weight, 8, 1, 1, 2)
    # 4 extra replicas: quotas 2.13, 1.07, 0.53, 0.27 -> floors 2, 1, 0, 0, the last one to remainder 0.53
    assert logcnt.tolist() == [[3, 2, 2, 1]]
    # replicas by load 8/3, 8/3, 8/3, 2, 2, 1, 1, 1 dealt to GPUs 0, 1, 1, 0, 0, 1, 1, 0
    gpu = balance.unit_loads(phy2log, weight, 2)
    assert gpu[0].tolist() == pytest.approx([8 / 3 + 2 + 2 + 1, 16 / 3 + 1 + 1])


def test_driver_scaling_leaves_the_seeds_answer_unchanged() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(PROBLEM.driver_source() or "", "driver.py", "exec"), namespace)
    inst = PROBLEM.instances("quick")[0]
    seen: list[np.ndarray] = []

    def spy(weight: np.ndarray, *rest: int) -> Any:
        seen.append(weight)
        return SEED(weight, *rest)

    answers = [namespace["drive"](spy, *inst.args) for _ in range(3)]
    assert not any(w.flags.writeable for w in seen)
    assert len({w.tobytes() for w in seen}) == 3  # each call sees different bytes
    assert all(np.array_equal(a, b) for out in answers[1:] for a, b in zip(out, answers[0]))
