"""A PostgreSQL archive shared by several runs is browsed and reported like a run directory.

The database is a fresh one on the test server (the `postgres_url` fixture of tests/conftest.py; without a
server the test skips with the reason).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from archive_builder import build_archive
from rich.console import Console

from evolve import browse

pytestmark = pytest.mark.slow


def call(*args: object) -> tuple[int, str]:
    buf = io.StringIO()
    code = browse.main(str(args[0]), [str(a) for a in args[1:]], console=Console(file=buf, width=250, markup=False))
    return code, buf.getvalue()


def test_a_shared_postgresql_archive_is_browsed_with_url_and_run_id(postgres_url: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    shared_url = postgres_url  # one database, two runs, as machines sharing one archive would leave it
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
