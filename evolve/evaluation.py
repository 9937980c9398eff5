"""Evaluate one program: run it in the sandbox on a split's inputs, then validate and score in the parent.

This is the only place where sandbox outputs meet a problem's trusted scorer. It is used by the loop's
workers, by `evolve eval`, and for baselines, so all three are scored the same way.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from evaluators.sandbox import DEFAULT_PACKAGES, DEFAULT_PRELOAD, Job, Limits, Sandbox, SandboxResult
from evaluators.session import Interactive
from evolve.problem import Instance, InvalidOutput, Problem, finite

#: the call timings a child reports may add up to at most the parent's own clock of the split, plus this
TIMING_SLACK = 1.10
TIMING_SLACK_MS = 5.0


@dataclass(frozen=True)
class StageResult:
    """The outcome of one split: status, metrics (when valid), and where it failed."""

    split: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    failed_instance: str | None = None
    stdout: str = ""
    stderr: str = ""
    #: the problem's text about this split for the next prompt (`Problem.feedback`), e.g. OpenEvolve artifacts
    feedback: str = ""
    #: the isolation mechanisms the sandbox achieved for this run
    isolation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """Everything known about one evaluated program: overall status, score and per-stage results."""

    status: str
    score: float | None
    metrics: dict[str, float]
    stages: tuple[StageResult, ...]
    error: str | None = None
    isolation: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)


def limits_for(problem: Problem, base: Limits, split: str) -> Limits:
    """The problem's own time budgets override the generic ones (per instance and per split)."""
    h = problem.harness
    n = max(1, len(instances_of(problem, split)))
    split_wall = max(base.split_wall_s, h.split_timeout_s) if split != "holdout" else max(
        base.split_wall_s, h.split_timeout_s, h.timeout_s * n)
    return Limits(**{**base.__dict__, "instance_wall_s": max(base.instance_wall_s, h.timeout_s),
                     "split_wall_s": split_wall, "cpu_s": max(base.cpu_s, split_wall)})


class SandboxImports(TypedDict):
    """What a Sandbox lets a problem's programs import: its `packages` and `preload` arguments."""

    packages: tuple[str, ...]
    preload: tuple[str, ...]


def sandbox_imports(problem: Problem) -> SandboxImports:
    """The `packages` and `preload` of a Sandbox that can run this problem's programs: the defaults plus
    `Problem.sandbox_modules` (third-party ones linked in as packages). Worked out once per problem object."""
    cached: SandboxImports | None = problem.__dict__.get("_evolve_imports")
    if cached is not None:
        return cached
    import sys

    extra = tuple(m for m in problem.sandbox_modules if m not in DEFAULT_PRELOAD)
    packages = tuple(dict.fromkeys((*DEFAULT_PACKAGES, *(m.split(".")[0] for m in extra
                                                         if m.split(".")[0] not in sys.stdlib_module_names))))
    found = SandboxImports(packages=packages, preload=(*DEFAULT_PRELOAD, *extra))
    problem.__dict__["_evolve_imports"] = found
    return found


def run_split(problem: Problem, sandbox: Sandbox, code: str, split: str, limits: Limits) -> StageResult:
    """Run `code` on every instance of `split` and score it; never raises for a bad program."""
    start = time.monotonic()
    res = sandbox.run(_job(problem, code, split, limits))
    return score_result(problem, split, res, time.monotonic() - start)


def _job(problem: Problem, code: str, split: str, limits: Limits) -> Job:
    """The sandbox job for `code` on a split; everything but the code is built once per problem object."""
    cache: dict[tuple[str, Limits], Job] = problem.__dict__.setdefault("_evolve_jobs", {})
    template = cache.get((split, limits))
    if template is None:
        instances = instances_of(problem, split)
        interactive = None
        if problem.interactive is not None:  # the parent plays each instance: its inputs never reach the child
            interactive = Interactive(lambda i: problem.session(instances[i]), problem.interactive)
        template = cache[(split, limits)] = Job(
            code="", entry=problem.sandbox_entry,
            inputs=tuple(() if interactive else tuple(i.args) for i in instances),
            driver=problem.driver_source(), repeats=problem.harness.repeats, warmup=problem.harness.warmup,
            limits=limits_for(problem, limits, split), key=f"{problem.name}:{_token(problem)}:{split}",
            interactive=interactive)
    return dataclasses.replace(template, code=problem.sandbox_program(code, split))


def instances_of(problem: Problem, split: str) -> Sequence[Instance]:
    """`problem.instances(split)`, asked once per problem object (the contract makes it deterministic;
    a plugin that builds its instances on every call would otherwise pay for it on every evaluation)."""
    cache: dict[str, Sequence[Instance]] = problem.__dict__.setdefault("_evolve_instances", {})
    found = cache.get(split)
    if found is None:
        found = cache[split] = problem.instances(split)
    return found


