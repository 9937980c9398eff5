"""The hold-out comes from a per-run secret: public generator seeds can be memorised."""

from __future__ import annotations

import hashlib
from pathlib import Path

from evaluators import wire
from evolve.archive import Archive
from evolve.archive.store import sqlite_url
from evolve.plugins import load_problem
from evolve.runner import run_holdout_secret
from evolve.worker import ProblemSpec, problem_for


def _ids(problem, split: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What each instance of the split feeds the candidate (ids may name only the generator's settings)."""
    return [hashlib.sha256(wire.encode(list(i.args))).hexdigest() for i in problem.instances(split)]


def test_the_holdout_changes_with_the_secret_and_nothing_else_does() -> None:
    public, secret = load_problem("smtt", None, {}), load_problem("smtt", None, {})
    secret.set_holdout_secret("run-secret")
    assert set(_ids(public, "holdout")).isdisjoint(_ids(secret, "holdout"))
    for split in ("quick", "train"):
        assert _ids(public, split) == _ids(secret, split)


def test_setting_the_secret_forgets_a_holdout_built_before() -> None:
    problem = load_problem("smtt", None, {})
    before = _ids(problem, "holdout")
    problem.set_holdout_secret("run-secret")
    assert set(before).isdisjoint(_ids(problem, "holdout"))


def test_workers_draw_the_holdout_from_the_specs_secret() -> None:
    here = load_problem("eplb", None, {})
    here.set_holdout_secret("run-secret")
    worker = problem_for(ProblemSpec("eplb", holdout_secret="run-secret"))
    assert _ids(worker, "holdout") == _ids(here, "holdout")
    assert _ids(problem_for(ProblemSpec("eplb")), "holdout") != _ids(here, "holdout")


def test_a_run_keeps_its_secret_in_its_row_and_reuses_it(tmp_path: Path) -> None:
    archive = Archive(sqlite_url(tmp_path / "archive.db"))
    archive.create_run("r1", "smtt", {}, 0, str(tmp_path), meta={"workers": 1})
    secret = run_holdout_secret(archive, "r1")
    assert len(secret) == 32 and archive.get_run("r1").meta["holdout_secret"] == secret
    assert archive.get_run("r1").meta["workers"] == 1
    assert run_holdout_secret(archive, "r1") == secret  # a resumed run scores the same hold-out
    archive.create_run("r2", "smtt", {}, 0, str(tmp_path))
    assert run_holdout_secret(archive, "r2") != secret
    archive.close()
