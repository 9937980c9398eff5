"""evolve: LLM-driven algorithm discovery with sandboxed evaluation and a SQL archive."""

from __future__ import annotations

__version__ = "0.1.0"
