"""The in-memory population: islands and a MAP-Elites grid per island, which a search strategy selects from.

The archive is the durable record; this is the fast index the loop selects from. It is rebuilt from the
archive on resume by replaying `add` in evaluation order, so it holds no state the archive lacks but the
strategy's own (`state`). Parent and inspiration choice and migration are the strategy's
(`evolve.search.strategy`); the population forwards them so that the loop holds one object.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evolve.search.strategy import SearchStrategy, make_strategy


@dataclass
class Member:
    """A valid program in an island."""

    id: int
    score: float
    features: dict[str, float]
    island: int
    generation: int
    children: int = 0
    quick: float | None = None  # score on the cascade's first split (the gate for its children)
    cell: tuple[int, ...] = ()  # MAP-Elites cell, valid for `cell_version` of the feature ranges
    cell_version: int = -1


@dataclass
class Island:
    members: dict[int, Member] = field(default_factory=dict)
    grid: dict[tuple[int, ...], int] = field(default_factory=dict)  # cell -> elite id, cached
    grid_key: tuple[int, int] = (-1, -1)  # (ranges version, change counter) the grid was built for
    changes: int = 0
    ranked: list[Member] = field(default_factory=list)  # members best first (rank_key), cached
    ranked_key: int = -1  # the change counter `ranked` was built for
    #: every member's rank_key, ascending (best first), kept sorted as members come and go: a
    #: selection after each admission no longer sorts the island
    order: list[tuple[float, float, int]] = field(default_factory=list)
    #: (score, -id, id) of every member, lowest first: eviction candidates; entries of members that left
    #: (or came back with another score) are stale and skipped when they surface
    low: list[tuple[float, int, int]] = field(default_factory=list)

    def put(self, m: Member) -> None:
        old = self.members.get(m.id)
        if old is not None:
            self._unorder(old)
        self.members[m.id] = m
        bisect.insort(self.order, rank_key(m))
        heapq.heappush(self.low, (m.score, -m.id, m.id))
        self.changes += 1

    def remove(self, m: Member) -> None:
        del self.members[m.id]
        self._unorder(m)
        self.changes += 1

    def _unorder(self, m: Member) -> None:
        key = rank_key(m)
        i = bisect.bisect_left(self.order, key)
        if i < len(self.order) and self.order[i] == key:
            del self.order[i]
            return
        for j, other in enumerate(self.order):  # a key that does not compare (a NaN): found by id
            if other[2] == m.id:
                del self.order[j]
                return

    def ranked_members(self) -> list[Member]:
        """Members best first by rank_key (rebuilt from `order` once per change, not sorted)."""
        if self.ranked_key != self.changes:
            self.ranked, self.ranked_key = [self.members[k[2]] for k in self.order], self.changes
        return self.ranked


def _beats(m: Member, other: Member) -> bool:
    """Whether `m` is the better elite of a cell: the higher score, then the older program."""
    return m.score > other.score or (m.score == other.score and m.id < other.id)


@dataclass(frozen=True)
class SearchSettings:
    """The subset of SearchConfig the population needs (plain values)."""

    strategy: str = "evolution"
    islands: int = 2
    island_size: int = 200
    selection: str = "rank"
    exploration: float = 0.2
    elitism: float = 0.1
    tournament_size: int = 4
    power_law_alpha: float = 1.0
    child_bonus: float = 1.0
    num_inspirations: int = 2
    feature_dims: tuple[str, ...] = ("code_length", "ast_nodes")
    feature_bins: int = 8
    migration_interval: int = 100
    migration_rate: float = 0.1
    restart: float = 0.3
    arm_bandit: bool = False
    #: settings of a strategy that SearchConfig does not name (search.params)
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, search: Any) -> SearchSettings:
        return cls(strategy=search.name, islands=search.islands, island_size=search.island_size,
                   selection=search.selection, exploration=search.exploration, elitism=search.elitism,
                   tournament_size=search.tournament_size, power_law_alpha=search.power_law_alpha,
                   child_bonus=search.child_bonus, num_inspirations=search.num_inspirations,
                   feature_dims=tuple(search.feature_dims), feature_bins=search.feature_bins,
                   migration_interval=search.migration_interval, migration_rate=search.migration_rate,
                   restart=float(search.restart), arm_bandit=bool(search.get("arm_bandit", False)),
                   params=dict(search.get("params") or {}))


class Population:
    """Islands of valid programs with MAP-Elites cells; all randomness comes from the rng passed in."""

    def __init__(self, settings: SearchSettings, strategy: SearchStrategy | None = None) -> None:
        self.s = settings
        self.strategy = strategy if strategy is not None else make_strategy(settings)
        self.islands = [Island() for _ in range(settings.islands)]
        self.seed_id: int | None = None
        self.latest_id: int | None = None
        self.best: Member | None = None
        self.ranges: dict[str, tuple[float, float]] = {}
        self.ranges_version = 0
        self.added = 0

    # -- insertion ---------------------------------------------------------------------------------
    def add(self, pid: int, score: float, features: dict[str, float], island: int, generation: int,
            parent_id: int | None, seed: bool = False, quick: float | None = None) -> bool:
        """Insert a valid program; returns True when it is a new overall best."""
        for k in self.s.feature_dims:
            v = features.get(k)
            if v is None or not math.isfinite(v):
                continue
            lo, hi = self.ranges.get(k, (v, v))
            if v < lo or v > hi or k not in self.ranges:
                self.ranges[k] = (min(lo, v), max(hi, v))
                self.ranges_version += 1
        targets = range(len(self.islands)) if seed else [island % len(self.islands)]
        if seed:
            self.seed_id = pid
        for isl_idx in targets:
            isl = self.islands[isl_idx]
            fresh = pid not in isl.members
            member = Member(pid, score, dict(features), isl_idx, generation, quick=quick)
            isl.put(member)
            if fresh:
                self._grid_admit(isl, member)
        if parent_id is not None:
            for isl in self.islands:
                if parent_id in isl.members:
                    isl.members[parent_id].children += 1
        self.strategy.observe(self, parent_id, score, self.best is None or score > self.best.score)
        self.latest_id = pid
        self.added += 1
        for isl_idx in targets:
            self._trim(self.islands[isl_idx])
        improved = self.best is None or score > self.best.score
        if improved:
            self.best = Member(pid, score, dict(features), island, generation)
        return improved

    def member(self, pid: int | None) -> Member | None:
        """The member `pid` on any island (None when it was never admitted or was evicted)."""
        for isl in self.islands:
            if pid in isl.members:
                return isl.members[pid]
        return None

    def note_child(self, parent_id: int | None) -> None:
        """Count a child of `parent_id` that failed (the bonus for few children counts attempts)."""
        if parent_id is None:
            return
        for isl in self.islands:
            if parent_id in isl.members:
                isl.members[parent_id].children += 1
        self.strategy.observe(self, parent_id, None, False)

    def _trim(self, isl: Island) -> None:
        """Evict the worst programs (lowest score, then newest) that are neither a cell's elite nor the seed.

        The island's heap yields them in that order, so an eviction costs O(log size) plus the elites
        passed over, instead of a scan of the island; this is also what `restore` replays per program.
        """
        if len(isl.members) <= self.s.island_size:
            return
        elites = set(self.cell_elites(isl).values())  # evicting a non-elite leaves the grid as it is
        if self.seed_id is not None:
            elites.add(self.seed_id)
        passed: list[tuple[float, int, int]] = []
        while len(isl.members) > self.s.island_size and isl.low:
            entry = heapq.heappop(isl.low)
            m = isl.members.get(entry[2])
            if m is None or m.score != entry[0]:
                continue  # it left the island, or came back with another score (a newer entry holds it)
            if m.id in elites:
                passed.append(entry)
                continue
            isl.remove(m)
            if self._grid_was_current(isl):
                isl.grid_key = (self.ranges_version, isl.changes)
        for entry in passed:
            heapq.heappush(isl.low, entry)

    # -- MAP-Elites ------------------------------------------------------------------------------------
    def cell(self, features: dict[str, float]) -> tuple[int, ...]:
        bins = self.s.feature_bins
        out = []
        for dim in self.s.feature_dims:
            v = features.get(dim)
            lo, hi = self.ranges.get(dim, (0.0, 0.0))
            if v is None or not math.isfinite(v) or hi <= lo:
                out.append(0)
            else:
                out.append(min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins))))
        return tuple(out)

    def cell_label(self, features: dict[str, float]) -> str:
        return ",".join(str(c) for c in self.cell(features))

    def member_cell(self, m: Member) -> tuple[int, ...]:
        if m.cell_version != self.ranges_version:
            m.cell, m.cell_version = self.cell(m.features), self.ranges_version
        return m.cell

    def _grid_admit(self, isl: Island, m: Member) -> None:
        """Keep a valid grid valid after `m` joined the island: only m's own cell can change (a change of
        the feature ranges moves every cell, and the next `cell_elites` rebuilds the grid)."""
        if not self._grid_was_current(isl):
            return
        c = self.member_cell(m)
        best = isl.members.get(isl.grid[c]) if c in isl.grid else None
        if best is None or _beats(m, best):
            isl.grid[c] = m.id
        isl.grid_key = (self.ranges_version, isl.changes)

    def _grid_was_current(self, isl: Island) -> bool:
        """Whether the grid was up to date just before the island's latest change (so that change alone
        can be applied to it)."""
        return isl.grid_key == (self.ranges_version, isl.changes - 1)

    def cell_elites(self, isl: Island) -> dict[tuple[int, ...], int]:
        """cell -> id of the best member in it (cached until the island or the feature ranges change)."""
        key = (self.ranges_version, isl.changes)
        if isl.grid_key != key:
            grid: dict[tuple[int, ...], Member] = {}
            for m in isl.members.values():
                c = self.member_cell(m)
                best = grid.get(c)
                if best is None or _beats(m, best):
                    grid[c] = m
            isl.grid, isl.grid_key = {c: m.id for c, m in grid.items()}, key
        return isl.grid

    # -- selection ----------------------------------------------------------------------------------
    def size(self) -> int:
        return len({pid for isl in self.islands for pid in isl.members})

    def select_parent(self, rng: random.Random, island: int) -> Member | None:
        """A parent from `island`, as the strategy chooses."""
        return self.strategy.select_parent(self, rng, island)

    def inspirations(self, rng: random.Random, island: int, exclude: int) -> list[Member]:
        """Programs shown beside the parent `exclude`, as the strategy chooses."""
        return self.strategy.inspirations(self, rng, island, exclude)

    def migrate(self, rng: random.Random) -> list[tuple[int, int, int]]:
        """Migration between islands, as the strategy chooses; returns the moves (id, from, to)."""
        return self.strategy.migrate(self, rng)

    def top_and_cell_elites(self, rng: random.Random, island: int, exclude: int, k: int) -> list[Member]:
        """Up to `k` members of `island` but `exclude`: its best half, then elites of other cells (diverse)."""
        if k <= 0:
            return []
        isl = self.islands[island % len(self.islands)]
        chosen = top_members(isl.ranked_members(), (k + 1) // 2, exclude)
        elite_ids = sorted(set(self.cell_elites(isl).values()) - {exclude} - {m.id for m in chosen})
        rng.shuffle(elite_ids)
        for pid in elite_ids[: k - len(chosen)]:
            chosen.append(isl.members[pid])
        return chosen

    def ring_migration(self, rate: float) -> list[tuple[int, int, int]]:
        """Copy the top `rate` of each island to the next (a ring); returns the moves (id, from, to)."""
        n = len(self.islands)
        if n < 2:
            return []
        moves = []
        for i, isl in enumerate(self.islands):
            ranked = sorted(isl.members.values(), key=lambda m: (-m.score, m.id))
            count = max(1, round(len(ranked) * rate)) if ranked else 0
            for m in ranked[:count]:
                dest = (i + 1) % n
                if m.id not in self.islands[dest].members:
                    moves.append((m.id, i, dest))
        for pid, src, dest in moves:
            m = self.islands[src].members[pid]
            self.islands[dest].put(Member(m.id, m.score, dict(m.features), dest, m.generation, quick=m.quick))
        for isl in self.islands:
            self._trim(isl)
        return moves

    def state(self) -> dict[str, Any]:
        return {"strategy": self.strategy.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        # runs saved before strategies had state of their own kept the evolution arms' counts here
        self.strategy.load_state(dict(state.get("strategy", state)))


def top_members(ranked: list[Member], n: int, exclude: int) -> list[Member]:
    """The best `n` of `ranked` (sorted by rank_key) but `exclude`, ties by age rather than length:
    the first `n`, then the rest of the last one's score, re-sorted by (-score, id)."""
    head: list[Member] = []
    for m in ranked:
        if m.id == exclude:
            continue
        if len(head) >= n and m.score != head[-1].score:
            break
        head.append(m)
    head.sort(key=lambda m: (-m.score, m.id))
    return head[:n]


