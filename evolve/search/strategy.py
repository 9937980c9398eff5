"""The search-strategy interface and its registry by `search.name`.

A strategy decides which program is mutated next (the parent), which programs are shown with it
(inspirations), whether programs move between islands (migration), and what it learns from each child.
The population (`evolve.search.population`) is the data it decides over; the loop calls the strategy
through the population and never asks which strategy it holds.

A strategy named `foo` lives in `evolve/search/foo.py` (found by that name) or in any imported module,
registered with `@register("foo")`; `evolve/conf/search/foo.yaml` makes `search=foo` select it.
"""

from __future__ import annotations

import importlib
import random
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from evolve.search.population import Member, Population, SearchSettings

_REGISTRY: dict[str, type[SearchStrategy]] = {}
#: the module that defines each built-in strategy (imported on first use)
_BUILTIN = {"evolution": "evolve.search.evolution", "random": "evolve.search.baselines",
            "sequential": "evolve.search.baselines"}


class SearchStrategy:
    """Parent and inspiration choice, migration and what is learnt from children; state saved with the run.

    Subclasses implement `select_parent`; the other methods have working defaults. All randomness comes
    from the `rng` passed in (one generator per proposal, so resumed runs make the same choices).
    """

    name: ClassVar[str] = ""

    def __init__(self, settings: SearchSettings) -> None:
        self.s = settings

    def select_parent(self, pop: Population, rng: random.Random, island: int) -> Member | None:
        """The program to mutate next, from `island` (None only when the island is empty)."""
        raise NotImplementedError

    def inspirations(self, pop: Population, rng: random.Random, island: int, exclude: int) -> list[Member]:
        """Programs shown beside the parent: the island's best plus elites of other MAP-Elites cells."""
        return pop.top_and_cell_elites(rng, island, exclude, self.s.num_inspirations)

    def migrate(self, pop: Population, rng: random.Random) -> list[tuple[int, int, int]]:
        """Called every `search.migration_interval` evaluations; returns the moves (id, from, to). None here."""
        return []

    def observe(self, pop: Population, parent_id: int | None, score: float | None, new_best: bool) -> None:
        """A child of `parent_id` was evaluated: its train score (None: it failed) and whether it set a new
        overall best. Also called while a resumed run replays its archive, in evaluation order."""

    def state(self) -> dict[str, Any]:
        """What `load_state` needs to continue after a resume (JSON-serialisable)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `state` returned (before the archive's programs are replayed through `observe`)."""


def register(name: str) -> Callable[[type[SearchStrategy]], type[SearchStrategy]]:
    """Class decorator: make `search.name=<name>` select this strategy."""

    def deco(cls: type[SearchStrategy]) -> type[SearchStrategy]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def find_strategy(name: str) -> type[SearchStrategy] | None:
    """The strategy registered as `name`, importing its built-in module or `evolve.search.<name>`."""
    if name not in _REGISTRY and name.isidentifier():
        try:
            importlib.import_module(_BUILTIN.get(name, f"evolve.search.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name not in (_BUILTIN.get(name), f"evolve.search.{name}"):
                raise
    return _REGISTRY.get(name)


def strategy_names() -> list[str]:
    """The built-in strategies and any other registered so far."""
    for name in _BUILTIN:
        find_strategy(name)
    return sorted(_REGISTRY)


def make_strategy(settings: SearchSettings) -> SearchStrategy:
    cls = find_strategy(settings.strategy)
    if cls is None:
        from evolve.errors import ConfigError

        raise ConfigError(f"search.name: unknown strategy {settings.strategy!r}; use one of "
                          f"{', '.join(strategy_names())}, or add evolve/search/{settings.strategy}.py")
    return cls(settings)
