"""Kill a run at arbitrary moments, resume it, and get exactly the archive an uninterrupted run writes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolve.archive import Archive

ARGS = ["search.iterations=45", "search.max_seconds=0", "evaluator.workers=1", "seed=3",
        "search.migration_interval=10", "search.holdout_top_k=1"]
ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def _start(run_dir: Path, extra: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "evolve.cli", "run", *ARGS, f"hydra.run.dir={run_dir}", *extra],
                            cwd=run_dir.parent, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _trace(run_dir: Path) -> list[tuple[object, ...]]:
    archive = Archive.for_run_dir(run_dir)
    run = archive.get_run()
    rows = archive.programs(run.id, roles=("seed", "candidate"))
    return [(p.job_id, p.parent_id, p.code_hash, p.status, p.score, p.eval_index, p.island) for p in rows]


def _evaluations(run_dir: Path) -> int:
    try:
        return Archive.for_run_dir(run_dir).get_run().evaluations
    except Exception:
        return -1


@pytest.mark.slow
def test_killed_and_resumed_run_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    proc = _start(straight, [])
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err
    expected = _trace(straight)
    assert sum(1 for t in expected if t[5] is not None) == 45

    killed = tmp_path / "killed"
    rng = random.Random(0)
    proc = _start(killed, [])
    kills = 0
    for _ in range(12):
        target = rng.randint(3, 40)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and _evaluations(killed) < target:
            time.sleep(0.05)
        if proc.poll() is not None:
            break
        time.sleep(rng.random() * 0.3)  # land anywhere: mid-proposal, mid-evaluation, mid-write
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        if kills >= 3:
            break
        proc = _start(killed, [f"resume={killed}"])
    if proc.poll() is None or kills >= 3:
        proc = _start(killed, [f"resume={killed}"])
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err
    assert kills >= 1
    got = _trace(killed)
    evaluated = [t for t in got if t[5] is not None]
    assert sorted(t[5] for t in evaluated) == list(range(1, 46))  # every evaluation once, none lost
    assert len({t[0] for t in got}) == len(got)  # no job stored twice
    assert got == expected
    run = Archive.for_run_dir(killed).get_run()
    assert run.status == "finished" and run.evaluations == 45
    events = Archive.for_run_dir(killed).events(run.id, "resume")
    assert 1 <= len(events) <= kills  # a kill can land before a resumed process records its resume
