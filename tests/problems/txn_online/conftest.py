"""One `txn_online` problem per test module, and in-process helpers (trusted test code only)."""

from __future__ import annotations

import pytest

from problems.txn_online import TxnOnline, make


@pytest.fixture(scope="module")
def online_problem() -> TxnOnline:
    return make({})


def _load_policy(source: str):  # type: ignore[no-untyped-def]
    namespace: dict[str, object] = {"__name__": "candidate"}
    exec(compile(source, "candidate.py", "exec"), namespace)
    return namespace["choose"]


@pytest.fixture
def load_policy():  # type: ignore[no-untyped-def]
    """`load_policy(source)` runs a policy's source in-process and returns its `choose` function."""
    return _load_policy
