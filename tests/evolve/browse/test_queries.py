"""evolve.archive.queries: the read-only questions the views and the report ask."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_builder import Built

from evolve.archive import Archive, locate
from evolve.archive import queries as q
from evolve.archive.store import sqlite_url
from evolve.errors import ArchiveError


@pytest.fixture
def opened(built: Built):  # type: ignore[no-untyped-def]
    archive, run = locate.open_run(str(built.run_dir))
    yield archive, run
    archive.close()


def test_open_run_opens_sqlite_read_only(opened: tuple[Archive, object]) -> None:
    archive, run = opened
    assert "mode=ro" in archive.url
    with pytest.raises(ArchiveError, match="readonly"):
        archive.update_run(run.id, status="tampered")  # type: ignore[attr-defined]


def test_open_run_follows_the_archive_url_in_a_run_directorys_config(built: Built, tmp_path: Path) -> None:
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    (other_dir / "config.yaml").write_text(f"archive:\n  url: {sqlite_url(built.run_dir / 'archive.db')}\n")
    a = Archive(sqlite_url(built.run_dir / "archive.db"))
    a.create_run("r-shared", "smtt", {}, 0, str(other_dir))
    a.close()
    archive, run = locate.open_run(str(other_dir))
    archive.close()
    assert run.id == "r-shared"


def test_lineage_runs_from_the_seed_to_the_program(opened, built: Built) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    assert [b.id for b in q.lineage(archive, run.id, built.best)] == [built.seed, built.better, built.best]


def test_lineage_of_an_unknown_program_is_an_archive_error(opened) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    with pytest.raises(ArchiveError, match="no program with id 777"):
        q.lineage(archive, run.id, 777)


def test_best_so_far_steps_only_on_improvements() -> None:
    pts = [q.EvalPoint(1, 10, 0, "ok", -5.0), q.EvalPoint(2, 11, 1, "ok", -7.0), q.EvalPoint(3, 12, 1, "crash", None),
           q.EvalPoint(4, 13, 1, "ok", -2.0), q.EvalPoint(5, 14, 0, "ok", -2.0)]
    steps = q.best_so_far(pts, q.BestStep(0, -9.0, 1))
    assert [(s.eval_index, s.score, s.program_id) for s in steps] == [(0, -9.0, 1), (1, -5.0, 10), (4, -2.0, 13)]
    assert [s.program_id for s in q.best_so_far(pts, island=1)] == [11, 13]


def test_failure_timeline_places_unevaluated_proposals_at_the_evaluations_done(opened) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    ft = q.failure_timeline(archive, run.id, buckets=10)
    assert ft.edges == (1, 2, 3, 4, 5)
    assert ft.counts["ok"] == (1, 1, 0, 0)
    assert ft.counts["crash"] == (0, 0, 1, 0)
    # the duplicate and the parse error were stored after 3 evaluations: placed at the 4th
    assert ft.counts["duplicate"] == (0, 0, 0, 1) and ft.counts["parse_error"] == (0, 0, 0, 1)
    assert ft.totals == (1, 1, 1, 2)


def test_failure_reasons_group_by_last_line_with_numbers_masked(opened, built: Built) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    reasons = {(r.status, r.reason): r for r in q.failure_reasons(archive, run.id)}
    assert reasons[("crash", "ZeroDivisionError: division by zero")].example_id == built.crash
    assert ("duplicate", "same program as #N") in reasons


def test_model_stats_count_calls_improvements_new_bests_and_cost(opened) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    stats = {m.model: m for m in q.model_stats(archive, run.id)}
    gpt, offline = stats["gpt-test"], stats["offline"]
    assert (gpt.proposals, gpt.llm_calls, gpt.call_errors, gpt.valid, gpt.improvements, gpt.new_bests) == \
        (2, 2, 1, 1, 1, 1)
    assert gpt.call_success_rate == 0.5 and gpt.cost_usd == pytest.approx(0.0031)
    assert gpt.prompt_tokens == 1200 and gpt.completion_tokens == 80
    assert (offline.proposals, offline.evaluated, offline.valid, offline.improvements, offline.new_bests) == \
        (3, 2, 1, 1, 1)
    assert offline.valid_rate == 0.5 and offline.llm_calls == 0


def test_cell_grid_keeps_the_elite_and_the_count_per_cell(opened, built: Built) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    cells = {c.coords: c for c in q.cell_grid(archive, run.id)}
    assert set(cells) == {(0, 0), (1, 0), (1, 1)}
    assert cells[(1, 1)].best_id == built.best and cells[(1, 1)].count == 1


def test_run_totals_count_candidates_and_spend(opened) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    t = q.run_totals(archive, run.id)
    assert (t.proposals, t.evaluated, t.valid, t.pending) == (5, 3, 2, 0)
    assert t.statuses == {"ok": 2, "crash": 1, "duplicate": 1, "parse_error": 1}
    assert t.llm_calls == 2 and t.cost_usd == pytest.approx(0.0031) and t.tokens == 1280


def test_codes_load_only_the_programs_asked_for(opened, built: Built) -> None:  # type: ignore[no-untyped-def]
    archive, run = opened
    got = q.codes(archive, run.id, [built.best, built.seed, 9999])
    assert set(got) == {built.best, built.seed}
    assert "d + 2 * p" in got[built.best]
