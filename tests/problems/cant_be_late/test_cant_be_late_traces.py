"""Generated traces, the leaderboard's JSON trace format, and the hold-out on real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evolve.errors import ProblemError
from problems.cant_be_late import make, traces
from problems.cant_be_late.driver import run_episode


def test_generated_availability_follows_each_environments_profile() -> None:
    for p in traces.PROFILES:
        avail = np.mean([1 - traces.generate(p.env, 2000, 600, np.random.default_rng([5, k])).mean()
                         for k in range(20)])
        assert abs(avail - p.availability) < 0.12, p.env


def test_instances_are_deterministic_and_read_only() -> None:
    a, b = make({}).instances("train"), make({}).instances("train")
    for x, y in zip(a, b):
        assert np.array_equal(x.args[0], y.args[0]) and x.args[1:] == y.args[1:]
        assert not x.args[0].flags.writeable


def _write_tree(root: Path, per_env: int) -> None:
    """A small folder in the leaderboard's layout (traces made by our own generator)."""
    for env in traces.ENVS:
        folder = root / "ddl=search+task=48+overhead=0.02" / "real" / env / "traces" / "random_start"
        folder.mkdir(parents=True)
        for k in range(per_env):
            trace = traces.generate(env, 500, 600.0, np.random.default_rng([9, k]))
            traces.write(folder / f"{k}.json", trace, 600.0)


def test_the_holdout_reads_real_trace_files_in_the_leaderboards_layout(tmp_path: Path) -> None:
    _write_tree(tmp_path, 3)
    p = make({"traces": str(tmp_path), "real_per_env": 2})
    hold = p.instances("holdout")
    assert len(hold) == 6 * 2 * 6  # environments × traces × (deadline, overhead) configurations
    assert {i.meta["env"] for i in hold} == set(traces.ENVS)
    assert hold[0].meta["source"].endswith("0.json")
    first = json.loads(Path(hold[0].meta["source"]).read_text())["data"]
    assert list(hold[0].args[0]) == first
    ns: dict[str, object] = {}
    exec(p.initial_program, ns)
    metrics = p.score(hold[0], run_episode(ns["decide"], *hold[0].args)[0])
    assert metrics["episodes"] == 1.0


def test_a_bad_trace_file_is_a_clear_error(tmp_path: Path) -> None:
    _write_tree(tmp_path, 1)
    bad = next(tmp_path.rglob("0.json"))
    bad.write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": [0, 2, 1]}))
    with pytest.raises(ProblemError, match=r"0\.json.*every entry must be 0"):
        make({"traces": str(tmp_path)}).instances("holdout")
    with pytest.raises(ProblemError, match="no such folder"):
        make({"traces": str(tmp_path / "nope")}).instances("holdout")


def test_short_traces_are_skipped_and_a_missing_environment_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "us-west-2a_k80_8"
    folder.mkdir()
    traces.write(folder / "0.json", np.zeros(10, dtype=np.uint8), 600.0)
    with pytest.raises(ProblemError, match="no trace of at least 70 h"):
        make({"traces": str(tmp_path), "envs": ["us-west-2a_k80_8"]}).instances("holdout")


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown cant_be_late option"):
        make({"nope": 1})
    with pytest.raises(ValueError, match="unknown environment"):
        make({"envs": ["mars-1a_k80_1"]})
    with pytest.raises(ValueError, match="shorter than the job"):
        make({"deadlines_hours": [48]})
