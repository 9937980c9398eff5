"""Sandbox fixtures (defined in sandbox_helpers, shared by the evaluator tests)."""

from __future__ import annotations

from sandbox_helpers import bare, fallback, filtered, rootless, sandbox

__all__ = ["bare", "fallback", "filtered", "rootless", "sandbox"]
