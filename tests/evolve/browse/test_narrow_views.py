"""The terminal views a new user meets first: readable at 80 columns, programs of equal behaviour folded,
`diff A B` in the order A -> B, and export hints that work for a plugin folder."""

from __future__ import annotations

import io
import re
from pathlib import Path

from archive_builder import SEED_CODE, Built, variant
from rich.console import Console

from evolve import browse
from evolve.archive import Archive
from evolve.archive.store import sqlite_url
from evolve.evaluation import StageResult

#: SMTT's real metric names: long, and more of them than fit side by side in 80 columns
METRICS = ("gap_pct", "mean_gap_pct", "optimal_pct", "total_tardiness", "reference_tardiness", "instances")


def call(cmd: str, *args: object, width: int = 80) -> tuple[int, str]:
    buf = io.StringIO()
    console = Console(file=buf, width=width, markup=False, color_system=None)
    code = browse.main(cmd, [str(a) for a in args], console=console)
    return code, buf.getvalue()


def body_rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]


def ranked_rows(out: str) -> list[list[str]]:
    """The rows of `archive top` (an edit may continue on a second line)."""
    return [r for r in body_rows(out) if r[0]]


def assert_no_squeezed_column(out: str, width: int = 80) -> None:
    """No line is wider than the terminal, no header is cut (…), and no column holds one word per line: a
    cell whose continuation lines below it are blank elsewhere in the row is a wrapped cell."""
    lines = out.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    for line in lines:
        if line.startswith("┃"):
            assert "…" not in line, line
    rows = body_rows(out)
    continued = [r for r in rows if r and r[0] == "" and any(r)]
    assert not continued, continued[:3]


def _metrics(score: float, scale: float) -> dict[str, float]:
    return {"score": score, "gap_pct": -score, "mean_gap_pct": -2 * score, "optimal_pct": 10.0 * scale,
            "total_tardiness": 9826.0 * scale, "reference_tardiness": 8697.0 * scale, "instances": 40.0 * scale}


def wide_run(run_dir: Path, chain: int = 6, clones: int = 0) -> dict[str, int]:
    """A run whose programs have SMTT's many long metric names, a lineage of long edits, and `clones` children
    of the best program that score exactly as it does (the same behaviour in effect)."""
    run_dir.mkdir(parents=True)
    a = Archive(sqlite_url(run_dir / "archive.db"))
    ids: dict[str, int] = {}
    try:
        a.create_run("r", "smtt", {"search": {"islands": 1}, "problem": {"name": "smtt"}}, 0, str(run_dir))

        def done(pid: int, score: float, index: int | None) -> None:
            stages = [StageResult("quick", "ok", _metrics(score + 1, 0.2), seconds=0.01),
                      StageResult("train", "ok", _metrics(score, 1.0), seconds=0.05)]
            a.complete_program(pid, status="ok", score=score, metrics=_metrics(score, 1.0), error=None, stages=stages,
                               eval_index=index, run_evaluations=index)

        parent = a.add_program("r", "seed", role="seed", name="seed", code=SEED_CODE, code_hash="h0",
                               edit_kind="seed")
        done(parent, -60.0, None)
        ids["seed"] = parent
        for k in range(1, chain + 1):
            edit = (f"wrap: max(0.1, 0.1113 + d * p) -> max(0.1, 0.1113 + d * p) + {k} * d; replace: d -> "
                    f"max(min(p, p), t * t); operator: min(d, p) -> max(d, p)")
            pid = a.add_program("r", f"j{k}", parent_id=parent, generation=k, code=variant(f"d + {k} * p"),
                                code_hash=f"h{k}", edit=edit, edit_kind="offline:wrap", model="offline")
            done(pid, -60.0 + 5 * k, k)
            parent = pid
        ids["best"] = parent
        for c in range(clones):
            pid = a.add_program("r", f"c{c}", parent_id=ids["best"], generation=chain + 1,
                                code=variant(f"d + {chain} * p + 0 * {c}"), code_hash=f"c{c}",
                                edit=f"constant {c} -> 0 * {c}", edit_kind="offline:constant", model="offline")
            done(pid, -60.0 + 5 * chain, chain + 1 + c)
            ids[f"clone{c}"] = pid
        a.set_holdout(ids["best"], _metrics(-33.0, 2.0))
    finally:
        a.close()
    return ids


def test_show_at_80_columns_keeps_every_stage_metric_whole(tmp_path: Path) -> None:
    ids = wide_run(tmp_path / "run")
    code, out = call("archive", "show", tmp_path / "run", ids["best"])
    assert code == 0
    stages = out[out.index("evaluation stages"):out.index("code of #")]
    assert_no_squeezed_column(stages)
    assert re.search(r"│ split\s+│\s+quick │\s+train │\s+holdout │", stages.replace("┃", "│"))
    for name in [m for m in METRICS if m != "instances"]:
        assert re.search(rf"│ {name}\s+│", stages), name  # the whole name, on one line
    assert "9,826" in stages and "19,652" in stages  # train and hold-out total tardiness


