"""Browsing a run that is still going: read-only access that never waits for, or takes, the write lock."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import time
from pathlib import Path

from archive_builder import Built
from rich.console import Console

from evolve import browse


def call(cmd: str, *args: object) -> tuple[int, str]:
    buf = io.StringIO()
    code = browse.main(cmd, [str(a) for a in args], console=Console(file=buf, width=200, markup=False))
    return code, buf.getvalue()


def fingerprint(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run_dir.glob("archive.db*"))}


def test_every_view_works_while_a_writer_holds_the_write_lock(built: Built, tmp_path: Path) -> None:
    db = built.run_dir / "archive.db"
    writer = sqlite3.connect(db, timeout=0.5, isolation_level=None)
    try:
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        writer.execute("BEGIN IMMEDIATE")  # what the loop holds while it stores an outcome
        writer.execute("INSERT INTO events (run_id, kind, message, data, created_at) "
                       "VALUES (?, 'note', 'in flight', '{}', '2026-01-01 00:00:00')", (built.run_id,))
        before = fingerprint(built.run_dir)
        started = time.monotonic()
        for args in (["archive", "top", built.run_dir], ["archive", "show", built.run_dir, built.best],
                     ["archive", "diff", built.run_dir, built.best], ["archive", "lineage", built.run_dir, built.best],
                     ["archive", "export", built.run_dir, built.best, "-o", tmp_path / "x.py"],
                     ["runs", built.run_dir.parent],
                     ["report", built.run_dir, "-o", tmp_path / "report.html"]):
            code, out = call(*(str(a) for a in args))
            assert code == 0, (args, out)
        assert time.monotonic() - started < 60  # nobody waited for the lock (busy timeout is 30 s)
        assert fingerprint(built.run_dir) == before  # and nothing was written
        writer.execute("COMMIT")
    finally:
        writer.close()


def ids(out: str) -> list[int]:
    return [int(line.split("│")[2]) for line in out.splitlines() if line.startswith("│")]


def test_a_program_stored_by_the_running_loop_shows_up_on_the_next_call(built: Built) -> None:
    from evolve.archive import Archive

    code, out = call("archive", "top", built.run_dir, "--status", "pending")
    assert code == 0 and ids(out) == []
    a = Archive.for_run_dir(built.run_dir)  # the run's own writer
    pid = a.add_program(built.run_id, "late", code="x = 1\n", code_hash="late", parent_id=built.best,
                        status="pending")
    a.close()
    code, out = call("archive", "top", built.run_dir, "--status", "pending")
    assert code == 0 and ids(out) == [pid]
