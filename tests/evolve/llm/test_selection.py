"""Choosing the ensemble's model: fixed weights, or a bandit learning improvements per dollar."""

from __future__ import annotations

import math
import random
from collections import Counter

from evolve.llm.selection import BanditSelector, Selector, make_selector


def pulls(sel: Selector, n: int, rng: random.Random, cost: dict[str, float], improves: dict[str, float]) -> Counter[str]:
    """Run n sequential proposals; each finishes at once, and improves with the model's probability."""
    seen: Counter[str] = Counter()
    for _ in range(n):
        i = sel.pick(rng)
        key = sel.keys[i]
        seen[key] += 1
        sel.started(i)
        sel.finished(i, cost[key], 100)
        sel.observe(key, rng.random() < improves[key], 0.1)
    return seen


def test_weighted_selection_follows_the_weights() -> None:
    sel = make_selector("weighted", ["a", "b"], [0.8, 0.2])
    rng = random.Random(0)
    counts = Counter(sel.keys[sel.pick(rng)] for _ in range(2000))
    assert 0.75 < counts["a"] / 2000 < 0.85


def test_a_zero_weight_model_is_never_chosen() -> None:
    for kind in ("weighted", "bandit"):
        sel = make_selector(kind, ["a", "b"], [1.0, 0.0])
        seen = pulls(sel, 50, random.Random(1), {"a": 0.01, "b": 0.0}, {"a": 0.1, "b": 0.9})
        assert seen["b"] == 0, kind


def test_the_bandit_tries_every_model_first() -> None:
    sel = BanditSelector(["a", "b", "c"], [1, 1, 1])
    seen = pulls(sel, 3, random.Random(0), dict.fromkeys("abc", 0.01), dict.fromkeys("abc", 0.0))
    assert seen == Counter({"a": 1, "b": 1, "c": 1})


def test_the_bandit_prefers_the_cheaper_model_when_both_improve_equally() -> None:
    sel = BanditSelector(["cheap", "dear"], [1, 1])
    seen = pulls(sel, 300, random.Random(2), {"cheap": 0.001, "dear": 0.02}, {"cheap": 0.3, "dear": 0.3})
    assert seen["cheap"] > 4 * seen["dear"]


def test_the_bandit_learns_which_model_improves_per_dollar() -> None:
    sel = BanditSelector(["good", "bad"], [1, 1])
    seen = pulls(sel, 300, random.Random(3), {"good": 0.01, "bad": 0.01}, {"good": 0.5, "bad": 0.02})
    assert seen["good"] > 3 * seen["bad"]
    summary = sel.summary()
    assert summary["good"]["improvements"] > summary["bad"]["improvements"]
    assert summary["good"]["improvements_per_usd"] > 0


def test_in_flight_requests_spread_concurrent_picks_over_models() -> None:
    sel = BanditSelector(["a", "b"], [1, 1])
    rng = random.Random(4)
    for key in ("a", "b"):  # one finished call each, equally good
        i = sel.keys.index(key)
        sel.started(i)
        sel.finished(i, 0.01, 10)
    first = sel.pick(rng)
    sel.started(first)  # still waiting for its reply
    second = sel.pick(rng)
    assert second != first


def test_state_round_trips() -> None:
    sel = BanditSelector(["a", "b"], [1, 1])
    pulls(sel, 20, random.Random(5), {"a": 0.01, "b": 0.02}, {"a": 0.5, "b": 0.1})
    again = BanditSelector(["a", "b"], [1, 1])
    again.load_state(sel.state())
    assert again.state() == sel.state() and again.values() == sel.values()


def test_state_survives_a_changed_model_list() -> None:
    old = BanditSelector(["a", "b"], [1, 1])
    pulls(old, 20, random.Random(6), {"a": 0.01, "b": 0.02}, {"a": 0.5, "b": 0.1})
    saved = old.state()
    new = BanditSelector(["b", "c"], [1, 1])  # a removed, c added
    new.load_state(saved)
    assert new.stats["b"] == old.stats["b"]
    assert new.stats["c"].calls == 0
    assert new.pick(random.Random(0)) == new.keys.index("c")  # the newcomer is tried first
    new.observe("a", True, 1.0)  # a late report for a retired model is kept, not lost
    back = BanditSelector(["a", "b", "c"], [1, 1, 1])
    back.load_state(new.state())
    assert back.stats["a"].calls == old.stats["a"].calls
    assert back.stats["a"].improvements == old.stats["a"].improvements + 1


def test_weighted_and_bandit_states_are_interchangeable() -> None:
    weighted = make_selector("weighted", ["a"], [1])
    pulls(weighted, 5, random.Random(7), {"a": 0.01}, {"a": 1.0})
    bandit = make_selector("bandit", ["a"], [1])
    bandit.load_state(weighted.state())
    assert bandit.stats["a"].calls == 5 and bandit.stats["a"].improvements == 5


def test_a_free_model_that_never_improves_does_not_starve_a_paid_one_that_does() -> None:
    sel = BanditSelector(["free", "paid"], [1, 1])
    seen = pulls(sel, 55, random.Random(8), {"free": 0.0, "paid": 0.002}, {"free": 0.0, "paid": 0.5})
    assert seen["paid"] > seen["free"] and seen["paid"] >= 35


def test_a_free_model_is_preferred_only_while_it_improves_about_as_often() -> None:
    sel = BanditSelector(["free", "paid"], [1, 1])
    seen = pulls(sel, 200, random.Random(9), {"free": 0.0, "paid": 0.002}, {"free": 0.4, "paid": 0.4})
    assert seen["free"] > 2 * seen["paid"]
    assert all(v < math.inf for v in sel.values()) and max(sel.values()) < 2.0  # never infinitely cheap


def test_with_no_priced_model_the_bandit_is_plain_ucb_on_the_success_rate() -> None:
    sel = BanditSelector(["a", "b"], [1, 1])
    seen = pulls(sel, 200, random.Random(10), {"a": 0.0, "b": 0.0}, {"a": 0.6, "b": 0.1})
    assert seen["a"] > 3 * seen["b"]
