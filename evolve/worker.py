"""The task a worker runs: evaluate one program through the sandbox and the problem's scorer.

A worker process (or thread) keeps its problem and its warm sandbox between tasks, so instance inputs
are built and shipped to the zygote once per worker, not per candidate.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evaluators.dispatch import claim_slot
from evaluators.sandbox import Isolation, Limits, Sandbox
from evolve.evaluation import Outcome, StageResult, evaluate
from evolve.plugins import load_problem
from evolve.problem import Problem


@dataclass(frozen=True)
class ProblemSpec:
    """How to build the problem in a worker (by name or folder, with options)."""

    name: str
    path: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return repr((self.name, self.path, sorted(self.options.items())))


@dataclass(frozen=True)
class EvalTask:
    """One program to evaluate on a cascade of splits."""

    problem: ProblemSpec
    code: str
    splits: tuple[str, ...]
    limits: Limits
    isolation: Isolation = field(default_factory=Isolation)
    #: stop after the first split unless its score is at least this (the cascade gate)
    gate_score: float | None = None


class _WorkerState(threading.local):
    def __init__(self) -> None:
        self.problems: dict[str, Problem] = {}
        self.sandbox: Sandbox | None = None


_state = _WorkerState()


def _problem(spec: ProblemSpec) -> Problem:
    key = spec.key()
    if key not in _state.problems:
        _state.problems[key] = load_problem(spec.name, spec.path, spec.options)
    return _state.problems[key]


def _sandbox(isolation: Isolation, disk_mb: int) -> Sandbox:
    sb = _state.sandbox
    if sb is None or sb.isolation != isolation or sb.disk_mb != disk_mb:
        if sb is not None:
            sb.close()
        _state.sandbox = Sandbox(slot=claim_slot(), isolation=isolation, disk_mb=disk_mb)
    return _state.sandbox  # type: ignore[return-value]


def run_task(task: EvalTask) -> Outcome:
    """Evaluate `task.code`; failures of the program come back as a classified Outcome."""
    problem = _problem(task.problem)
    sandbox = _sandbox(task.isolation, task.limits.disk_mb)

    def proceed(stage: StageResult) -> bool:
        if task.gate_score is None or stage.split != task.splits[0]:
            return True
        return stage.metrics.get("score", float("-inf")) >= task.gate_score

    outcome = evaluate(problem, sandbox, task.code, task.splits, task.limits, proceed)
    return outcome
