"""Choosing the model of an ensemble for each proposal: by fixed weights, or by a cost-aware UCB bandit.

Both keep the same per-model statistics (calls, cost, tokens, improvements), keyed by the model's label,
so the state saved with a run survives a changed model list on resume: known models pick up their
statistics, new ones start fresh, and removed ones are kept aside (and come back if re-added).

The bandit maximises improvements per unit of cost. A model's value is an optimistic success rate
divided by its relative cost:

    value = ((improvements + 1) / (pulls + 2) + c·sqrt(2·ln N / pulls)) / (1 + cost_per_call / reference)

where `reference` is the mean cost of a call of the run's priced models. A free (or unpriced) model
thus counts at most twice as attractive as an average-priced one at the same success rate, never
infinitely so: a free model that never improves loses to a paid one that does once its optimism wears
off. With no priced model at all, the value is the plain UCB rate. Pulls count requests still in flight
and children not yet evaluated as unsuccessful for now, so concurrent proposals spread over the models
instead of all piling onto the current favourite; an improvement reported later lifts the rate again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

EXPLORATION = 0.5


@dataclass
class ArmStats:
    """What one model has cost and brought so far."""

    calls: int = 0  # finished proposals (their cost is known)
    cost_usd: float = 0.0
    tokens: int = 0
    observed: int = 0  # evaluated children reported through observe()
    improvements: float = 0.0
    score_delta: float = 0.0  # sum of reported score changes over the parent


class Selector:
    """Weighted choice among models, with the shared bookkeeping; `BanditSelector` overrides `pick`."""

    kind = "weighted"

    def __init__(self, keys: Sequence[str], weights: Sequence[float]) -> None:
        if len(keys) != len(weights) or not keys:
            raise ValueError("one weight per model, and at least one model")
        self.keys = list(keys)
        self.weights = [max(0.0, float(w)) for w in weights]
        self.stats = {k: ArmStats() for k in self.keys}
        self.inflight = {k: 0 for k in self.keys}
        self.retired: dict[str, dict[str, Any]] = {}

    def pick(self, rng: random.Random) -> int:
        """The index of the model for the next proposal."""
        if len(self.keys) == 1:
            return 0
        return rng.choices(range(len(self.keys)), weights=self.weights)[0]

    def started(self, i: int) -> None:
        self.inflight[self.keys[i]] += 1

    def finished(self, i: int, cost_usd: float, tokens: int) -> None:
        key = self.keys[i]
        self.inflight[key] = max(0, self.inflight[key] - 1)
        st = self.stats[key]
        st.calls += 1
        st.cost_usd += float(cost_usd)
        st.tokens += int(tokens)

    def observe(self, key: str, improved: bool, score_delta: float | None = None) -> None:
        """An evaluated child of model `key`: whether it improved, and by how much."""
        st = self.stats.get(key)
        if st is None:  # a model no longer in the list (resumed with another ensemble)
            saved = self.retired.setdefault(key, asdict(ArmStats()))
            saved["observed"] += 1
            saved["improvements"] += 1.0 if improved else 0.0
            saved["score_delta"] += float(score_delta or 0.0)
            return
        st.observed += 1
        st.improvements += 1.0 if improved else 0.0
        st.score_delta += float(score_delta or 0.0)

    def state(self) -> dict[str, Any]:
        arms = {**self.retired, **{k: asdict(v) for k, v in self.stats.items()}}
        return {"selection": self.kind, "arms": arms}

    def load_state(self, state: dict[str, Any]) -> None:
        fields = set(asdict(ArmStats()))
        for key, saved in (state.get("arms") or {}).items():
            clean = {f: saved[f] for f in fields if f in saved}
            if key in self.stats:
                self.stats[key] = ArmStats(**clean)
            else:
                self.retired[key] = {**asdict(ArmStats()), **clean}
        for key in self.stats:
            self.retired.pop(key, None)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per model: calls, cost, improvements and improvements per dollar (for reports)."""
        out = {}
        for k, st in self.stats.items():
            out[k] = {**asdict(st), "improvements_per_usd": st.improvements / st.cost_usd if st.cost_usd else None}
        return out


class BanditSelector(Selector):
    """UCB over improvements per dollar, counting in-flight requests as pulls."""

    kind = "bandit"

    def __init__(self, keys: Sequence[str], weights: Sequence[float], exploration: float = EXPLORATION) -> None:
        super().__init__(keys, weights)
        self.exploration = exploration

    def values(self) -> list[float]:
        """Each model's current value (inf for a model never tried, -inf for a zero weight)."""
        pulls = [self.stats[k].calls + self.inflight[k] for k in self.keys]
        total = sum(pulls)
        priced = [(st.cost_usd, st.calls) for st in self.stats.values() if st.calls and st.cost_usd > 0]
        reference = sum(c for c, _ in priced) / sum(n for _, n in priced) if priced else None
        out = []
        for i, (k, n) in enumerate(zip(self.keys, pulls)):
            if self.weights[i] <= 0:
                out.append(-math.inf)
                continue
            if n == 0:
                out.append(math.inf)
                continue
            st = self.stats[k]
            rate = (st.improvements + 1.0) / (n + 2.0)
            bonus = self.exploration * math.sqrt(2.0 * math.log(total + 1.0) / n)
            if reference is None:
                relative = 0.0
            else:  # a model with no finished call yet is taken to cost the reference
                relative = (st.cost_usd / st.calls if st.calls else reference) / reference
            out.append((rate + bonus) / (1.0 + relative))
        return out

    def pick(self, rng: random.Random) -> int:
        values = self.values()
        best = max(values)
        ties = [i for i, v in enumerate(values) if v == best]
        if len(ties) == 1:
            return ties[0]
        return rng.choices(ties, weights=[self.weights[i] or 1e-9 for i in ties])[0]


def make_selector(kind: str, keys: Sequence[str], weights: Sequence[float]) -> Selector:
    if kind == "bandit":
        return BanditSelector(keys, weights)
    if kind == "weighted":
        return Selector(keys, weights)
    raise ValueError(f"unknown selection {kind!r}; use weighted or bandit")
