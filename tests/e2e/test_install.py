"""A non-editable `pip install .` works from any directory (the packages, configs, templates and data ship)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from venvs import child_venv

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_non_editable_install_runs_from_another_directory(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    py = child_venv(venv)
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(REPO)], capture_output=True,
                             text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": ""}
    where = subprocess.run([str(py), "-c", "import evolve, problems, evaluators; print(evolve.__file__)"],
                           cwd=work, capture_output=True, text=True, env=env)
    assert str(venv) in where.stdout, where.stdout + where.stderr
    evolve_bin = venv / "bin" / "evolve"
    run = subprocess.run([str(evolve_bin), "run", "search.iterations=12", "search.max_seconds=120",
                          "evaluator.workers=1"], cwd=work, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    (summary_path,) = list((work / "runs" / "smtt").glob("*/summary.json"))
    summary = json.loads(summary_path.read_text())
    assert summary["evaluations"] == 12 and set(summary["baselines"]) >= {"edd", "spt", "mdd"}
    evaluated = subprocess.run([str(evolve_bin), "eval", str(REPO / "problems/smtt/baselines/mdd.py"), "--json"],
                               cwd=work, capture_output=True, text=True, env=env, timeout=120)
    assert json.loads(evaluated.stdout)["status"] == "ok", evaluated.stderr
