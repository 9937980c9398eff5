"""A damaged archive (truncated, garbage pages, an unknown schema revision) is one line for every command:
what is wrong and what to do, never a traceback."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest
from archive_builder import Built

DAMAGE = ("truncated", "garbage", "unknown-revision")


def damage(db: Path, kind: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for ext in ("-wal", "-shm"):
        Path(f"{db}{ext}").unlink(missing_ok=True)
    if kind == "truncated":
        os.truncate(db, db.stat().st_size // 3)
    elif kind == "garbage":  # every page after the first (the schema's) overwritten
        rng = random.Random(0)
        with open(db, "r+b") as f:
            f.seek(4096)
            f.write(bytes(rng.randrange(256) for _ in range(db.stat().st_size - 4096)))
    else:
        conn = sqlite3.connect(db)
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
        conn.commit()
        conn.close()


ADVICE = {"truncated": "restore it from a backup", "garbage": "restore it from a backup",
          "unknown-revision": "does not know"}


@pytest.mark.parametrize("kind", DAMAGE)
@pytest.mark.parametrize("command", [
    ["archive", "top", "{run}"], ["archive", "show", "{run}", "2"], ["archive", "diff", "{run}", "2"],
    ["archive", "lineage", "{run}", "2"], ["archive", "export", "{run}", "2"], ["report", "{run}"],
    ["db", "current", "{run}"], ["run", "resume={run}"],
], ids=lambda c: "-".join(c[:2]).replace("{run}", "").strip("-") if isinstance(c, list) else c)
def test_every_command_on_a_damaged_archive_is_one_line(cli, built: Built, kind: str, command: list[str]) -> None:
    damage(built.run_dir / "archive.db", kind)
    proc = cli([c.format(run=built.run_dir) for c in command], timeout=120)
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.stdout, err)
    assert len(err.splitlines()) == 1 and err.startswith("error:") and "Traceback" not in err, err
    assert ADVICE[kind] in err


@pytest.mark.parametrize("kind", DAMAGE)
def test_runs_lists_a_damaged_archive_as_unreadable(cli, built: Built, kind: str) -> None:
    damage(built.run_dir / "archive.db", kind)
    proc = cli(["runs", str(built.run_dir.parents[1])], timeout=120, env={"COLUMNS": "250"})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "unreadable" in proc.stdout
