"""Archive fixtures: every archive test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from EVOLVE_TEST_POSTGRES_URL when set (CI: `eval "$(.ci/postgres.sh start)"`), else a
throwaway server is started for the session with .ci/postgres.sh; without server binaries or psycopg the
PostgreSQL cases skip with the reason, unless EVOLVE_REQUIRE_POSTGRES=1 makes that an error.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from evolve.archive.store import sqlite_url

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / ".ci" / "postgres.sh"


def _unavailable(reason: str) -> None:
    if os.environ.get("EVOLVE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (EVOLVE_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's database that the session may create databases from."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'evolve[postgres]')")
    url = os.environ.get("EVOLVE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    proc = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        _unavailable(f"no PostgreSQL server for the tests: {proc.stderr.strip() or proc.returncode} "
                     "(set EVOLVE_TEST_POSTGRES_URL, or install one with .ci/postgres.sh install)")
    env = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines())
    try:
        yield env["EVOLVE_TEST_POSTGRES_URL"]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", env["EVOLVE_TEST_POSTGRES_DIR"]], capture_output=True,
                       timeout=120)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"evolve_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty archive database: SQLite in tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "archive.db")
    return str(request.getfixturevalue("postgres_url"))
