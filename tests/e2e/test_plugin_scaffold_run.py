"""A new problem, from `evolve new-problem` to `evolve run`, through the real CLI in a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_scaffold_passes_its_tests_and_the_checks_then_evolves(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    made = cli(["new-problem", "knapsack_e2e", "--dir", str(tmp_path / "mine")], check=True)
    folder = tmp_path / "mine" / "knapsack_e2e"
    assert "evolve run problem.path=mine/knapsack_e2e" in made.stdout  # relative to the working directory

    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert own.returncode == 0, own.stdout + own.stderr
    assert " passed" in own.stdout.splitlines()[-1] and "failed" not in own.stdout.splitlines()[-1]

    checked = cli(["check-problem", str(folder)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1] == "all contract checks passed"

    run_dir = tmp_path / "run"
    cli(["run", f"problem.path={folder}", "search.iterations=30", "search.max_seconds=60",
         f"hydra.run.dir={run_dir}"], check=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["problem"] == "knapsack_e2e" and summary["evaluations"] >= 1
    assert set(summary["baselines"]) == {"ratio", "lightest"}
    assert summary["best"]["train"]["score"] >= summary["seed"]["train"]["score"]
    assert summary["best"]["holdout"]["gap_pct"] >= 0.0  # the reference is the optimum


@pytest.mark.slow
def test_a_broken_scaffold_is_stopped_by_check_problem_with_exit_1(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    cli(["new-problem", "broken_e2e", "--dir", str(tmp_path)], check=True)
    seed = tmp_path / "broken_e2e" / "initial.py"
    seed.write_text(seed.read_text().replace("def solve(", "def pack("))
    checked = cli(["check-problem", str(tmp_path / "broken_e2e")])
    assert checked.returncode == 1
    assert any(line.startswith("FAIL [seed-entry] broken_e2e/initial.py: no module-level function `solve`")
               for line in checked.stdout.splitlines()), checked.stdout
