"""bench/search.py as a developer runs it: another strategy or an override in evolution's column only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_evolution_options_change_evolutions_runs_and_leave_the_baselines_to_the_log(tmp_path: Path) -> None:
    pytest.importorskip("scipy")
    log = tmp_path / "runs.jsonl"
    cmd = [sys.executable, str(ROOT / "bench" / "search.py"), "--problems", "smtt", "--strategies", "random",
           "evolution", "--budgets", "4", "--seeds", "1", "--workers", "1", "--log", str(log)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    mine = ["--evolution", "thompson", "--evolution-override", "search.params.prior_wins=2"]
    out = subprocess.run(cmd + mine, check=True, env=env, capture_output=True, text=True, timeout=300)
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["strategy"], r["overrides"]) for r in runs] == [
        ("random", []), ("evolution", []), ("evolution", ["search=thompson", "search.params.prior_wins=2"])]
    assert "evolution's own: search=thompson search.params.prior_wins=2" in out.stdout
    assert out.stderr.count("seed 100: best") == 1  # the random run came from the log
