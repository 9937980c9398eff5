"""The two baselines every search is measured against (bench/search.py): `random` mutates the seed
program every time, `sequential` refines the latest valid program (a single chain)."""

from __future__ import annotations

import random

from evolve.search.population import Member, Population
from evolve.search.strategy import SearchStrategy, register


@register("random")
class RandomSearch(SearchStrategy):
    """Every child is an independent mutation of the seed program."""

    def select_parent(self, pop: Population, rng: random.Random, island: int) -> Member | None:
        members = pop.islands[island % len(pop.islands)].members
        if not members:
            return None
        first = next(iter(members.values()))
        return members.get(pop.seed_id, first) if pop.seed_id is not None else first


@register("sequential")
class SequentialSearch(SearchStrategy):
    """Every child refines the latest valid program."""

    def select_parent(self, pop: Population, rng: random.Random, island: int) -> Member | None:
        members = pop.islands[island % len(pop.islands)].members
        if not members:
            return None
        return pop.member(pop.latest_id) or next(iter(members.values()))
