from __future__ import annotations

from pathlib import Path

import pytest

from evolve.archive import Archive
from evolve.archive.admin import head_revision, main
from evolve.archive.store import DB_NAME, schema_revision, sqlite_url
from evolve.errors import EvolveError


def test_upgrade_creates_the_newest_schema_in_an_empty_database(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upgrade", db_url]) == 0
    assert f"migrated empty -> {head_revision()}" in capsys.readouterr().out
    archive = Archive(db_url, upgrade=False)
    assert schema_revision(archive.engine) == head_revision()
    archive.close()


def test_current_exits_1_until_the_database_is_upgraded(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["current", postgres_url]) == 1
    assert "empty" in capsys.readouterr().out
    main(["upgrade", postgres_url])
    assert main(["current", postgres_url]) == 0
    assert "(newest)" in capsys.readouterr().out


def test_the_password_of_a_url_is_never_printed(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["upgrade", postgres_url])
    main(["current", postgres_url])
    out = capsys.readouterr().out
    password = postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password not in out and "***" in out


def test_upgrading_again_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Archive(sqlite_url(tmp_path / DB_NAME)).close()
    assert main(["upgrade", str(tmp_path)]) == 0
    assert f"at the newest schema ({head_revision()})" in capsys.readouterr().out


def test_without_a_target_every_run_directory_under_runs_is_upgraded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("smtt/a", "eplb/b"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        Archive(sqlite_url(tmp_path / "runs" / name / DB_NAME)).close()
    monkeypatch.chdir(tmp_path)
    assert main(["current"]) == 0
    out = capsys.readouterr().out
    assert "smtt/a/archive.db" in out and "eplb/b/archive.db" in out


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvolveError, match="no such run directory"):
        main(["upgrade", str(tmp_path / "nothing")])


def test_current_of_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    with pytest.raises(EvolveError, match="no such database file"):
        main(["current", sqlite_url(tmp_path / "missing.db")])
    assert not (tmp_path / "missing.db").exists()


def test_an_unknown_action_is_a_usage_error() -> None:
    with pytest.raises(EvolveError, match="usage: evolve db"):
        main(["downgrade"])
