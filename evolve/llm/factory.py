"""Builds the mutator a configuration asks for."""

from __future__ import annotations

from typing import Any

from evolve.archive import Archive
from evolve.errors import ConfigError
from evolve.llm.base import Mutator
from evolve.llm.offline import OfflineMutator


def make_mutator(cfg: Any, archive: Archive | None = None, run_id: str | None = None) -> Mutator:
    """`llm.provider=offline` gives the AST mutator; litellm/openai give LLM mutators."""
    provider = cfg.llm.provider
    if provider == "offline":
        return OfflineMutator(crossover_rate=float(cfg.llm.crossover_rate))
    raise ConfigError(f"llm.provider={provider}: not available in this build")
