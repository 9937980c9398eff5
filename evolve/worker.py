"""The task a worker runs: evaluate one program through the sandbox and the problem's scorer.

A worker thread keeps its warm sandbox between tasks, and a worker process its problem, so instance
inputs are built once per process and shipped to each zygote once, not per candidate. With the local
evaluator the workers are threads of the run's own process and share the problem the run loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evaluators.dispatch import LOCAL_KINDS, claim_slot, make_executor
from evaluators.sandbox import Isolation, Limits, Sandbox
from evolve.evaluation import Outcome, SandboxImports, StageResult, evaluate, sandbox_imports
from evolve.plugins import load_problem
from evolve.problem import Problem


@dataclass(frozen=True)
class ProblemSpec:
    """How to build the problem in a worker (by name or folder, with options)."""

    name: str
    path: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the run's hold-out secret (trusted processes only: it never reaches a prompt or a sandbox)
    holdout_secret: str | None = None

    def key(self) -> str:
        return repr((self.name, self.path, sorted(self.options.items()), self.holdout_secret))


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
        self.sandbox: Sandbox | None = None


_state = _WorkerState()
#: problems of this process by spec, shared by its worker threads (a problem is read-only once built)
_problems: dict[str, Problem] = {}
_problems_lock = threading.Lock()


def share_problem(spec: ProblemSpec, problem: Problem) -> None:
    """Let worker threads of this process use `problem` (already loaded by the run) for `spec`."""
    with _problems_lock:
        _problems[spec.key()] = problem


def problem_for(spec: ProblemSpec) -> Problem:
    """The problem `spec` names, loaded once per process (or shared by the run) with its hold-out secret set."""
    key = spec.key()
    problem = _problems.get(key)
    if problem is None:
        with _problems_lock:
            problem = _problems.get(key)
            if problem is None:
                problem = load_problem(spec.name, spec.path, spec.options)
                problem.set_holdout_secret(spec.holdout_secret)
                _problems[key] = problem
    return problem


def _sandbox(isolation: Isolation, disk_mb: int, imports: SandboxImports | None = None) -> Sandbox:
    """This thread's sandbox, restarted when the isolation, the disk size or the problem's imports differ."""
    sb = _state.sandbox
    if sb is None or sb.isolation != isolation or sb.disk_mb != disk_mb or (
            imports is not None and (sb.packages, sb.preload) != (imports["packages"], imports["preload"])):
        if sb is not None:
            sb.close()  # its zygote and candidates are gone: the new sandbox takes over its slot
        slot = sb.slot if sb is not None else claim_slot()
        if imports is None:
            sb = Sandbox(slot=slot, isolation=isolation, disk_mb=disk_mb)
        else:
            sb = Sandbox(slot=slot, isolation=isolation, disk_mb=disk_mb, **imports)
        _state.sandbox = sb
    return sb


def isolation_from(cfg: Any) -> Isolation:
    e = cfg.evaluator
    return Isolation(netns=e.netns, drop_uid=e.drop_uid, filesystem=e.filesystem, pidns=e.pidns, ipc=e.ipc,
                     userns=e.userns, audit=e.audit, seccomp=e.seccomp, cgroup=e.cgroup, pin_cpu=e.pin_cpu)


def start_local_workers(cfg: Any) -> Any | None:
    """For `evaluator=local`: its executor, every worker thread already starting its sandbox zygote, or
    None for other evaluators or a config `run` will refuse (it says why).

    Called before the run imports its heavy modules (the archive's SQLAlchemy, the LLM clients): a zygote
    loads numpy in its own process, on another core, and is ready when the seed is evaluated instead of
    holding it up by about 0.4 s.
    """
    from evolve.config import validate, worker_count

    try:
        validate(cfg)
        kind, workers = str(cfg.evaluator.name), worker_count(cfg)
        isolation, disk_mb = isolation_from(cfg), int(cfg.evaluator.disk_mb)
    except Exception:
        return None
    if kind not in LOCAL_KINDS:
        return None
    executor = make_executor(kind, workers)
    barrier = threading.Barrier(workers, timeout=30)

    def warm() -> None:
        try:
            barrier.wait()  # one task per worker thread: none returns before all have started
        except threading.BrokenBarrierError:
            pass
        warm_up(isolation, disk_mb)

    for _ in range(workers):
        executor.submit(warm)
    return executor


def warm_up(isolation: Isolation, disk_mb: int) -> None:
    """Start this worker's sandbox zygote ahead of its first task (errors surface at that task)."""
    try:
        _sandbox(isolation, disk_mb).start()
    except OSError:
        pass


def run_task(task: EvalTask) -> Outcome:
    """Evaluate `task.code`; failures of the program come back as a classified Outcome."""
    problem = problem_for(task.problem)
    sandbox = _sandbox(task.isolation, task.limits.disk_mb, sandbox_imports(problem))

    def proceed(stage: StageResult) -> bool:
        if task.gate_score is None or stage.split != task.splits[0]:
            return True
        return stage.metrics.get("score", float("-inf")) >= task.gate_score

    outcome = evaluate(problem, sandbox, task.code, task.splits, task.limits, proceed)
    return outcome
