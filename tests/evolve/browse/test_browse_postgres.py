"""A PostgreSQL archive shared by several runs is browsed and reported like a run directory.

The server comes from EVOLVE_TEST_POSTGRES_URL when set, else .ci/postgres.sh starts a throwaway one for the
module; without server binaries or psycopg the tests skip with the reason (EVOLVE_REQUIRE_POSTGRES=1 makes
that a failure), as in tests/evolve/archive.
"""

from __future__ import annotations

import io
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_builder import build_archive
from rich.console import Console

from evolve import browse

SCRIPT = Path(__file__).resolve().parents[3] / ".ci" / "postgres.sh"
pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    if os.environ.get("EVOLVE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (EVOLVE_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
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
        _unavailable(f"no PostgreSQL server: {proc.stderr.strip() or proc.returncode}")
    env = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines())
    try:
        yield env["EVOLVE_TEST_POSTGRES_URL"]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", env["EVOLVE_TEST_POSTGRES_DIR"]], capture_output=True,
                       timeout=120)


@pytest.fixture
def shared_url(server: str) -> Iterator[str]:
    """A fresh database holding two runs, as machines sharing one archive would leave it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"evolve_browse_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def call(*args: object) -> tuple[int, str]:
    buf = io.StringIO()
    code = browse.main(str(args[0]), [str(a) for a in args[1:]], console=Console(file=buf, width=250, markup=False))
    return code, buf.getvalue()


def test_a_shared_postgresql_archive_is_browsed_with_url_and_run_id(shared_url: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    first = build_archive(tmp_path / "a", run_id="pg-a", url=shared_url)
    second = build_archive(tmp_path / "b", run_id="pg-b", url=shared_url)
    password = str(__import__("sqlalchemy").engine.make_url(shared_url).password)

    code, out = call("runs", shared_url)
    assert code == 0 and "--run-id pg-a" in out and "--run-id pg-b" in out and password not in out

    code, out = call("archive", "lineage", shared_url, second.best, "--run-id", "pg-b")
    rows = [line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│")]
    assert code == 0 and rows == [f"#{second.seed}", f"#{second.better}", f"#{second.best}"]

    code, out = call("archive", "show", shared_url, first.best, "--run-id", "pg-a")
    assert code == 0 and "REPLY: return d + 2 * p" in out

    code, out = call("archive", "top", shared_url, "--run-id", "pg-a")
    assert code == 0 and "--run-id pg-a ID" in out and password not in out

    code, _ = call("archive", "show", shared_url, first.best, "--run-id", "pg-b")  # a program of the other run
    assert code != 0 and f"no program with id {first.best} in run pg-b" in capsys.readouterr().err

    out_file = tmp_path / "shared.html"
    code, _ = call("report", shared_url, "--run-id", "pg-a", "-o", out_file)
    html = out_file.read_text()
    assert code == 0 and f"best #{first.best}" in html and "pg-a" in html
