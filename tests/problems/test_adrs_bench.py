"""`evolve bench adrs` through the real CLI: tables per problem, given programs as rows, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from problems.cant_be_late import traces

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "evolve.cli", "bench", "adrs", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)


def test_bench_prints_seed_baselines_and_a_given_program(tmp_path: Path) -> None:
    mine = tmp_path / "mine.py"
    mine.write_text((ROOT / "problems/prism/baselines/greedy_local_search.py").read_text())
    out = _bench("--problems", "prism", "--program", f"mine={mine}")
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[1].strip(): line for line in out.stdout.splitlines() if line.count("│") >= 3}
    assert {"seed", "baseline round_robin", "baseline greedy_local_search", "program mine"} <= set(rows)
    assert "0.00" in rows["baseline round_robin"] and "leaderboard cases" in out.stdout
    assert rows["program mine"].split("│")[2:] == rows["baseline greedy_local_search"].split("│")[2:]


def test_bench_scores_real_trace_files_with_the_leaderboards_formula(tmp_path: Path) -> None:
    for env in traces.ENVS:
        (tmp_path / env).mkdir()
        traces.write(tmp_path / env / "0.json", traces.generate(env, 500, 600.0, np.random.default_rng(3)), 600.0)
    out = _bench("--problems", "cant_be_late", "--traces", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "real traces" in out.stdout and " lb " in out.stdout


def test_bench_names_an_unknown_problem() -> None:
    out = _bench("--problems", "nope")
    assert out.returncode == 2 and "unknown problem(s) ['nope']" in out.stderr
