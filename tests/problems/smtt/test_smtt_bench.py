"""`evolve bench smtt`: the table's rows, columns, reference notes, files, and failing programs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from problems.smtt import bench
from problems.smtt.generator import generate_split
from problems.smtt.problem import instance_key

MINE = """
import numpy as np

def schedule(p, d):
    t, left, order = 0, list(range(len(p))), []
    while left:
        j = min(left, key=lambda k: (max(int(d[k]), t + int(p[k])), k))
        left.remove(j)
        order.append(j)
        t += int(p[j])
    return order
"""


def test_default_benchmark_references_are_cached_and_mostly_optimal() -> None:
    from problems.smtt import references

    table = references.load_table(bench.BENCH_REFERENCES)
    for n, per_class in bench.GENERATED.items():
        entries = [table[instance_key(raw)] for raw in generate_split(bench.BENCH_SEED, (n,), per_class)]
        kinds = [e["kind"] for e in entries]
        assert set(kinds) <= {"optimum", "best_known"}
        if n <= 200:
            assert set(kinds) == {"optimum"}
        assert all(e["lower_bound"] <= e["value"] for e in entries)


@pytest.mark.slow
def test_bench_writes_markdown_and_csv_with_program_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine.py"
    mine.write_text(MINE)
    broken = tmp_path / "broken.py"
    broken.write_text("def schedule(p, d):\n    return [0] * len(p)\n")
    code = bench.main(["--columns", "n20,wt40", "--per-class", "1", "--wt-stride", "25", "--baselines", "edd,mdd",
                       "--program", f"mine={mine}", "--program", f"broken={broken}", "--out", str(tmp_path)])
    assert code == 0
    md = (tmp_path / "bench.md").read_text()
    assert md.strip() in capsys.readouterr().out
    lines = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "| n20 | 20 optimum |" in md and "| wt40 | 5 optimum |" in md
    gap_table = md.split("## Mean per-instance gap")[0]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in gap_table.splitlines() if line.startswith("| ") and not line.startswith("| program")}
    assert rows["mine"][0] == rows["mdd"][0] and rows["mine"][1] == "–"
    assert rows["broken"][0] == "invalid"
    assert float(rows["mdd"][0]) < float(rows["edd"][0])
    assert "## n20: ratio-of-sums gap to the reference" in md and "tf0.8-rdd1.0" in lines
    with (tmp_path / "bench.csv").open() as fh:
        records = list(csv.DictReader(fh))
    assert {r["program"] for r in records} == {"edd", "mdd", "mine", "broken"}
    assert any(r["class"] == "tf0.6-rdd0.2" and r["metric"] == "gap_pct" for r in records)
    assert {"program": "broken", "column": "n20", "class": "all", "metric": "status", "value": "invalid"} in records


def test_unknown_column_is_an_error() -> None:
    with pytest.raises(SystemExit):
        bench.main(["--columns", "n30"])


def test_missing_program_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="does not exist"):
        bench.main(["--columns", "n20", "--per-class", "1", "--baselines", "none",
                    "--program", f"x={tmp_path / 'nope.py'}"])
