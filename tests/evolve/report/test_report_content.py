"""`evolve report`: what the HTML and Markdown reports contain, for good, failed, empty and running runs."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest
from archive_builder import Built, build_archive
from rich.console import Console

from evolve import browse
from evolve.archive import Archive, locate
from evolve.archive.store import sqlite_url
from evolve.report import collect, render_html, write_report
from evolve.report.charts import figures


def report(run: Path, out: Path, *extra: str) -> tuple[int, str, str, str]:
    buf = io.StringIO()
    code = browse.main("report", [str(run), "-o", str(out), *extra], console=Console(file=buf, markup=False))
    md = out.with_suffix(".md")
    return code, buf.getvalue(), out.read_text() if out.exists() else "", md.read_text() if md.exists() else ""


def payload(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="evolve-data">(.*?)</script>', html, re.S)
    assert m is not None
    return json.loads(m.group(1))


def outside_scripts(html: str) -> str:
    return re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)


@pytest.mark.slow
def test_the_report_of_a_real_run_is_one_self_contained_file(real_run: Path, tmp_path: Path) -> None:
    code, out, html, md = report(real_run, tmp_path / "report.html")
    assert code == 0 and "report:" in out
    assert "plotly.js v" in html and len(html) > 3_000_000  # the bundle is embedded
    page = outside_scripts(html)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<link" not in page and not re.search(r"<script[^>]+src=", html)
    assert all(payload(html)["figures"][k] is not None for k in ("chart-score", "chart-lineage", "chart-grid"))
    assert md.startswith("# smtt") and "## Best vs seed vs baselines" in md


@pytest.mark.slow
def test_the_real_runs_best_program_and_its_diff_against_the_seed_are_in_the_report(real_run: Path,
                                                                                   tmp_path: Path) -> None:
    a = Archive.for_run_dir(real_run)
    rid = a.get_run().id
    best = a.top(rid, n=1)[0]
    a.close()
    _, _, html, md = report(real_run, tmp_path / "r.html")
    data = payload(html)
    assert data["initial"] == best.id
    assert str(best.id) in data["programs"]
    assert 'id="best-code"' in html and f"best #{best.id}" in html
    assert best.code.rstrip() in md


def test_the_headline_compares_best_seed_baselines_and_the_limit_on_both_splits(built: Built, tmp_path: Path) -> None:
    code, _, html, md = report(built.run_dir, tmp_path / "r.html")
    assert code == 0
    table = re.search(r'<table id="comparison">.*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    for label in (f"best #{built.best}", f"seed #{built.seed}", "baseline edd", "reference limit"):
        assert label in table
    assert "hold-out" in table and "-7.5<" in table and "-61" in table
    assert f"| best #{built.best} |" in md and "| reference limit |" in md


def test_the_report_has_the_ranked_table_models_failures_and_grid(built: Built, tmp_path: Path) -> None:
    _, _, html, md = report(built.run_dir, tmp_path / "r.html")
    top = re.search(r'<table class="sortable" id="top-table">.*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    assert top.index(f"#{built.best}<") < top.index(f"#{built.better}<")
    models = re.search(r'<table class="sortable" id="models-table">.*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "gpt-test" in models and "offline" in models and "50%" in models
    assert "ZeroDivisionError: division by zero" in html
    data = payload(html)
    assert {"chart-score", "chart-lineage", "chart-grid", "chart-failures"} <= {
        k for k, v in data["figures"].items() if v is not None}
    assert "## Failures" in md and "crash 1" in md


def test_every_chart_is_a_valid_plotly_figure(built: Built) -> None:
    archive, run = locate.open_run(str(built.run_dir))
    try:
        data = collect(archive, run)
    finally:
        archive.close()
    figs = figures(data)
    assert all(f is not None for f in figs.values())
    for fig in figs.values():
        go.Figure(fig)  # raises on any attribute plotly does not know


def test_the_inspector_payload_has_code_and_diff_against_the_parent(built: Built, tmp_path: Path) -> None:
    _, _, html, _ = report(built.run_dir, tmp_path / "r.html")
    best = payload(html)["programs"][str(built.best)]
    assert best["parent"] == built.better
    assert f"+++ #{built.best}" in best["diff"] and "d-add" in best["diff"]
    assert "priority" in best["code"]


def test_program_text_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    built = build_archive(tmp_path / "run")
    a = Archive(sqlite_url(built.run_dir / "archive.db"))
    evil = "</script><script>alert(1)</script><!-- & \u2028"
    pid = a.add_program(built.run_id, "evil", parent_id=built.best, code=f"# {evil}\n" + "x = 1\n", code_hash="e",
                        edit=evil, model="m")
    a.complete_program(pid, status="ok", score=-1.0, metrics={"score": -1.0}, stages=[], error=None,
                       eval_index=4, cell="0,1")
    a.close()
    _, _, html, _ = report(built.run_dir, tmp_path / "r.html")
    assert html.count("<script") == 3  # plotly.js, the data, the page script
    assert "alert(1)</script>" not in html
    program = payload(html)["programs"][str(pid)]
    assert program["edit"] == evil.splitlines()[0].strip()  # the first line of the edit, intact
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in program["code"]  # shown as text in the inspector


def test_a_run_whose_seed_failed_still_renders_and_says_why(failed_seed_run: Path, tmp_path: Path) -> None:
    code, out, html, md = report(failed_seed_run, tmp_path / "r.html")
    assert code == 0
    assert 'id="empty-reason"' in html and "seed program failed (crash)" in html
    assert "ZeroDivisionError" in html and "initial.py" in html
    assert "note:" in out and "seed program failed" in out
    assert "No successful program" in md
    assert payload(html)["figures"]["chart-score"] is None and 'id="chart-score-empty"' in html


def test_a_run_with_no_program_yet_still_renders(empty_run: Path, tmp_path: Path) -> None:
    code, _, html, md = report(empty_run, tmp_path / "r.html")
    assert code == 0
    assert "No program has been stored yet" in html and "No program has been stored yet" in md


def test_a_running_run_is_reported_as_a_snapshot(tmp_path: Path) -> None:
    built = build_archive(tmp_path / "live", status="running")
    code, _, html, _ = report(built.run_dir, tmp_path / "r.html")
    assert code == 0 and "still going" in html and "status-running" in html


def test_report_writes_into_the_run_directory_by_default(built: Built) -> None:
    buf = io.StringIO()
    code = browse.main("report", [str(built.run_dir)], console=Console(file=buf, markup=False))
    assert code == 0
    assert (built.run_dir / "report.html").is_file() and (built.run_dir / "report.md").is_file()


def test_report_from_a_database_url_and_run_id(built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    code = browse.main("report", [sqlite_url(built.run_dir / "archive.db"), "--run-id", built.run_id],
                       console=Console(file=buf, markup=False))
    assert code == 0 and (tmp_path / f"report-{built.run_id}.html").is_file()


def test_render_html_is_deterministic_apart_from_the_generation_time(built: Built) -> None:
    import datetime as dt

    archive, run = locate.open_run(str(built.run_dir))
    try:
        now = dt.datetime(2026, 1, 2, 3, 4, 5)
        first, second = (render_html(collect(archive, run, now=now)) for _ in range(2))
    finally:
        archive.close()
    assert first == second


def test_write_report_names_the_markdown_after_the_html(built: Built, tmp_path: Path) -> None:
    archive, run = locate.open_run(str(built.run_dir))
    try:
        written = write_report(archive, run, tmp_path / "my-report.html")
    finally:
        archive.close()
    assert written.markdown == tmp_path / "my-report.md" and written.markdown.is_file()
    assert written.note is None
