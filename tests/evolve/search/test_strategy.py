"""Search strategies by registered name: every one honours the interface, and a new one is a file plus a
config file."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from evolve.config import register as register_config
from evolve.config import validate
from evolve.errors import ConfigError
from evolve.search.population import Member, Population, SearchSettings
from evolve.search.strategy import SearchStrategy, find_strategy, register, strategy_names

register_config()
FEATS = {"code_length": 10.0, "ast_nodes": 5.0}


def _grown(name: str, islands: int = 2) -> Population:
    pop = Population(SearchSettings(strategy=name, islands=islands, island_size=20))
    pop.add(1, 0.0, FEATS, 0, 0, None, seed=True)
    rng = random.Random(0)
    for pid in range(2, 40):
        island = rng.randrange(islands)
        parent = pop.select_parent(rng, island)
        assert parent is not None
        pop.add(pid, rng.uniform(-5, 5), {"code_length": float(pid), "ast_nodes": 5.0}, island, 1, parent.id)
    return pop


@pytest.mark.parametrize("name", strategy_names())
def test_every_strategy_chooses_members_of_the_island_and_saves_json_state(name: str) -> None:
    pop = _grown(name)
    rng = random.Random(1)
    for island in (0, 1):
        for _ in range(20):
            parent = pop.select_parent(rng, island)
            assert parent is not None  # a member of any island: sequential's single chain crosses islands
            assert any(isl.members.get(parent.id) is parent for isl in pop.islands)
            insp = pop.inspirations(rng, island, parent.id)
            assert parent.id not in {m.id for m in insp}
            assert all(m.id in pop.islands[island].members for m in insp)
    for pid, src, dest in pop.migrate(random.Random(2)):
        assert pid in pop.islands[dest].members and src != dest
    again = Population(SearchSettings(strategy=name, islands=2, island_size=20))
    again.load_state(json.loads(json.dumps(pop.state())))
    assert again.state() == json.loads(json.dumps(pop.state()))
    assert Population(SearchSettings(strategy=name)).select_parent(rng, 0) is None  # an empty island


def test_an_unknown_strategy_is_a_config_error_naming_the_key_and_the_choices() -> None:
    with initialize_config_module("evolve.conf", version_base="1.3"):
        cfg = compose("config", overrides=["search.name=annealing"])
    with pytest.raises(ConfigError, match=r"search\.name: unknown strategy 'annealing'; use one of evolution, "
                                          r".*random, sequential.*evolve/search/annealing\.py"):
        validate(cfg)


def test_a_strategy_registered_anywhere_is_selected_by_its_name() -> None:
    @register("always_best_test")
    class AlwaysBest(SearchStrategy):
        def select_parent(self, pop: Population, rng: random.Random, island: int) -> Member | None:
            ranked = pop.islands[island].ranked_members()
            return ranked[0] if ranked else None

    assert find_strategy("always_best_test") is AlwaysBest
    with initialize_config_module("evolve.conf", version_base="1.3"):
        validate(compose("config", overrides=["search.name=always_best_test"]))
    pop = _grown("always_best_test", islands=1)
    assert pop.select_parent(random.Random(0), 0) is pop.islands[0].ranked_members()[0]


def test_thompson_sends_children_to_the_parent_whose_children_improve_on_it() -> None:
    pop = Population(SearchSettings(strategy="thompson", islands=1))
    pop.add(1, 0.0, FEATS, 0, 0, None, seed=True)
    pop.add(2, 1.0, FEATS, 0, 1, 1)
    pop.add(3, 2.0, FEATS, 0, 1, 1)
    for _ in range(10):  # program 2's children beat it; program 3's fail
        pop.strategy.observe(pop, 2, 1.5, False)
        pop.note_child(3)
    picks = Counter(pop.select_parent(random.Random(i), 0).id for i in range(500))  # type: ignore[union-attr]
    assert picks[2] > 0.6 * 500 and picks[3] < 0.1 * 500


@pytest.mark.slow
def test_a_resumed_thompson_run_rebuilds_its_counts_from_the_archive(tmp_path: Path) -> None:
    from evolve.mutators.registry import make_mutator
    from tests.evolve.test_loop import make_evolution

    def evolution(iterations: int) -> Any:
        where = tmp_path / str(iterations)
        where.mkdir()
        overrides = ["search=thompson", f"search.iterations={iterations}"]
        with initialize_config_module("evolve.conf", version_base="1.3"):
            mutator = make_mutator(compose("config", overrides=overrides))
        return make_evolution(where, mutator, overrides)

    first, archive = evolution(15)
    first.seed_population(first.problem.initial_program)
    try:
        asyncio.run(first.run())
    finally:
        first.close()
    live = first.pop.strategy.children  # type: ignore[attr-defined]
    second, _ = evolution(40)
    second.archive = archive
    try:
        second.restore()
        assert second.pop.strategy.children == live and sum(n for n, _ in live.values()) >= 15  # type: ignore[attr-defined]
        asyncio.run(second.run())
    finally:
        second.close()
    assert len(archive.programs("r", roles=("candidate",), with_code=False)) >= 40


def test_a_resumed_evolution_run_keeps_its_arm_counts_and_the_replay_does_not_count_them_again(
        tmp_path: Path) -> None:
    """The counts come back from the saved state; replaying the archive into the population (which calls
    `observe` for every child) must not add the same children a second time."""
    from evolve.mutators.registry import make_mutator
    from tests.evolve.test_loop import make_evolution

    overrides = ["search=evolution", "search.arm_bandit=true", "search.iterations=20"]
    with initialize_config_module("evolve.conf", version_base="1.3"):
        mutator = make_mutator(compose("config", overrides=overrides))
    (tmp_path / "a").mkdir()
    first, archive = make_evolution(tmp_path / "a", mutator, overrides)
    first.seed_population(first.problem.initial_program)
    try:
        asyncio.run(first.run())
    finally:
        first.close()
    live = {a: list(v) for a, v in first.pop.strategy.arm_stats.items()}  # type: ignore[attr-defined]
    assert sum(n for n, _ in live.values()) >= 10
    (tmp_path / "b").mkdir()
    second, _ = make_evolution(tmp_path / "b", mutator, overrides)
    second.archive = archive
    try:
        second.restore()
        assert second.pop.strategy.arm_stats == live  # type: ignore[attr-defined]
    finally:
        second.close()


def test_a_run_saved_with_the_arm_counts_beside_the_population_state_resumes_them() -> None:
    pop = Population(SearchSettings(strategy="evolution", arm_bandit=True))
    saved = {"next_island": 1, "arm_stats": {"restart": [9, 4], "elite": [3, 0], "explore": [2, 0], "rank": [1, 0]}}
    pop.load_state(saved)
    assert pop.state() == {"strategy": {"arm_stats": saved["arm_stats"]}}


def test_evolution_mutates_only_the_seed_until_its_children_stop_setting_new_bests() -> None:
    pop = Population(SearchSettings(strategy="evolution", islands=1, restart=0.0, elitism=0.5,
                                    params={"seed_patience": 3}))
    pop.add(1, -10.0, FEATS, 0, 0, None, seed=True)
    pop.add(2, -5.0, FEATS, 0, 1, 1)  # a new best from the seed: the phase goes on
    pop.add(3, -6.0, FEATS, 0, 1, 1)
    pop.note_child(1)  # a failed child of the seed counts as no new best
    assert {pop.select_parent(random.Random(i), 0).id for i in range(200)} == {1}  # type: ignore[union-attr]
    pop.add(4, -7.0, FEATS, 0, 2, 2)  # a child of another program does not end the phase
    assert {pop.select_parent(random.Random(i), 0).id for i in range(200)} == {1}  # type: ignore[union-attr]
    pop.add(5, -8.0, FEATS, 0, 1, 1)  # the third of the seed's children in a row without a new best
    picks = Counter(pop.select_parent(random.Random(i), 0).id for i in range(400))  # type: ignore[union-attr]
    assert picks[2] > 0.4 * 400 and picks[1] < 0.3 * 400  # the configured arms now: elitism picks the best


def test_seed_patience_off_by_default_and_negative_is_an_error_naming_the_key() -> None:
    pop = Population(SearchSettings(strategy="evolution", islands=1, restart=0.0, elitism=1.0))
    pop.add(1, -10.0, FEATS, 0, 0, None, seed=True)
    pop.add(2, -5.0, FEATS, 0, 1, 1)
    assert pop.select_parent(random.Random(0), 0).id == 2  # type: ignore[union-attr]
    for bad in (-1, 2.5, "many"):
        with pytest.raises(ConfigError, match=r"search\.params\.seed_patience"):
            Population(SearchSettings(strategy="evolution", params={"seed_patience": bad}))
