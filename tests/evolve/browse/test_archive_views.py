"""`evolve archive top|show|diff|lineage|export` on a real run and on a known archive."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from archive_builder import Built, build_archive, variant
from rich.console import Console

from evolve import browse
from evolve.archive import Archive
from evolve.archive import queries as q
from evolve.archive.store import sqlite_url


def call(cmd: str, *args: object) -> tuple[int, str]:
    buf = io.StringIO()
    console = Console(file=buf, width=220, markup=False, color_system=None)
    code = browse.main(cmd, [str(a) for a in args], console=console)
    return code, buf.getvalue()


def _real(run_dir: Path) -> tuple[Archive, str]:
    a = Archive.for_run_dir(run_dir)
    return a, a.get_run().id


@pytest.mark.slow
def test_top_lists_the_real_runs_valid_programs_best_first(real_run: Path) -> None:
    a, rid = _real(real_run)
    expected = [g.program.id for g in q.top_behaviours(a, rid, 5)]  # one row per behaviour, best first
    a.close()
    code, out = call("archive", "top", real_run, "-n", 5)
    assert code == 0
    ids = [int(line.split("│")[2]) for line in out.splitlines() if line.startswith("│")]
    assert ids == expected
    assert "holdout" in out and "score" in out


@pytest.mark.slow
def test_top_on_one_island_lists_only_that_island(real_run: Path) -> None:
    a, rid = _real(real_run)
    expected = [p.id for p in a.top(rid, n=50, island=1)]
    a.close()
    code, out = call("archive", "top", real_run, "--island", 1, "-n", 50, "--every")
    assert code == 0
    ids = [int(line.split("│")[2]) for line in out.splitlines() if line.startswith("│")]
    assert ids == expected and ids


@pytest.mark.slow
def test_show_prints_the_best_programs_code_and_stage_metrics(real_run: Path) -> None:
    a, rid = _real(real_run)
    best = a.top(rid, n=1)[0]
    full = a.program(best.id)
    a.close()
    code, out = call("archive", "show", real_run, best.id)
    assert code == 0
    body = next(line for line in best.code.splitlines() if line.strip().startswith("return") and "priority" not in line)
    assert body.strip() in out
    assert f"program #{best.id}" in out
    for stage in full.stages:
        assert stage.split in out


@pytest.mark.slow
def test_lineage_runs_from_the_seed_to_the_program(real_run: Path) -> None:
    a, rid = _real(real_run)
    best = a.top(rid, n=1)[0]
    seed = a.programs(rid, roles=("seed",))[0]
    a.close()
    code, out = call("archive", "lineage", real_run, best.id)
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert f"#{seed.id} " in rows[0] and "seed" in rows[0]
    assert f"#{best.id} " in rows[-1]


@pytest.mark.slow
def test_diff_against_the_parent_shows_the_changed_lines(real_run: Path) -> None:
    a, rid = _real(real_run)
    child = next(p for p in a.top(rid, n=20) if p.parent_id is not None)
    parent = a.program(child.parent_id)  # type: ignore[arg-type]
    a.close()
    code, out = call("archive", "diff", real_run, child.id)
    assert code == 0
    assert f"--- #{parent.id}" in out and f"+++ #{child.id}" in out
    added = set(child.code.splitlines()) - set(parent.code.splitlines())
    assert all(f"+{line}" in out for line in added)


def test_show_includes_metrics_error_and_stage_notes_of_a_crash(built: Built) -> None:
    code, out = call("archive", "show", built.run_dir, built.crash)
    assert code == 0
    assert "crash" in out and "ZeroDivisionError: division by zero" in out
    assert "quick/n20-s1" in out
    assert "return d / 0" in out


def test_show_includes_the_llm_prompt_and_reply_of_the_program(built: Built) -> None:
    code, out = call("archive", "show", built.run_dir, built.best)
    assert code == 0
    assert "PROMPT: improve priority()" in out and "REPLY: return d + 2 * p" in out
    assert "gpt-test" in out and "1,200" in out
    assert "hello from train" in out  # the stage's captured stdout


def test_show_prints_stored_text_verbatim_not_as_markup(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    a = Archive(sqlite_url(run_dir / "archive.db"))
    a.create_run("r", "smtt", {}, 0, str(run_dir))
    pid = a.add_program("r", "j", code="x = [1]\n", code_hash="h", status="crash", edit="x[i] -> x[/bold]",
                        error="IndexError: a[i] [/] [red]")
    a.close()
    code, out = call("archive", "show", run_dir, pid)
    assert code == 0
    assert "x[i] -> x[/bold]" in out and "IndexError: a[i] [/] [red]" in out


def test_top_with_status_all_includes_failed_programs(built: Built) -> None:
    code, out = call("archive", "top", built.run_dir, "--status", "all", "-n", 50)
    assert code == 0
    assert "crash" in out and "duplicate" in out and "parse_error" in out


def test_top_with_one_failure_status_lists_only_those(built: Built) -> None:
    code, out = call("archive", "top", built.run_dir, "--status", "crash")
    ids = [int(line.split("│")[2]) for line in out.splitlines() if line.startswith("│")]
    assert code == 0 and ids == [built.crash]


def test_diff_between_two_named_programs(built: Built) -> None:
    code, out = call("archive", "diff", built.run_dir, built.seed, built.best)
    assert code == 0
    assert "-    return d" in out and "+    return d + 2 * p" in out
    assert f"#{built.seed} → #{built.best}" in out


def test_diff_of_identical_code_says_so(built: Built) -> None:
    code, out = call("archive", "diff", built.run_dir, built.duplicate, built.better)
    assert code == 0 and "have the same code" in out


def test_export_writes_the_exact_program_code(built: Built, tmp_path: Path) -> None:
    target = tmp_path / "best.py"
    code, out = call("archive", "export", built.run_dir, built.best, "-o", target)
    assert code == 0 and "wrote" in out
    assert target.read_text() == variant("d + 2 * p")


def test_export_without_output_prints_the_code(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = call("archive", "export", built.run_dir, built.best)
    assert code == 0
    assert capsys.readouterr().out == variant("d + 2 * p")


def test_a_database_url_with_run_id_works_like_a_run_directory(built: Built) -> None:
    url = sqlite_url(built.run_dir / "archive.db")
    code, out = call("archive", "lineage", url, built.best, "--run-id", built.run_id)
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert [r.split("│")[2].strip() for r in rows] == [f"#{built.seed}", f"#{built.better}", f"#{built.best}"]


def test_a_run_directory_path_with_spaces_and_hashes_opens(tmp_path: Path) -> None:
    built = build_archive(tmp_path / "my runs #1" / "a%b c")
    code, out = call("archive", "top", built.run_dir)
    assert code == 0 and f"{built.best}" in out


def test_top_in_a_narrow_terminal_drops_columns_instead_of_squeezing_ids_and_scores(built: Built) -> None:
    buf = io.StringIO()
    code = browse.main("archive", ["top", str(built.run_dir), "--status", "all"],
                       console=Console(file=buf, width=80, markup=False, color_system=None))
    lines = buf.getvalue().splitlines()
    assert code == 0 and all(len(line) <= 80 for line in lines)
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    first = next(r for r in cells if r[0] == "1")
    assert first[1] == str(built.best) and first[2] == "-5"  # id and score intact
