"""`evolve runs [DIR]` lists every run under a folder (or in a database)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from archive_builder import build_archive
from rich.console import Console

from evolve import browse
from evolve.archive.store import sqlite_url


def call(cmd: str, *args: object) -> tuple[int, str]:
    buf = io.StringIO()
    code = browse.main(cmd, [str(a) for a in args], console=Console(file=buf, width=250, markup=False))
    return code, buf.getvalue()


def rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]


def test_runs_lists_each_run_with_problem_evaluations_best_score_and_status(tmp_path: Path) -> None:
    build_archive(tmp_path / "runs" / "smtt" / "2026-01-01_00-00-00", run_id="r-a")
    build_archive(tmp_path / "runs" / "smtt" / "multirun_x" / "0", run_id="r-b", status="running")
    code, out = call("runs", tmp_path / "runs")
    assert code == 0
    table = rows(out)
    assert len(table) == 2
    by_dir = {r[0].split("/")[-1]: r for r in table}
    finished, running = by_dir["2026-01-01_00-00-00"], by_dir["0"]
    assert finished[1] == "smtt" and finished[4] == "3" and finished[5] == "-5"
    assert finished[6].startswith("finished (iterations)")
    assert running[6].startswith("running")


def test_runs_defaults_to_the_runs_folder_of_the_current_directory(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    build_archive(tmp_path / "runs" / "smtt" / "2026-01-01_00-00-00")
    monkeypatch.chdir(tmp_path)
    code, out = call("runs")
    assert code == 0
    assert rows(out)[0][0] == os.path.join("runs", "smtt", "2026-01-01_00-00-00")


def test_runs_reports_an_unreadable_archive_and_lists_the_others(tmp_path: Path) -> None:
    build_archive(tmp_path / "runs" / "smtt" / "good")
    bad = tmp_path / "runs" / "smtt" / "bad"
    bad.mkdir(parents=True)
    (bad / "archive.db").write_text("garbage " * 200)
    code, out = call("runs", tmp_path / "runs")
    assert code == 0
    table = {r[0].split("/")[-1]: r for r in rows(out)}
    assert table["good"][1] == "smtt"
    assert "unreadable" in table["bad"][-1]


def test_runs_in_an_empty_folder_says_how_to_start_one(tmp_path: Path) -> None:
    code, out = call("runs", tmp_path)
    assert code == 0 and "no runs in" in out and "evolve run" in out


def test_runs_on_a_missing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = call("runs", tmp_path / "missing")
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "no such directory" in err


def test_runs_lists_the_runs_of_a_database_url_with_their_ids(tmp_path: Path) -> None:
    built = build_archive(tmp_path / "shared", run_id="r-one")
    build_archive(tmp_path / "shared", run_id="r-two")
    code, out = call("runs", sqlite_url(built.run_dir / "archive.db"))
    assert code == 0
    assert "--run-id r-one" in out and "--run-id r-two" in out
