"""What a new user needs the report to say plainly: when the best program is behind baselines, which ranked
programs behave the same, how the hold-out score moved over the run; and charts whose scales show the bulk
of the data rather than its outliers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import plotly.graph_objects as go
from archive_builder import SEED_CODE, Built, variant
from rich.console import Console

from evolve import browse
from evolve.archive import Archive, locate
from evolve.archive.store import sqlite_url
from evolve.evaluation import StageResult
from evolve.report import collect
from evolve.report.charts import grid_figure, lineage_figure, score_figure
from evolve.report.data import ReportData


def report(run: Path, out: Path) -> tuple[str, str]:
    code = browse.main("report", [str(run), "-o", str(out)], console=Console(file=io.StringIO(), markup=False))
    assert code == 0
    return out.read_text(), out.with_suffix(".md").read_text()


def data_of(run_dir: Path) -> ReportData:
    archive, run = locate.open_run(str(run_dir))
    try:
        return collect(archive, run)
    finally:
        archive.close()


def _ok(a: Archive, pid: int, score: float, index: int | None, cell: str = "1,1", tardiness: float = 0.0) -> None:
    m = {"score": score, "gap_pct": -score, "total_tardiness": 1000.0 - score + tardiness}
    a.complete_program(pid, status="ok", score=score, metrics=m, error=None, cell=cell, eval_index=index,
                       run_evaluations=index, stages=[StageResult("train", "ok", m, seconds=0.01)])


def add_baseline(run_dir: Path, name: str, train: float, holdout: float) -> None:
    a = Archive(sqlite_url(run_dir / "archive.db"))
    try:
        pid = a.add_program("r-test", f"baseline:{name}", role="baseline", name=name, code=SEED_CODE, code_hash=name)
        _ok(a, pid, train, None)
        a.set_holdout(pid, {"score": holdout, "gap_pct": -holdout})
    finally:
        a.close()


def test_a_best_program_behind_some_baselines_is_said_so_in_both_reports(built: Built, tmp_path: Path) -> None:
    add_baseline(built.run_dir, "mdd", -1.0, -2.0)  # the best program scores -5 on train, -7.5 on hold-out
    html, md = report(built.run_dir, tmp_path / "r.html")
    note = re.search(r'<div class="callout warn" id="behind-baselines">(.*?)</div>', html, re.S)
    assert note is not None
    text = " ".join(re.sub(r"<[^>]+>", "", note.group(1)).split())
    assert text.startswith("The best program is behind 1 of the 2 baselines.")
    assert f"On train, #{built.best} scores -5 and 1 baseline(s) score higher: mdd (-1)." in text
    assert f"On hold-out, #{built.best} scores -7.5 and 1 baseline(s) score higher: mdd (-2)." in text
    assert "edd" not in text.replace("mdd", "")  # edd (-60) is behind the best program
    assert "> **The best program is behind 1 of the 2 baselines.**" in md


def test_no_note_when_the_best_program_leads_every_baseline(built: Built, tmp_path: Path) -> None:
    html, md = report(built.run_dir, tmp_path / "r.html")
    assert 'id="behind-baselines"' not in html and "is behind" not in md


def test_the_ranked_table_folds_programs_of_equal_behaviour(built: Built, tmp_path: Path) -> None:
    a = Archive(sqlite_url(built.run_dir / "archive.db"))
    clones = []
    try:
        for k in range(3):  # the same metrics as the best program: the same decisions in effect
            pid = a.add_program("r-test", f"clone{k}", parent_id=built.best, generation=3,
                                code=variant(f"d + 2 * p + 0 * {k}"), code_hash=f"c{k}", edit=f"constant {k} -> 0",
                                edit_kind="offline:constant", model="offline")
            m = {"score": -5.0, "gap_pct": 5.0, "instances": 4.0}
            a.complete_program(pid, status="ok", score=-5.0, metrics=m, error=None, cell="1,1", eval_index=4 + k,
                               run_evaluations=4 + k, stages=[StageResult("train", "ok", m, seconds=0.01)])
            clones.append(pid)
    finally:
        a.close()
    html, md = report(built.run_dir, tmp_path / "r.html")
    top = re.search(r'<table class="sortable" id="top-table">.*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    ids = re.findall(r'<tr class="clickable" data-program="(\d+)">', top)
    assert ids[0] == str(built.best) and not set(ids) & {str(c) for c in clones}
    assert ">alike</th>" in top
    first = top[top.index(f'data-program="{built.best}"'):].split("</tr>")[0]
    assert ">+3</td>" in first and all(f"#{c}" in first for c in clones)  # the ids are in the cell's title
    assert f"| 1 | #{built.best} | -5 | +3 |" in md


def test_the_grid_colour_scale_is_not_set_by_an_outlier_cell(built: Built) -> None:
    a = Archive(sqlite_url(built.run_dir / "archive.db"))
    try:
        for k, score in enumerate([-9.0, -8.0, -7.5, -7.0, -6.5, -6.0, -1e6]):
            pid = a.add_program("r-test", f"g{k}", parent_id=built.better, generation=2, code=variant(f"d * {k}"),
                                code_hash=f"g{k}", edit_kind="offline:wrap", model="offline")
            _ok(a, pid, score, 10 + k, cell=f"{k % 4},{2 + k // 4}")
    finally:
        a.close()
    fig = grid_figure(data_of(built.run_dir))
    assert fig is not None
    trace = fig["data"][0]
    # the bulk of the cells scores -20 to -5: the -1e6 cell and the seed's -60 take the bottom colour
    assert -40.0 < trace["zmin"] <= -9.0
    assert trace["zmax"] == -5.0
    go.Figure(fig)


def test_robust_range_drops_outliers_on_either_side_and_keeps_small_samples_whole() -> None:
    from evolve.report.charts import robust_range

    lo, hi = robust_range([-1e6, -9.0, -8.0, -7.0, -6.0, -5.0, 1e6])
    assert -20 < lo <= -9 and -5 <= hi < 10
    assert robust_range([-60.0, -5.0]) == (-60.0, -5.0)
    assert robust_range([3.0, 3.0, 3.0, 3.0]) == (3.0, 3.0)


def test_the_lineage_axis_is_not_set_by_the_seeds_first_jump(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    a = Archive(sqlite_url(run_dir / "archive.db"))
    try:
        a.create_run("r", "smtt", {"search": {"islands": 1}}, 0, str(run_dir))
        parent = a.add_program("r", "seed", role="seed", name="seed", code=SEED_CODE, code_hash="s", edit_kind="seed")
        _ok(a, parent, -63.0, None)
        seed = parent
        for k, score in enumerate([-28.0, -26.0, -21.0, -15.0, -14.0, -13.0], 1):
            parent_id = parent
            parent = a.add_program("r", f"j{k}", parent_id=parent_id, generation=k, code=variant(f"d + {k}"),
                                   code_hash=f"h{k}", edit=f"constant {k}", edit_kind="offline:constant")
            _ok(a, parent, score, k * 10)
        a.update_run("r", best_program_id=parent, best_score=-13.0, evaluations=60, status="finished")
    finally:
        a.close()
    fig = lineage_figure(data_of(run_dir))
    assert fig is not None
    lo, hi = fig["layout"]["yaxis"]["range"]
    assert -40 < lo < -28 and -13 < hi  # the steps after the first fill the axis; -63 is off it
    nodes = next(t for t in fig["data"] if t["mode"] == "markers" and t["customdata"])
    at = nodes["customdata"].index(seed)
    assert lo <= nodes["y"][at] < -28 and nodes["marker"]["symbol"][at] == "triangle-down"
    assert "score -63" in nodes["text"][at]  # the hover still gives the true score
    go.Figure(fig)


def test_the_score_chart_shows_the_best_so_far_on_hold_out(built: Built) -> None:
    a = Archive(sqlite_url(built.run_dir / "archive.db"))
    try:
        a.set_holdout(built.better, {"score": -25.0, "gap_pct": 25.0})
    finally:
        a.close()
    fig = score_figure(data_of(built.run_dir))
    assert fig is not None
    held = next(t for t in fig["data"] if t["name"] == "best so far, on hold-out")
    # the seed at 0, then each new best at its evaluation, held to the end of the run
    assert held["x"][:3] == [0, 1, 2] and held["y"] == [-61.0, -25.0, -7.5, -7.5]
    assert held["customdata"][:3] == [built.seed, built.better, built.best]
    go.Figure(fig)
