"""Shared fixtures: no network for litellm's price table, helpers to run the CLI in a subprocess, and a
throwaway PostgreSQL server.

PostgreSQL comes from EVOLVE_TEST_POSTGRES_URL when set (CI: `eval "$(.ci/postgres.sh start)"`), else a
throwaway server is started once for the session with .ci/postgres.sh; without server binaries or psycopg
the tests that need it skip with the reason, unless EVOLVE_REQUIRE_POSTGRES=1 makes that an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def run_cli(args: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `evolve ARGS` in a subprocess (the real console entry point, through python -m)."""
    full_env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "evolve.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"evolve {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli(tmp_path: Path):
    """`cli([...])` runs evolve in tmp_path."""
    def _run(args: list[str], **kw):  # type: ignore[no-untyped-def]
        return run_cli(args, cwd=kw.pop("cwd", tmp_path), **kw)
    return _run


# -- PostgreSQL --------------------------------------------------------------------------------------------
def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("EVOLVE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (EVOLVE_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's database that the session may create databases from."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _postgres_unavailable("psycopg is not installed (pip install 'evolve[postgres]')")
    url = os.environ.get("EVOLVE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    script = REPO / ".ci" / "postgres.sh"
    proc = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        _postgres_unavailable(f"no PostgreSQL server for the tests: {proc.stderr.strip() or proc.returncode} "
                              "(set EVOLVE_TEST_POSTGRES_URL, or install one with .ci/postgres.sh install)")
    env = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines())
    try:
        yield env["EVOLVE_TEST_POSTGRES_URL"]
    finally:
        subprocess.run(["bash", str(script), "stop", env["EVOLVE_TEST_POSTGRES_DIR"]], capture_output=True,
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
