"""Eviction keeps the same members as the plain scan it replaced (a heap, and a grid kept up to date)."""

from __future__ import annotations

import random

import pytest

from evolve.search.population import Island, Member, Population, SearchSettings, rank_key, top_members


class ScanPopulation(Population):
    """The reference: rebuild the grid and scan the whole island for every eviction."""

    def _trim(self, isl: Island) -> None:
        while len(isl.members) > self.s.island_size:
            isl.grid_key = (-1, -1)  # never trust an incrementally kept grid
            elites = set(self.cell_elites(isl).values())
            if self.seed_id is not None:
                elites.add(self.seed_id)
            worst = min((m for m in isl.members.values() if m.id not in elites),
                        key=lambda m: (m.score, -m.id), default=None)
            if worst is None:
                return
            isl.remove(worst)

    def _grid_admit(self, isl: Island, m: Member) -> None:
        return None


def _snapshot(pop: Population) -> list[dict[int, float]]:
    return [{pid: m.score for pid, m in isl.members.items()} for isl in pop.islands]


@pytest.mark.parametrize("seed", range(12))
def test_eviction_matches_a_full_scan_after_every_step(seed: int) -> None:
    rng = random.Random(seed)
    settings = SearchSettings(islands=rng.choice([1, 2, 3]), island_size=rng.choice([5, 12, 30]),
                              feature_bins=rng.choice([2, 4, 8]))
    fast, slow = Population(settings), ScanPopulation(settings)
    scores = [round(rng.uniform(-10, 0), 1) for _ in range(40)]  # few distinct scores: ties happen
    for pid in range(1, 400):
        score = rng.choice(scores)
        spread = 50 + pid if rng.random() < 0.05 else 50  # now and then the feature ranges grow
        feats = {"code_length": float(rng.randint(0, spread)), "ast_nodes": float(rng.randint(0, 40))}
        island = rng.randrange(settings.islands)
        again = rng.random() < 0.05 and pid > 2  # a program admitted again (a retried job), maybe rescored
        args = (pid - 1 if again else pid, score, feats, island, pid // 10, None)
        assert fast.add(*args, seed=pid == 1) == slow.add(*args, seed=pid == 1)
        if pid % 25 == 0:
            assert fast.migrate(random.Random(pid)) == slow.migrate(random.Random(pid))
        assert _snapshot(fast) == _snapshot(slow), pid
        for a, b in zip(fast.islands, slow.islands):
            assert fast.cell_elites(a) == slow.cell_elites(b)
            # the kept order is the sort it replaced, and so are the selections made from it
            assert a.order == sorted(rank_key(m) for m in a.members.values())
            assert a.ranked_members() == sorted(a.members.values(), key=rank_key)
            exclude = rng.choice(list(a.members)) if a.members else -1
            want = sorted((m for m in a.members.values() if m.id != exclude), key=lambda m: (-m.score, m.id))
            for n in (1, 2, 3, 5):  # the inspirations' top part: best by score, ties by age
                assert top_members(a.ranked_members(), n, exclude) == want[:n]
