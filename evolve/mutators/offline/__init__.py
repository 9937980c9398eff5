"""The offline mutator: AST mutation and crossover inside the EVOLVE-BLOCKs, no LLM (`llm=offline`)."""

from evolve.mutators.offline.mutator import OfflineMutator

__all__ = ["OfflineMutator"]