def rank_key(m: Member) -> tuple[float, float, int]:
    """Best first; among equal scores the shorter program (parsimony), then the older."""
    return (-m.score, m.features.get("code_length", 0.0), m.id)


def pick_index(s: SearchSettings, scores: Sequence[float], children: Sequence[int], rng: random.Random) -> int:
    """Index into `scores` (sorted best first) by the selection strategy; scale-free in the scores."""
    n = len(scores)
    if n == 1:
        return 0
    if s.selection == "uniform":
        return rng.randrange(n)
    if s.selection == "tournament":
        contenders = [rng.randrange(n) for _ in range(min(s.tournament_size, n))]
        return min(contenders)  # sorted best first: the lowest index wins
    if s.selection == "power_law":
        weights = [(i + 1) ** -s.power_law_alpha for i in range(n)]
    else:  # rank: median/MAD-normalised score through a sigmoid, times a bonus for few children
        med = sorted(scores)[n // 2]
        mad = sorted(abs(x - med) for x in scores)[n // 2] or 1e-9
        weights = [1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, (x - med) / (1.4826 * mad))))) for x in scores]
    weights = [w / (1.0 + c) ** s.child_bonus if s.selection == "rank" else w for w, c in zip(weights, children)]
    return rng.choices(range(n), weights=weights)[0]


def features_of(code: str, runtime_s: float, metrics: dict[str, Any], dims: Sequence[str]) -> dict[str, float]:
    """Built-in features (code length, AST nodes, cyclomatic complexity, runtime) plus problem metrics."""
    import ast

    from evolve.edit.blocks import BlockError, find_blocks

    try:
        evolvable = "".join(b.text for b in find_blocks(code))
    except BlockError:
        evolvable = code
    out: dict[str, float] = {"code_length": float(len(evolvable)), "runtime_s": float(runtime_s)}
    try:
        tree = ast.parse(evolvable)
        nodes = list(ast.walk(tree))
        out["ast_nodes"] = float(len(nodes))
        branch = (ast.If, ast.For, ast.While, ast.IfExp, ast.ExceptHandler, ast.With, ast.comprehension,
                  ast.BoolOp, ast.Match)
        out["complexity"] = float(1 + sum(isinstance(n, branch) for n in nodes))
    except SyntaxError:
        out["ast_nodes"] = out["complexity"] = 0.0
    for d in dims:
        if d not in out and isinstance(metrics.get(d), (int, float)):
            out[d] = float(metrics[d])
    return out
