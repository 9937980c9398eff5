from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from evolve.archive import Archive
from evolve.archive.store import SCHEMA_HEAD, schema_revision, sqlite_url
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
    assert schema_revision(archive.engine) == SCHEMA_HEAD
    assert {"runs", "programs", "evaluations", "llm_calls", "events", "leases"} <= set(inspect(archive.engine).get_table_names())


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


def _hot_path_writes(a: Archive) -> None:
    """What the loop writes for candidates, values of every kind (JSON, NULL, floats, text, times)."""
    first = a.add_program("r1", "j1", code="def f():\n    return 'é'\n", code_hash="h1", parent_id=None,
                          inspiration_ids=[], island=1, generation=2, edit="full", edit_kind="full", model="m",
                          prompt_tokens=10, completion_tokens=5, cost_usd=0.25)
    again = a.add_program("r1", "j1", code="other", code_hash="h9")  # the same job: the first id
    assert again == first
    second = a.add_program("r1", "j2", code="x = 1\n", code_hash="h2", parent_id=first, inspiration_ids=[first],
                           status="duplicate", error="same program as #1")
    a.add_llm_calls("r1", [{"model": "m", "kind": "full", "prompt": "[user]\nhi", "response": "ok",
                            "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.25, "latency_s": 0.01,
                            "status": "ok", "error": None},
                           {"model": "m", "kind": "fix", "prompt": "p", "response": None, "status": "timeout",
                            "error": "timed out"}], program_id=first)
    stages = [StageResult("quick", "ok", {"score": -3.0, "nan_free": 1.5}, seconds=0.1, stdout="out"),
              StageResult("train", "invalid", {}, error="bad\nline", seconds=0.2, failed_instance="i3",
                          stderr="err")]
    a.complete_program(first, status="invalid", score=None, metrics={"score": -3.0, "_quick_score": -3.0},
                       stages=stages, error="instance 3", features={"code_length": 20.0}, cell="1,2",
                       eval_index=1, run_evaluations=1, run_id="r1")
    a.complete_program(second, status="ok", score=-1.0, metrics={}, stages=[], error=None, eval_index=None)


def test_the_direct_sqlite_writes_store_exactly_what_sqlalchemy_stores(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    import evolve.archive.store as store

    monkeypatch.setattr(store, "utcnow", lambda: dt.datetime(2026, 11, 27, 13, 5, 7, 123456))
    dumps = []
    for direct in (True, False):
        a = Archive(sqlite_url(tmp_path / f"direct-{direct}.db"))
        # seam: the same archive written once through the SQLite hot path and once through SQLAlchemy's
        # own execution; on pysqlite no public setting turns the hot path off, and the two writers must
        # store identical rows
        assert a._direct  # the SQLite hot path is on
        if not direct:
            a._direct = {}
        a.create_run("r1", "smtt", {"seed": 0}, 0, str(tmp_path))
        with a.batch():
            _hot_path_writes(a)
        with a.engine.connect() as conn:
            dumps.append({t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY id").fetchall()
                          for t in ("programs", "evaluations", "llm_calls")}
                         | {"runs": conn.exec_driver_sql("SELECT evaluations, heartbeat_at FROM runs").fetchall()})
        assert a.program(1).stages[1].failed_instance == "i3" and a.llm_calls("r1")[1].program_id == 1
        a.close()
    assert dumps[0] == dumps[1]
    assert len(dumps[0]["programs"]) == 2 and len(dumps[0]["evaluations"]) == 2 and len(dumps[0]["llm_calls"]) == 2


def test_a_direct_write_that_sqlite_refuses_is_an_archive_error(tmp_path: Path) -> None:
    import sqlite3

    a = Archive(sqlite_url(tmp_path / "archive.db"))
    a.create_run("r1", "smtt", {}, 0, str(tmp_path))
    pid = a.add_program("r1", "j", code="x", code_hash="h")
    other = sqlite3.connect(tmp_path / "archive.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        with pytest.raises(ArchiveError, match="locked") as caught:
            with a.batch():
                with a.session() as s:  # the batch's own connection: fail at once rather than after 30 s
                    s.connection().exec_driver_sql("PRAGMA busy_timeout=0")
                a.complete_program(pid, status="ok", score=1.0, metrics={}, stages=[], error=None, run_id="r1")
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)  # raised by the direct path
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert a.program(pid).status == "pending"  # nothing of the failed batch was kept
    a.close()


def test_a_url_whose_database_driver_is_not_installed_is_one_archive_error_naming_it() -> None:
    with pytest.raises(ArchiveError, match=r"its database driver pg8000 is not installed \(pip install pg8000\)"):
        Archive("postgresql+pg8000://u:p@127.0.0.1:1/db")
