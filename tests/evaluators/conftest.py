"""Sandbox fixtures (defined in sandbox_helpers, shared by the evaluator tests)."""

from __future__ import annotations

from sandbox_helpers import bare, fallback, rootless, sandbox

__all__ = ["bare", "fallback", "rootless", "sandbox"]
