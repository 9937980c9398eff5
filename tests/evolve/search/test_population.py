from __future__ import annotations

import random
from collections import Counter

import pytest

from evolve.search.population import Population, SearchSettings, features_of, pick_index


def _pop(**kw) -> Population:  # type: ignore[no-untyped-def]
    return Population(SearchSettings(**kw))


def test_rank_selection_prefers_better_programs() -> None:
    s = SearchSettings(selection="rank", child_bonus=0.0)
    rng = random.Random(0)
    counts = Counter(pick_index(s, [10.0, 5.0, 0.0, -5.0, -10.0], [0] * 5, rng) for _ in range(4000))
    assert counts[0] > counts[2] > counts[4]


def test_rank_selection_is_scale_free() -> None:
    s = SearchSettings(selection="rank", child_bonus=0.0)
    a = [pick_index(s, [3.0, 2.0, 1.0], [0, 0, 0], random.Random(1)) for _ in range(1)]
    b = [pick_index(s, [3000.0, 2000.0, 1000.0], [0, 0, 0], random.Random(1)) for _ in range(1)]
    ra, rb = random.Random(4), random.Random(4)
    assert a == b
    assert [pick_index(s, [3.0, 2.0, 1.0], [0] * 3, ra) for _ in range(200)] == \
           [pick_index(s, [3e3, 2e3, 1e3], [0] * 3, rb) for _ in range(200)]


def test_child_bonus_favours_parents_with_few_children() -> None:
    s = SearchSettings(selection="rank", child_bonus=1.0)
    rng = random.Random(0)
    counts = Counter(pick_index(s, [1.0, 1.0], [20, 0], rng) for _ in range(2000))
    assert counts[1] > 3 * counts[0]


def test_power_law_and_tournament_pick_the_best_most_often() -> None:
    for sel in ("power_law", "tournament"):
        s = SearchSettings(selection=sel)
        rng = random.Random(0)
        counts = Counter(pick_index(s, [4.0, 3.0, 2.0, 1.0], [0] * 4, rng) for _ in range(2000))
        assert counts.most_common(1)[0][0] == 0, sel


def test_selection_is_deterministic_for_a_seed() -> None:
    pop = _pop(islands=1)
    for i in range(20):
        pop.add(i, float(i % 7), {"code_length": float(i), "ast_nodes": float(i * 2)}, 0, 1, None, seed=(i == 0))
    a = [pop.select_parent(random.Random(9), 0).id for _ in range(1)]  # type: ignore[union-attr]
    r1, r2 = random.Random(5), random.Random(5)
    assert [pop.select_parent(r1, 0).id for _ in range(50)] == [pop.select_parent(r2, 0).id for _ in range(50)]  # type: ignore[union-attr]
    assert a


def test_seed_goes_to_every_island_and_children_stay_on_theirs() -> None:
    pop = _pop(islands=3)
    pop.add(1, 0.0, {}, 0, 0, None, seed=True)
    pop.add(2, 1.0, {}, 2, 1, 1)
    assert all(1 in isl.members for isl in pop.islands)
    assert 2 in pop.islands[2].members and 2 not in pop.islands[0].members


def test_migration_copies_the_best_to_the_next_island() -> None:
    pop = _pop(islands=2, migration_rate=0.5)
    pop.add(1, 0.0, {}, 0, 0, None, seed=True)
    pop.add(2, 5.0, {}, 0, 1, 1)
    moves = pop.migrate(random.Random(0))
    assert (2, 0, 1) in moves and 2 in pop.islands[1].members


def test_cells_bin_features_over_the_observed_range() -> None:
    pop = _pop(feature_dims=("code_length",), feature_bins=4)
    pop.add(1, 0.0, {"code_length": 0.0}, 0, 0, None, seed=True)
    pop.add(2, 0.0, {"code_length": 100.0}, 0, 1, 1)
    assert pop.cell({"code_length": 0.0}) == (0,)
    assert pop.cell({"code_length": 30.0}) == (1,)
    assert pop.cell({"code_length": 100.0}) == (3,)


def test_island_size_is_bounded_and_keeps_cell_elites() -> None:
    pop = _pop(islands=1, island_size=5, feature_dims=("code_length",), feature_bins=4)
    pop.add(0, -100.0, {"code_length": 0.0}, 0, 0, None, seed=True)
    for i in range(1, 30):
        pop.add(i, float(i), {"code_length": 50.0 + i}, 0, 1, 0)
    members = pop.islands[0].members
    assert len(members) == 5
    assert 0 in members  # the seed, elite of its cell, survives
    assert 29 in members


