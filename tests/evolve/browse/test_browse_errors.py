"""Every mistake is one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from archive_builder import Built
from rich.console import Console

from evolve import browse
from evolve.archive.store import sqlite_url


def call(capsys: pytest.CaptureFixture[str], cmd: str, *args: object) -> tuple[int, str, str]:
    buf = io.StringIO()
    code = browse.main(cmd, [str(a) for a in args], console=Console(file=buf, width=200, markup=False))
    captured = capsys.readouterr()
    return code, buf.getvalue() + captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("args", [
    ["archive", "top", "{missing}"],
    ["archive", "show", "{run}", "999"],
    ["report", "{missing}"],
])
def test_the_cli_prints_one_error_line_and_exits_non_zero(args: list[str], built: Built, tmp_path: Path) -> None:
    argv = [a.format(missing=tmp_path / "no-such-run", run=built.run_dir) for a in args]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "300"}
    proc = subprocess.run([sys.executable, "-m", "evolve.cli", *argv], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    one_error_line(proc.stderr)


def test_a_missing_run_path_says_so_and_how_to_list_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = call(capsys, "archive", "top", tmp_path / "nope")
    line = one_error_line(err)
    assert code != 0 and out == ""
    assert "no such run directory" in line and "evolve runs" in line


def test_a_folder_without_an_archive_is_not_a_run_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = call(capsys, "archive", "show", tmp_path, 1)
    line = one_error_line(err)
    assert code != 0 and "is not a run directory" in line and "archive.db" in line


def test_the_runs_folder_is_not_a_run_but_the_error_points_to_evolve_runs(
        capsys: pytest.CaptureFixture[str], built: Built) -> None:
    runs_root = built.run_dir.parents[1]
    code, _, err = call(capsys, "archive", "top", runs_root)
    line = one_error_line(err)
    assert code != 0 and f"evolve runs {runs_root}" in line


def test_a_file_that_is_not_a_database_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bogus = tmp_path / "archive.db"
    bogus.write_text("not sqlite at all " * 100)
    code, _, err = call(capsys, "archive", "top", tmp_path)
    line = one_error_line(err)
    assert code != 0 and "not a database" in line


@pytest.mark.parametrize("what", ["show", "diff", "lineage", "export"])
def test_an_unknown_program_id_is_a_clear_error(what: str, capsys: pytest.CaptureFixture[str], built: Built) -> None:
    code, out, err = call(capsys, "archive", what, built.run_dir, 4242)
    line = one_error_line(err)
    assert code != 0 and out == ""
    assert "no program with id 4242" in line and "evolve archive top" in line


def test_a_program_id_that_is_not_a_number_is_a_usage_error(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    code, _, err = call(capsys, "archive", "show", built.run_dir, "best")
    line = one_error_line(err)
    assert code != 0 and "invalid int value: 'best'" in line and "usage: evolve archive show" in line


def test_a_program_of_another_run_in_the_same_database_is_unknown(capsys: pytest.CaptureFixture[str],
                                                                  built: Built) -> None:
    from archive_builder import build_archive

    build_archive(built.run_dir, run_id="r-other")  # a second run in the same database
    url = sqlite_url(built.run_dir / "archive.db")
    code, _, err = call(capsys, "archive", "show", url, built.best, "--run-id", "r-other")
    assert code != 0 and "in run r-other" in one_error_line(err)


@pytest.mark.parametrize("url, expected", [
    ("sqlite:////no/such/dir/archive.db", "no such database file"),
    ("nosuchdialect://host/db", "cannot open the archive"),
    ("postgresql+nosuchdriver://user:secret@localhost/db", "cannot open"),
])
def test_a_bad_database_url_is_a_clear_error_without_the_password(url: str, expected: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "archive", "top", url)
    line = one_error_line(err)
    assert code != 0 and expected in line
    assert "secret" not in line


def test_a_bad_sqlite_url_creates_no_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "archive.db"
    code, _, err = call(capsys, "archive", "top", sqlite_url(target))
    assert code != 0 and "no such database file" in one_error_line(err)
    assert not target.exists()


def test_an_unknown_run_id_is_a_clear_error(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    code, _, err = call(capsys, "archive", "top", built.run_dir, "--run-id", "nope")
    line = one_error_line(err)
    assert code != 0 and "no run 'nope'" in line and "evolve runs" in line


def test_diff_of_the_seed_without_a_second_id_says_what_to_do(capsys: pytest.CaptureFixture[str],
                                                               built: Built) -> None:
    code, _, err = call(capsys, "archive", "diff", built.run_dir, built.seed)
    line = one_error_line(err)
    assert code != 0 and "has no parent" in line and "evolve archive diff RUN A B" in line


def test_exporting_a_program_without_code_is_a_clear_error(capsys: pytest.CaptureFixture[str], built: Built,
                                                           tmp_path: Path) -> None:
    code, _, err = call(capsys, "archive", "export", built.run_dir, built.unparsed, "-o", tmp_path / "x.py")
    line = one_error_line(err)
    assert code != 0 and "has no code" in line and "parse_error" in line
    assert not (tmp_path / "x.py").exists()


def test_exporting_into_a_missing_folder_is_a_clear_error(capsys: pytest.CaptureFixture[str], built: Built,
                                                          tmp_path: Path) -> None:
    code, _, err = call(capsys, "archive", "export", built.run_dir, built.best, "-o", tmp_path / "no" / "x.py")
    assert code != 0 and "does not exist" in one_error_line(err)


def test_an_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str], built: Built) -> None:
    code, _, err = call(capsys, "archive", "frobnicate", built.run_dir)
    line = one_error_line(err)
    assert code != 0 and "invalid choice: 'frobnicate'" in line


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "archive", "top", "--help")
    assert code == 0 and err == ""
    assert "--island" in out and "--status" in out
