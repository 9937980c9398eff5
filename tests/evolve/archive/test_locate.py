"""One rule for which run a user means, whether they browse it (`evolve archive`, `evolve report`) or resume it."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolve.archive import Archive
from evolve.archive.locate import open_run, pick_run
from evolve.archive.store import sqlite_url
from evolve.errors import ArchiveError
from evolve.resume import find_run


@pytest.fixture
def shared(tmp_path: Path) -> Archive:
    """One database holding three runs started in two directories (as runs sharing PostgreSQL do)."""
    a = Archive(sqlite_url(tmp_path / "shared.db"))
    a.create_run("r1", "smtt", {}, 0, str(tmp_path / "one"))
    a.create_run("r2", "smtt", {}, 0, str(tmp_path / "two"))
    a.create_run("r3", "smtt", {}, 0, str(tmp_path / "one"))
    return a


def test_a_run_id_names_its_run(shared: Archive) -> None:
    assert pick_run(shared, run_id="r2").id == "r2"


def test_a_run_directory_names_the_newest_run_started_there(shared: Archive, tmp_path: Path) -> None:
    assert pick_run(shared, run_dir=tmp_path / "one").id == "r3"
    assert pick_run(shared, run_dir=tmp_path / "two").id == "r2"
    assert pick_run(shared).id == "r3"


def test_browsing_and_resuming_choose_the_same_run(shared: Archive, tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.yaml").write_text(f"archive:\n  url: {shared.url}\n")
        archive, run = open_run(str(tmp_path / folder))
        archive.close()
        assert run.id == find_run(shared, tmp_path / folder).id == pick_run(shared, run_dir=tmp_path / folder).id
    assert find_run(shared, tmp_path / "one", resume="r1").id == "r1"


def test_a_directory_no_run_was_started_in_is_refused_with_what_to_do(shared: Archive, tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=r"no run in .* was started in this directory.*--run-id ID"):
        pick_run(shared, run_dir=tmp_path / "three")


def test_an_unknown_run_id_says_how_to_list_the_runs(shared: Archive) -> None:
    with pytest.raises(ArchiveError, match=r"no run 'nope' in .*`evolve runs .*` lists the run ids"):
        pick_run(shared, run_id="nope")


def test_a_moved_run_directory_still_finds_its_only_run(tmp_path: Path) -> None:
    a = Archive(sqlite_url(tmp_path / "archive.db"))
    a.create_run("only", "smtt", {}, 0, "/somewhere/else")
    assert pick_run(a, run_dir=tmp_path).id == "only"
    with pytest.raises(ArchiveError, match="holds no run yet"):
        pick_run(Archive("sqlite://"))
