"""Fixtures for the plugin tests: a fresh scaffolded plugin per test (to break on purpose) and a sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_kit import Plugin

from evaluators.dispatch import claim_slot
from evaluators.sandbox import Sandbox


@pytest.fixture
def plugin(tmp_path: Path) -> Plugin:
    return Plugin(tmp_path)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(slot=claim_slot()) as sb:
        yield sb
