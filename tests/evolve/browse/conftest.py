"""Fixtures: a real run made by `evolve run`, and a small archive written through the Archive API."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_builder import Built, build_archive, real_run_dir


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run_dir(tmp_path_factory)


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build_archive(tmp_path / "runs" / "smtt" / "2026-01-01_00-00-00")