def test_lineage_at_80_columns_prints_each_step_on_one_line(tmp_path: Path) -> None:
    ids = wide_run(tmp_path / "run", chain=6)
    code, out = call("archive", "lineage", tmp_path / "run", ids["best"])
    assert code == 0
    assert_no_squeezed_column(out)
    rows = body_rows(out)
    assert len(rows) == 7  # the seed and six steps, one line each
    assert all(r[-1].startswith(("seed", "wrap: max(0.1")) for r in rows)
    assert [r[0] for r in rows][-1] == f"#{ids['best']}"


def test_lineage_in_a_wide_terminal_keeps_every_column(tmp_path: Path) -> None:
    ids = wide_run(tmp_path / "run", chain=2)
    code, out = call("archive", "lineage", tmp_path / "run", ids["best"], width=200)
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert code == 0 and [h.strip() for h in header.split("┃")[1:-1]] == [
        "step", "id", "gen", "eval", "island", "score", "Δ parent", "status", "edit"]


def test_top_folds_programs_of_equal_behaviour_into_the_row_of_the_first(tmp_path: Path) -> None:
    ids = wide_run(tmp_path / "run", chain=3, clones=5)
    code, out = call("archive", "top", tmp_path / "run", width=120)
    assert code == 0
    rows = ranked_rows(out)
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    heads = [h.strip() for h in header.split("┃")[1:-1]]
    first = rows[0]
    assert first[heads.index("id")] == str(ids["best"]) and first[heads.index("alike")] == "+5"
    listed = {r[heads.index("id")] for r in rows}
    assert not listed & {str(ids[f"clone{c}"]) for c in range(5)}
    assert len(rows) == 4  # the best (with its five clones), two ancestors, the seed
    assert "--every lists each program" in out


def test_top_every_lists_each_program_of_equal_behaviour(tmp_path: Path) -> None:
    ids = wide_run(tmp_path / "run", chain=3, clones=5)
    code, out = call("archive", "top", tmp_path / "run", "--every", width=120)
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    heads = [h.strip() for h in header.split("┃")[1:-1]]
    listed = [r[heads.index("id")] for r in ranked_rows(out)]
    assert code == 0 and "alike" not in heads
    assert listed[:6] == [str(ids["best"]), *(str(ids[f"clone{c}"]) for c in range(5))]


def test_top_n_counts_behaviours_not_programs(tmp_path: Path) -> None:
    wide_run(tmp_path / "run", chain=3, clones=30)
    code, out = call("archive", "top", tmp_path / "run", "-n", "3", width=120)
    rows = ranked_rows(out)
    assert code == 0 and len(rows) == 3
    assert "+30" in rows[0]


def test_diff_a_b_goes_from_a_to_b(built: Built) -> None:
    code, out = call("archive", "diff", built.run_dir, built.seed, built.best, width=200)
    assert code == 0
    assert out.splitlines()[0].startswith(f"#{built.seed} → #{built.best}: +1 −1 lines, score -60 → -5 (+55)")
    assert f"--- #{built.seed}" in out and f"+++ #{built.best}" in out
    assert "-    return d\n" in out and "+    return d + 2 * p" in out


def test_diff_of_one_program_goes_from_its_parent(built: Built) -> None:
    code, out = call("archive", "diff", built.run_dir, built.best, width=200)
    assert code == 0 and out.startswith(f"parent #{built.better} → #{built.best}:")


def test_diff_help_says_which_program_is_the_base(capsys) -> None:  # type: ignore[no-untyped-def]
    code = browse.main("archive", ["diff", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "RUN A [B]" in text and "from A (the base, lines marked -) to B (lines marked +)" in text


def test_export_of_a_folder_plugins_program_names_its_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    a = Archive(sqlite_url(run_dir / "archive.db"))
    folder = tmp_path / "my plugins" / "bin_packing"
    a.create_run("r", "bin_packing", {"problem": {"name": "bin_packing", "path": str(folder)}}, 0, str(run_dir))
    pid = a.add_program("r", "seed", role="seed", code=SEED_CODE, code_hash="h")
    a.close()
    code, out = call("archive", "export", run_dir, pid, "-o", tmp_path / "best.py", width=300)
    assert code == 0
    assert f"evolve eval {tmp_path / 'best.py'} problem.path='{folder}'" in out
    assert "problem=bin_packing" not in out


def test_export_of_a_registered_problems_program_names_the_problem(built: Built, tmp_path: Path) -> None:
    code, out = call("archive", "export", built.run_dir, built.best, "-o", tmp_path / "best.py", width=300)
    assert code == 0 and f"evolve eval {tmp_path / 'best.py'} problem=smtt" in out
