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


def _bench() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_gives_the_evidence_for_better_and_for_worse_per_budget() -> None:
    """At 2 evaluations evolution is behind both baselines on every seed, at 4 ahead of both: the p-values
    for 'better' and for 'worse' swap, and each budget reads the best of the run's prefix."""
    pytest.importorskip("scipy")
    fates = {"children": 4, "crashed": 1, "invalid": 0, "duplicate": 1, "no_change": 0, "improved": 2}
    runs = []
    for seed in range(100, 106):
        for strategy, curve in (("random", [[1, -5.0], [2, -3.0], [3, -3.0], [4, -3.0]]),
                                ("sequential", [[1, -5.0], [2, -4.0], [3, -3.5], [4, -3.5]]),
                                ("evolution", [[1, -6.0], [2, -6.0], [3, -2.0], [4, -1.0 + seed / 1000]])):
            runs.append({"problem": "smtt", "strategy": strategy, "seed": seed, "budget": 4, "overrides": [],
                         "seed_score": -10.0, "curve": curve, "fates": fates})
    text = _bench().table(runs, [2, 4])  # type: ignore[attr-defined]
    rows = {line.split(" | ")[0]: line.split(" | ") for line in text.splitlines() if line.startswith("| ")}
    assert "p(evo < random / sequential)" in rows["| budget"]
    behind, ahead = rows["| 2"], rows["| 4"]
    assert behind[1].startswith("-3.000") and behind[3].startswith("-6.000")
    assert float(behind[5]) > 0.99 and float(behind[6]) > 0.99  # not better ...
    assert all(float(p) < 0.01 for p in behind[7].split(" / "))  # ... but worse, with 6 seeds a side
    assert float(ahead[5]) < 0.01 and float(ahead[6]) < 0.01
    assert all(float(p) > 0.99 for p in ahead[7].split(" / "))
    assert ahead[8] == "6/6/6 |"
    assert "| evolution | 24 | 25.0 % | 0.0 % | 25.0 % | 0.0 % | 50.0 % |" in text
