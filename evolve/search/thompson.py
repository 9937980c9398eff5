"""Thompson sampling over parents: each program's chance that its next child improves on it is a Beta
posterior over its children so far; the parent is the program whose sampled chance is highest.

The example of docs/extending.md ("A search strategy"). Its counts are rebuilt on resume by the replay of
the archive through `observe`, so it saves no state of its own.
"""

from __future__ import annotations

import random
from typing import Any

from evolve.search.population import Member, Population
from evolve.search.strategy import SearchStrategy, register


@register("thompson")
class ThompsonSearch(SearchStrategy):
    """search.params.prior_wins / prior_losses: the Beta prior of a program without children (1, 1)."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.prior = (float(settings.params.get("prior_wins", 1.0)), float(settings.params.get("prior_losses", 1.0)))
        self.children: dict[int, list[int]] = {}  # program id -> [children, children better than it]

    def select_parent(self, pop: Population, rng: random.Random, island: int) -> Member | None:
        members = pop.islands[island % len(pop.islands)].ranked_members()  # best first: ties go to the better
        best, best_draw = None, -1.0
        for m in members:
            n, wins = self.children.get(m.id, (0, 0))
            draw = rng.betavariate(self.prior[0] + wins, self.prior[1] + n - wins)
            if draw > best_draw:
                best, best_draw = m, draw
        return best

    def observe(self, pop: Population, parent_id: int | None, score: float | None, new_best: bool) -> None:
        parent = pop.member(parent_id)
        if parent is None:
            return
        counts = self.children.setdefault(parent.id, [0, 0])
        counts[0] += 1
        counts[1] += score is not None and score > parent.score
