"""Mutators by config name: `llm.provider` picks the offline mutator, or the LLM mutator with that provider.

`register_mutator` adds a mutator of another kind (its settings live in a config section of its own, as
the offline mutator's `offline.*`); an LLM provider is registered in evolve/llm/providers.py instead, and
every registered provider makes the LLM mutator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evolve.archive import Archive
from evolve.errors import ConfigError
from evolve.mutators.base import Mutator

#: builds a mutator from the whole configuration, the run's archive and its id (None outside a run)
MutatorFactory = Callable[[Any, "Archive | None", "str | None"], Mutator]

_MUTATORS: dict[str, MutatorFactory] = {}


def register_mutator(name: str, factory: MutatorFactory) -> None:
    """Make `llm.provider=<name>` build a mutator with `factory`."""
    _MUTATORS[name] = factory


def mutator_names() -> tuple[str, ...]:
    """Every value `llm.provider` accepts: the mutators registered here, then the LLM providers."""
    from evolve.llm.providers import provider_names

    return (*_MUTATORS, *provider_names())


def make_mutator(cfg: Any, archive: Archive | None = None, run_id: str | None = None) -> Mutator:
    """The mutator `llm.provider` names: a registered one (offline), else the LLM mutator of that provider."""
    name = str(cfg.llm.provider)
    factory = _MUTATORS.get(name)
    if factory is not None:
        return factory(cfg, archive, run_id)
    from evolve.llm.providers import provider_names

    if name not in provider_names():
        raise ConfigError(f"llm.provider={name}: use {', '.join(mutator_names())}")
    from evolve.llm.factory import make_llm_mutator

    return make_llm_mutator(cfg, archive, run_id)


def _offline(cfg: Any, archive: Archive | None, run_id: str | None) -> Mutator:
    from evolve.mutators.offline import OfflineMutator

    off = cfg.offline
    return OfflineMutator(crossover_rate=float(off.crossover_rate), max_steps=int(off.max_steps),
                          max_nodes=off.max_nodes)


register_mutator("offline", _offline)

__all__ = ["MutatorFactory", "make_mutator", "mutator_names", "register_mutator"]
