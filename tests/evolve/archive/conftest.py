"""Archive fixtures: every archive test runs on SQLite and on a real PostgreSQL server (the `postgres_url`
fixture of tests/conftest.py: without a server the PostgreSQL cases skip with the reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolve.archive.store import sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty archive database: SQLite in tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "archive.db")
    return str(request.getfixturevalue("postgres_url"))
