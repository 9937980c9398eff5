"""The table `evolve run` ends with: readable in an 80-column terminal, complete in a log."""

from __future__ import annotations

import io
import re

from rich.console import Console

from evolve.summary import print_final

METRICS = ("score", "gap_pct", "optimal_pct", "total_tardiness")


def _summary() -> dict:
    def splits(score: float, tardiness: float) -> dict:
        return {split: {"score": score, "gap_pct": -score, "optimal_pct": 22.5, "total_tardiness": tardiness}
                for split in ("train", "holdout")}
    return {"problem": "smtt", "evaluations": 300, "stop_reason": "iterations", "seed": splits(-63.44, 14214),
            "best": {"id": 331, **splits(-12.99, 9826)},
            "baselines": {name: splits(-1.32, 8812) for name in ("amdd", "atc", "covert", "mdd_ls")},
            "statuses": {"ok": 255, "crash": 45}}


def render(width: int, terminal: bool) -> str:
    buf = io.StringIO()
    print_final(_summary(), METRICS, Console(file=buf, width=width, force_terminal=terminal, color_system=None))
    return buf.getvalue()


def test_in_an_80_column_terminal_every_number_and_header_is_whole() -> None:
    out = render(80, terminal=True)
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "…" not in out
    for value in ("-63.44", "14,214", "-12.99", "9,826", "baseline mdd_ls"):
        assert value in out
    headers = [line for line in out.splitlines() if line.startswith("┃")]
    assert headers and all(re.search(r"┃ program\s+┃\s+score ┃ gap_pct ┃ optimal_pct ┃ total_tardiness ┃", h)
                           for h in headers)
    assert out.index("train") < out.index("hold-out")


def test_a_wide_terminal_or_a_log_gets_one_table_with_both_splits() -> None:
    for out in (render(220, terminal=True), render(80, terminal=False)):
        header = next(line for line in out.splitlines() if line.startswith("┃"))
        assert "train total_tardiness" in header and "holdout total_tardiness" in header
        assert "…" not in out


def test_each_split_s_table_in_a_narrow_terminal_names_the_run_and_its_split() -> None:
    out = render(80, terminal=True)
    assert out.count("smtt: 300 evaluations, stopped by iterations") == 2  # the hold-out table's title too
    assert re.search(r"stopped by iterations\s*\n\s*train", out)
    assert re.search(r"stopped by iterations\s*\n\s*hold-out", out)
