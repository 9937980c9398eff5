from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from evolve.archive import Archive
from evolve.archive.store import schema_revision, sqlite_url
from evolve.errors import ArchiveError
from evolve.evaluation import StageResult


@pytest.fixture
def archive(db_url: str, tmp_path: Path) -> Iterator[Archive]:
    """A migrated archive with one run, on SQLite and on PostgreSQL (see conftest.py)."""
    a = Archive(db_url)
    a.create_run("r1", "smtt", {"seed": 0}, 0, str(tmp_path))
    yield a
    a.close()


def test_new_database_is_migrated_to_the_newest_schema(archive: Archive) -> None:
    assert schema_revision(archive.engine) == "0001"
    assert {"runs", "programs", "evaluations", "llm_calls", "events"} <= set(inspect(archive.engine).get_table_names())


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    archive = Archive(sqlite_url(tmp_path / "archive.db"))
    with archive.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_adding_the_same_job_twice_returns_the_first_id(archive: Archive) -> None:
    a = archive.add_program("r1", "job-1", code="x", code_hash="h")
    b = archive.add_program("r1", "job-1", code="y", code_hash="h2")
    assert a == b
    assert len(archive.programs("r1")) == 1


def test_completed_program_keeps_metrics_stages_and_counter(archive: Archive) -> None:
    pid = archive.add_program("r1", "j", code="x", code_hash="h", parent_id=None, model="offline")
    stages = [StageResult("quick", "ok", {"score": -3.0}, seconds=0.1),
              StageResult("train", "ok", {"score": -2.0, "gap_pct": 2.0}, seconds=0.2)]
    archive.complete_program(pid, status="ok", score=-2.0, metrics={"score": -2.0, "gap_pct": 2.0}, stages=stages,
                             error=None, eval_index=1, run_evaluations=1)
    rec = archive.program(pid)
    assert (rec.status, rec.score, rec.stage, rec.eval_index) == ("ok", -2.0, "train", 1)
    assert [s.split for s in rec.stages] == ["quick", "train"]
    assert rec.eval_seconds == pytest.approx(0.3)
    assert archive.get_run("r1").evaluations == 1


def test_top_orders_by_score_and_skips_failures(archive: Archive) -> None:
    for i, (status, score) in enumerate([("ok", -5.0), ("crash", None), ("ok", -1.0), ("ok", -3.0)]):
        pid = archive.add_program("r1", f"j{i}", code=str(i), code_hash=str(i))
        archive.complete_program(pid, status=status, score=score, metrics={}, stages=[], error=None)
    assert [p.score for p in archive.top("r1", n=5)] == [-1.0, -3.0, -5.0]
    assert len(archive.top("r1", n=5, status=None)) == 4
    assert archive.status_counts("r1") == {"ok": 3, "crash": 1}


def test_unknown_program_id_is_a_clear_error(archive: Archive) -> None:
    with pytest.raises(ArchiveError, match="no program with id 999"):
        archive.program(999)


def test_folder_without_archive_is_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a run directory"):
        Archive.for_run_dir(tmp_path / "nothing")


def test_reopening_an_archive_keeps_everything(tmp_path: Path, archive: Archive) -> None:
    archive.add_program("r1", "j", code="x", code_hash="h")
    archive.close()
    again = Archive.for_run_dir(tmp_path) if archive.url.startswith("sqlite") else Archive(archive.url)
    assert again.get_run().id == "r1" and len(again.programs("r1")) == 1
    again.close()
