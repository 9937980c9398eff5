"""Fixtures for the report tests: the archives of tests/evolve/browse/archive_builder.py, and runs with no
successful program."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# one builder for both test folders: a real `evolve run` (made once per session) and a known archive
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browse"))

from archive_builder import SEED_CODE, Built, build_archive, real_run_dir

from evolve.archive import Archive
from evolve.archive.store import sqlite_url
from evolve.evaluation import StageResult


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run_dir(tmp_path_factory)


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build_archive(tmp_path / "runs" / "smtt" / "2026-01-01_00-00-00")


@pytest.fixture
def failed_seed_run(tmp_path: Path) -> Path:
    """A run whose seed crashed: it never evolved, and no program is valid."""
    run_dir = tmp_path / "failed"
    run_dir.mkdir()
    a = Archive(sqlite_url(run_dir / "archive.db"))
    a.create_run("r-failed", "smtt", {"search": {"islands": 2}}, 0, str(run_dir))
    seed = a.add_program("r-failed", "seed", role="seed", name="seed", code=SEED_CODE.replace("return d", "return d / 0"),
                         code_hash="s", edit_kind="seed")
    a.complete_program(seed, status="crash", score=None, metrics={}, error="instance 0: ZeroDivisionError: division by zero",
                       stages=[StageResult("quick", "crash", error="ZeroDivisionError: division by zero")])
    a.update_run("r-failed", status="failed")
    a.close()
    return run_dir


@pytest.fixture
def empty_run(tmp_path: Path) -> Path:
    """A run that has just started: no program stored yet."""
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    a = Archive(sqlite_url(run_dir / "archive.db"))
    a.create_run("r-empty", "smtt", {}, 0, str(run_dir))
    a.close()
    return run_dir
