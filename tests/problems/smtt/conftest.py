"""Shared fixtures: the default SMTT problem and its baselines loaded in-process (trusted test code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from smtt_helpers import load_entry

from problems.smtt import Smtt, make


@pytest.fixture(scope="session")
def smtt_problem() -> Smtt:
    return make()


@pytest.fixture(scope="session")
def smtt_baselines(smtt_problem: Smtt) -> dict[str, Callable[..., Any]]:
    return {name: load_entry(code) for name, code in smtt_problem.baselines().items()}