def test_random_and_sequential_baselines_choose_seed_and_latest() -> None:
    rnd, seq = _pop(strategy="random", islands=1), _pop(strategy="sequential", islands=1)
    for pop in (rnd, seq):
        pop.add(1, 0.0, {}, 0, 0, None, seed=True)
        pop.add(2, 9.0, {}, 0, 1, 1)
        pop.add(3, 1.0, {}, 0, 2, 2)
    assert {rnd.select_parent(random.Random(i), 0).id for i in range(20)} == {1}  # type: ignore[union-attr]
    assert {seq.select_parent(random.Random(i), 0).id for i in range(20)} == {3}  # type: ignore[union-attr]


def test_builtin_features_include_length_nodes_complexity_and_metrics() -> None:
    code = "# EVOLVE-BLOCK-START\ndef f(x):\n    if x:\n        return 1\n    return 2\n# EVOLVE-BLOCK-END\n"
    f = features_of(code, 0.5, {"gap_pct": 3.0}, ["code_length", "gap_pct"])
    assert f["complexity"] == 2.0 and f["ast_nodes"] > 5 and f["gap_pct"] == 3.0 and f["runtime_s"] == 0.5


def test_restart_share_picks_the_seed_that_often() -> None:
    pop = _pop(islands=1, restart=0.3, elitism=0.0, exploration=0.0)
    pop.add(1, -10.0, {}, 0, 0, None, seed=True)
    for i in range(2, 12):
        pop.add(i, float(i), {}, 0, 1, 1)
    rng = random.Random(0)
    picks = Counter(pop.select_parent(rng, 0).id for _ in range(4000))  # type: ignore[union-attr]
    assert 0.26 < picks[1] / 4000 < 0.34


def test_equal_scores_rank_the_shorter_program_first() -> None:
    pop = _pop(islands=1, restart=0.0, elitism=1.0, exploration=0.0)
    pop.add(1, 0.0, {"code_length": 10.0}, 0, 0, None, seed=True)
    pop.add(2, 5.0, {"code_length": 90.0}, 0, 1, 1)
    pop.add(3, 5.0, {"code_length": 40.0}, 0, 1, 1)
    assert pop.select_parent(random.Random(0), 0).id == 3  # type: ignore[union-attr]


def _grow(pop: Population, rng: random.Random, rounds: int, winning_arm: str) -> None:
    """Choose parents and report their children: only the children of `winning_arm`'s parents set new bests."""
    next_id, best = 100, 1.0
    for _ in range(rounds):
        parent = pop.select_parent(rng, 0)
        assert parent is not None
        arm = pop.strategy.arms_of[parent.id][-1]  # type: ignore[attr-defined]
        if arm == winning_arm:
            best += 1.0
            pop.add(next_id, best, {"code_length": 1.0, "ast_nodes": 1.0}, 0, 1, parent.id)
        else:
            pop.note_child(parent.id)
        next_id += 1


def test_arm_bandit_shifts_children_to_the_arm_that_finds_new_bests() -> None:
    from evolve.search.evolution import ARMS

    fixed, bandit = _pop(islands=1), _pop(islands=1, arm_bandit=True)
    for pop in (fixed, bandit):
        pop.add(1, 1.0, {"code_length": 1.0, "ast_nodes": 1.0}, 0, 0, None, seed=True)
        _grow(pop, random.Random(0), 300, "restart")
    base = fixed.strategy.arm_shares()  # type: ignore[attr-defined]
    shares = dict(zip(ARMS, bandit.strategy.arm_shares()))  # type: ignore[attr-defined]
    assert shares["restart"] > 2 * base[0] and min(shares.values()) > 0  # no arm starves
    assert bandit.strategy.arm_stats["restart"][1] == bandit.strategy.arm_stats["restart"][0] > 0  # type: ignore[attr-defined]
    again = _pop(islands=1, arm_bandit=True)
    again.load_state(bandit.state())
    assert again.strategy.arm_shares() == bandit.strategy.arm_shares()  # type: ignore[attr-defined]


def test_without_the_bandit_the_arms_keep_their_configured_shares() -> None:
    pop = _pop(islands=1, restart=0.3, elitism=0.3, exploration=0.2)
    pop.add(1, 1.0, {"code_length": 1.0, "ast_nodes": 1.0}, 0, 0, None, seed=True)
    _grow(pop, random.Random(1), 100, "elite")
    assert pop.strategy.arm_shares() == [0.3, 0.3, 0.2, pytest.approx(0.2)]  # type: ignore[attr-defined]
