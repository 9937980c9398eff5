"""Fixtures shared by the tests of evolve/: an archive with one run ("r") to store programs and calls in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evolve.archive import Archive
from evolve.archive.store import sqlite_url


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    arch = Archive(sqlite_url(tmp_path / "archive.db"))
    arch.create_run("r", "smtt", {}, 0, str(tmp_path))
    yield arch
    arch.close()