def _token(problem: Problem) -> str:
    """A name for this problem object's inputs that no later object can reuse (unlike id())."""
    token = problem.__dict__.get("_evolve_inputs_token")
    if token is None:
        token = uuid.uuid4().hex
        problem.__dict__["_evolve_inputs_token"] = token
    return str(token)


class _StageCommon(TypedDict):
    """The fields of a StageResult that every outcome of one sandbox result shares."""

    split: str
    seconds: float
    stdout: str
    stderr: str
    isolation: dict[str, Any]
    feedback: NotRequired[str]


def score_result(problem: Problem, split: str, res: SandboxResult, seconds: float) -> StageResult:
    """Validate and score a sandbox result in the parent."""
    instances = instances_of(problem, split)
    common: _StageCommon = {"split": split, "seconds": seconds, "stdout": res.stdout, "stderr": res.stderr,
              "isolation": dict(res.isolation)}
    if res.status != "ok":
        idx = len(res.runs) - 1 if res.runs and res.runs[-1].status != "ok" else len(res.runs)
        failed = instances[idx].id if 0 <= idx < len(instances) else None
        return StageResult(status=res.status, error=res.error, failed_instance=failed, **common)
    metrics: list[dict[str, float]] = []
    timings: list[float] = []
    common["feedback"] = problem.evaluator_notes(instances, [r.output for r in res.runs], res.stdout, res.stderr)
    for inst, run in zip(instances, res.runs):
        try:
            problem.check_output(inst, run.output)
            metrics.append(problem.score(inst, run.output))
        except InvalidOutput as exc:
            return StageResult(status="invalid", error=f"instance {inst.id}: {exc}", failed_instance=inst.id,
                               **common)
        if problem.harness.timed:
            if not run.times_ms:
                return StageResult(status="invalid", error=f"instance {inst.id}: no call timings reported",
                                   failed_instance=inst.id, **common)
            timings.append(statistics.median(run.times_ms))
    if timings:
        claimed_ms = sum(sum(r.times_ms) for r in res.runs)
        seen_ms = res.wall_s * 1e3
        if claimed_ms > seen_ms * TIMING_SLACK + TIMING_SLACK_MS:
            return StageResult(status="invalid", error=f"the child claims {claimed_ms:.1f} ms of calls but the "
                               f"parent's clock saw {seen_ms:.1f} ms for the whole split", **common)
    try:
        agg = problem.aggregate(instances, metrics, timings or None)
    except InvalidOutput as exc:
        return StageResult(status="invalid", error=str(exc), **common)
    out: dict[str, Any] = {k: finite(v) for k, v in agg.items()}
    note = _feedback(problem, instances, metrics)
    if note:
        out[FEEDBACK_KEY] = note
    return StageResult(status="ok", metrics=out, **common)


#: the split metric holding the problem's `feedback` text (internal: reports skip `_` metrics)
FEEDBACK_KEY = "_feedback"
FEEDBACK_MAX_CHARS = 1500


def _feedback(problem: Problem, instances: Sequence[Any], metrics: Sequence[Mapping[str, float]]) -> str | None:
    """The problem's optional feedback text; a hook that fails costs the prompt a hint, never the score."""
    hook = getattr(problem, "feedback", None)
    if hook is None:
        return None
    try:
        text = hook(instances[: len(metrics)], metrics)
    except Exception as exc:  # trusted code, but a bug in a hint must not fail the evaluation
        return f"(the problem's feedback hook failed: {exc.__class__.__name__}: {exc})"[:FEEDBACK_MAX_CHARS]
    return str(text)[:FEEDBACK_MAX_CHARS] if text else None


def evaluate(problem: Problem, sandbox: Sandbox, code: str, splits: Sequence[str], limits: Limits,
             proceed: Callable[[StageResult], bool] | None = None) -> Outcome:
    """Run the evaluation cascade over `splits` in one sandboxed process; stop at the first failure or
    when `proceed` says so.

    Each split is scored here, between stages, while the candidate's process waits for the go-ahead. The
    program's score is the score of the last split evaluated successfully (normally `train`).
    """
    stages: list[StageResult] = []

    def scored(index: int, res: SandboxResult) -> StageResult:
        if index == len(stages):  # a stage is scored once: when its result comes in, or at the end
            stages.append(score_result(problem, splits[index], res, res.wall_s))
        return stages[index]

    def gate(index: int, res: SandboxResult) -> bool:
        stage = scored(index, res)
        return stage.status == "ok" and (proceed is None or proceed(stage))

    # not waiting for the candidate's exit: it overlaps with the scoring here and the next job's dispatch
    results = sandbox.run_stages([_job(problem, code, split, limits) for split in splits], gate, wait_exit=False)
    for index, res in enumerate(results):
        scored(index, res)
    isolation: dict[str, Any] = next((s.isolation for s in stages if s.isolation), {})
    last = stages[-1]
    if last.status != "ok":
        return Outcome(last.status, None, {}, tuple(stages), last.error, isolation)
    return Outcome("ok", last.metrics.get("score"), dict(last.metrics), tuple(stages), None, isolation)
