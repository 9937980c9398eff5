"""Helpers for the SMTT tests (trusted test code only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def load_entry(source: str, entry: str = "schedule") -> Callable[..., Any]:
    """Run a program's source in-process and return its entry function."""
    namespace: dict[str, Any] = {"__name__": "candidate"}
    exec(compile(source, "candidate.py", "exec"), namespace)
    return namespace[entry]  # type: ignore[no-any-return]
