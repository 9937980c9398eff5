"""One `txn` problem per test module: building the default splits takes a second or two."""

from __future__ import annotations

import pytest

from problems.txn import Txn, make


@pytest.fixture(scope="module")
def txn_problem() -> Txn:
    return make({})


def _load_entry(source: str, entry: str = "schedule"):  # type: ignore[no-untyped-def]
    namespace: dict[str, object] = {"__name__": "candidate"}
    exec(compile(source, "candidate.py", "exec"), namespace)
    return namespace[entry]


@pytest.fixture
def load_entry():  # type: ignore[no-untyped-def]
    """`load_entry(source)` runs a candidate's source in-process (trusted test code only) and returns its
    entry function."""
    return _load_entry
