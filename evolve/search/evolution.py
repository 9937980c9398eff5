"""Evolutionary search: a parent from one of four arms, inspirations from the island, ring migration.

The arms (shares of the children, `search.restart`, `search.elitism`, `search.exploration`, the rest):
a child of the seed, of the island's best, of a random MAP-Elites cell's elite, or of a member drawn by
rank (`search.selection`). With `search.arm_bandit` the shares shift toward the arms whose children set
new bests. With `search.params.seed_patience` = n > 0 every child is a child of the seed (the random
baseline) until n of them in a row set no new best: the seed's neighbourhood holds the big first gains,
which a population that has drifted away samples only through the restart arm. The measured evidence
for the defaults is in evolve/conf/search/evolution.yaml.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any

from evolve.errors import ConfigError
from evolve.search.population import Member, Population, pick_index
from evolve.search.strategy import SearchStrategy, register

#: the ways evolution chooses a parent: the seed, the island's best, a MAP-Elites cell's elite, by rank
ARMS = ("restart", "elite", "explore", "rank")


@register("evolution")
class EvolutionSearch(SearchStrategy):
    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        #: arm -> [children, children that set a new overall best] (the bandit's evidence)
        self.arm_stats: dict[str, list[int]] = {a: [0, 0] for a in ARMS}
        #: parent id -> the arms that chose it, oldest first, one per child not yet observed
        self.arms_of: dict[int, deque[str]] = {}
        patience = settings.params.get("seed_patience", 0)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"search.params.seed_patience={patience!r}: must be 0 (off) or a positive whole "
                              "number of the seed's children")
        self.seed_patience = patience
        #: children of the seed in a row that set no new best; the seed phase ends when it reaches patience
        #: (counted from the children themselves, so a resumed run's replay of its archive rebuilds it)
        self.seed_streak = 0
        self.seed_phase = self.seed_patience > 0

    def select_parent(self, pop: Population, rng: random.Random, island: int) -> Member | None:
        isl = pop.islands[island % len(pop.islands)]
        if not isl.members:
            return None
        members = isl.ranked_members()
        restart, elitism, exploration, _ = self.arm_shares()
        if self.seed_phase:
            restart = 1.0
        r = rng.random()
        chosen: Member | None = None
        arm = "rank"
        if r < restart and pop.seed_id is not None:
            chosen, arm = isl.members.get(pop.seed_id) or pop.member(pop.seed_id), "restart"
        r -= restart
        if chosen is None and 0 <= r < elitism:
            chosen, arm = members[0], "elite"
        elif chosen is None and 0 <= r < elitism + exploration:
            elites = sorted(pop.cell_elites(isl).values())
            chosen, arm = isl.members[rng.choice(elites)], "explore"
        if chosen is None:
            arm = "rank"
            chosen = members[pick_index(self.s, [m.score for m in members], [m.children for m in members], rng)]
        self.arms_of.setdefault(chosen.id, deque()).append(arm)
        return chosen

    def migrate(self, pop: Population, rng: random.Random) -> list[tuple[int, int, int]]:
        """Copy the top `search.migration_rate` of each island to the next (a ring)."""
        return pop.ring_migration(self.s.migration_rate)

    def observe(self, pop: Population, parent_id: int | None, score: float | None, new_best: bool) -> None:
        """Count the child for the arm that chose its parent (the oldest choice of that parent pending), and
        a child of the seed toward the end of the seed phase."""
        if self.seed_phase and parent_id is not None and parent_id == pop.seed_id:
            self.seed_streak = 0 if new_best else self.seed_streak + 1
            self.seed_phase = self.seed_streak < self.seed_patience
        arms = self.arms_of.get(parent_id) if parent_id is not None else None
        if not arms:
            return
        arm = arms.popleft()
        if not arms:
            del self.arms_of[parent_id]  # type: ignore[arg-type]
        self.arm_stats[arm][0] += 1
        self.arm_stats[arm][1] += new_best

    def arm_shares(self) -> list[float]:
        """The share of children each arm (ARMS) gets: the configured shares, or with search.arm_bandit
        each share scaled by its arm's rate of new bests (Laplace-smoothed) and renormalised, with a floor
        of a tenth of the configured share so that no arm is starved on early bad luck."""
        base = [self.s.restart, self.s.elitism, self.s.exploration,
                max(0.0, 1.0 - self.s.restart - self.s.elitism - self.s.exploration)]
        if not self.s.arm_bandit:
            return base
        rates = [(self.arm_stats[a][1] + 1) / (self.arm_stats[a][0] + 2) for a in ARMS]
        scaled = [b * r for b, r in zip(base, rates)]
        total = sum(scaled) or 1.0
        shares = [max(b / 10, x / total) for b, x in zip(base, scaled)]
        total = sum(shares) or 1.0
        return [x / total for x in shares]

    def state(self) -> dict[str, Any]:
        return {"arm_stats": {a: list(v) for a, v in self.arm_stats.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        for arm, (tries, wins) in dict(state.get("arm_stats", {})).items():
            if arm in self.arm_stats:
                self.arm_stats[arm] = [int(tries), int(wins)]
