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


# -- a resumed run is the same run: its own configuration, its own budget ---------------------------------
OWN = ["search.iterations=40", "search.max_seconds=null", "evaluator.workers=1", "seed=5", "search.islands=1",
       "llm.max_steps=2", "search.holdout_top_k=1", "search.migration_interval=7"]


def _cli(run_dir: Path, args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "evolve.cli", "run", *args], cwd=run_dir.parent, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for(run_dir: Path, evaluations: int, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and _evaluations(run_dir) < evaluations:
        time.sleep(0.05)


def test_a_run_killed_three_times_and_resumed_without_overrides_keeps_its_budget_and_config(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = _cli(run_dir, [*OWN, f"hydra.run.dir={run_dir}"])
    _wait_for(run_dir, 1, proc)
    original = Archive.for_run_dir(run_dir).get_run().config
    config_yaml = (run_dir / "config.yaml").read_text()
    hydra_yaml = (run_dir / ".hydra" / "config.yaml").read_text()
    for target in (8, 18, 28):
        _wait_for(run_dir, target, proc)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc = _cli(run_dir, [f"resume={run_dir}"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    archive = Archive.for_run_dir(run_dir)
    run = archive.get_run()
    assert run.status == "finished" and run.stop_reason == "iterations" and run.evaluations == 40
    assert run.config == original
    assert (run_dir / "config.yaml").read_text() == config_yaml
    assert (run_dir / ".hydra" / "config.yaml").read_text() == hydra_yaml  # Hydra's record of the first command
    indexes = sorted(p.eval_index for p in archive.programs(run.id) if p.eval_index is not None)
    assert indexes == list(range(1, 41))
    assert "except" not in out  # nothing differed from the stored configuration


def test_resuming_a_finished_run_does_nothing_unless_a_budget_is_raised(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = _cli(run_dir, [*OWN, "search.iterations=6", f"hydra.run.dir={run_dir}"])
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    archive = Archive.for_run_dir(run_dir)
    run = archive.get_run()
    rows = len(archive.programs(run.id))
    stages = sum(len(archive.program(p.id).stages) for p in archive.programs(run.id))

    again = _cli(run_dir, [f"resume={run_dir}"])
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "is finished" in out and "nothing to do" in out and "search.iterations=" in out
    archive = Archive.for_run_dir(run_dir)
    assert len(archive.programs(run.id)) == rows
    assert sum(len(archive.program(p.id).stages) for p in archive.programs(run.id)) == stages

    more = _cli(run_dir, [f"resume={run_dir}", "search.iterations=10"])
    out, err = more.communicate(timeout=300)
    assert more.returncode == 0, err
    assert "search.iterations: 6 -> 10" in out
    run = Archive.for_run_dir(run_dir).get_run()
    assert run.status == "finished" and run.evaluations == 10 and run.config["search"]["iterations"] == 10
    # the rest is the run's own (the command gave llm.max_steps, the old spelling of offline.max_steps)
    assert run.config["seed"] == 5 and run.config["offline"]["max_steps"] == 2
    assert "iterations: 10" in (run_dir / "config.yaml").read_text()
    baselines = Archive.for_run_dir(run_dir).programs(run.id, roles=("baseline",))
    assert len(baselines) == len({b.name for b in baselines})


def test_a_resume_cannot_change_the_problem(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = _cli(run_dir, [*OWN, "search.iterations=2", f"hydra.run.dir={run_dir}"])
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    proc = _cli(run_dir, [f"resume={run_dir}", "+problem.options.train_n=[30]", "search.iterations=4"])
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2
    assert "problem.options.train_n" in err and "keeps its problem" in err and "Traceback" not in err
    assert Archive.for_run_dir(run_dir).get_run().status == "finished"


# -- one owner per run ------------------------------------------------------------------------------------
LONG = ["search.iterations=100000", "search.max_seconds=120", "evaluator.workers=1", "search.holdout_top_k=1",
        "quiet=true"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_second_process_on_a_live_run_is_refused_and_a_killed_owners_run_is_taken_over(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    run_dir = tmp_path / "run"
    if backend == "sqlite":
        where = [f"hydra.run.dir={run_dir}"]
        archive_of = lambda: Archive.for_run_dir(run_dir)  # noqa: E731
    else:
        url = request.getfixturevalue("postgres_url")
        where = [f"archive.url={url}", f"hydra.run.dir={run_dir}"]
        archive_of = lambda: Archive(url)  # noqa: E731
    owner = _cli(run_dir, [*LONG, *where])
    deadline = time.monotonic() + 120
    while owner.poll() is None and time.monotonic() < deadline:
        try:
            if archive_of().get_run().evaluations >= 3:
                break
        except Exception:
            pass
        time.sleep(0.1)
    run = archive_of().get_run()
    again = [f"resume={run_dir}"] if backend == "sqlite" else [f"resume={run.id}", f"archive.url={url}"]
    takers: list[subprocess.Popen[str]] = []
    try:
        second = _cli(tmp_path / "second", again)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and "owned by another process" in err and "Traceback" not in err
        assert f"pid {owner.pid}" in err and "last heartbeat" in err
        assert owner.poll() is None and archive_of().get_run().status == "running"  # the owner goes on

        os.killpg(owner.pid, signal.SIGKILL)
        owner.wait()
        takers += [_cli(tmp_path / "second", again) for _ in range(2)]  # two resumes at once: one wins
        deadline = time.monotonic() + 120
        while all(t.poll() is None for t in takers) and time.monotonic() < deadline:
            time.sleep(0.1)
        (loser,) = [t for t in takers if t.poll() is not None]
        (winner,) = [t for t in takers if t is not loser]
        out, err = loser.communicate(timeout=60)
        assert loser.returncode == 2 and "owned by another process" in err, (out, err)
        assert f"pid {winner.pid}" in err
        os.killpg(winner.pid, signal.SIGINT)
        out, err = winner.communicate(timeout=120)
        assert winner.returncode == 130, err
        assert "taking the run over" in out and f"pid {owner.pid}" in out
        log = (run_dir / "evolve.log").read_text() if backend == "sqlite" else \
            "".join(p.read_text() for p in (tmp_path / "runs").rglob("evolve.log"))  # this machine's new folder
        assert "lease taken over" in log
        assert archive_of().get_run().status == "interrupted"
    finally:
        for proc in [owner, *takers]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
