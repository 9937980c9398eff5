"""Turns a resolved configuration into a run: archive, problem, mutator, workers, loop, summary."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from rich.console import Console

from evaluators.dispatch import EvaluatorLost, EvaluatorUnavailable, make_executor
from evaluators.sandbox import Limits
from evolve.archive import Archive
from evolve.archive.store import DB_NAME, sqlite_url
from evolve.config import check_limits, validate, worker_count
from evolve.errors import ArchiveError, ConfigError, EvolveError, ProblemError
from evolve.evaluation import evaluate, sandbox_imports
from evolve.llm.factory import make_mutator
from evolve.loop import EVALUATOR_LOST, Evolution
from evolve.plugins import load_problem, source_path
from evolve.problem import Problem
from evolve.progress import ProgressLine
from evolve.summary import build_summary, print_final, write_summary
from evolve.testing.contract import fast_check
from evolve.worker import ProblemSpec, isolation_from, share_problem, start_local_workers

log = logging.getLogger(__name__)


def limits_from(cfg: Any) -> Limits:
    e = cfg.evaluator
    check_limits(e)  # `evolve eval` comes here without `validate`
    return Limits(split_wall_s=e.split_wall_s, instance_wall_s=e.instance_wall_s, cpu_s=e.cpu_s,
                  memory_mb=e.memory_mb, fsize_mb=e.fsize_mb, nofile=e.nofile, nproc=e.nproc,
                  max_output_mb=e.max_output_mb, disk_mb=e.disk_mb)


def summary_metrics(problem: Problem) -> tuple[str, ...]:
    return tuple(getattr(problem, "summary_metrics", ()) or ("score",))


def _open_archive(cfg: Any, run_dir: Path) -> Archive:
    url = cfg.archive.url or sqlite_url(run_dir / DB_NAME)
    return Archive(url)


def run(cfg: Any, run_dir: Path, console: Console | None = None, started: Any | None = None) -> dict[str, Any]:
    """Run (or resume) evolution as configured; returns the summary.

    `started`: the local evaluator's executor from `start_local_workers(cfg)`, its zygotes already
    starting (the CLI starts them before importing this module); started here otherwise.
    """
    console = console or Console()
    try:
        return _run(cfg, run_dir, console, started)
    finally:
        if started is not None:
            started.shutdown(wait=False)  # a no-op once the loop took it over and shut it down itself


def _run(cfg: Any, run_dir: Path, console: Console, started: Any | None) -> dict[str, Any]:
    validate(cfg)
    folder = source_path(cfg.problem)
    problem = load_problem(cfg.problem.name, folder, OmegaConf.to_container(cfg.problem.options))
    broken = fast_check(problem)
    if broken:
        raise ProblemError(f"problem {problem.name!r} breaks the plugin contract; nothing was run:\n  "
                           + "\n  ".join(broken)
                           + f"\n`evolve check-problem {folder or cfg.problem.name}` runs the full checks")
    spec = ProblemSpec(cfg.problem.name, folder,
                       dict(OmegaConf.to_container(cfg.problem.options)))  # type: ignore[arg-type]
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    workers = worker_count(cfg)
    kind = str(cfg.evaluator.name)
    if started is None:
        started = start_local_workers(cfg)
    early = [started] if started is not None else []
    share_problem(spec, problem)  # local worker threads use the problem loaded here
    archive = _open_archive(cfg, run_dir)
    if cfg.resume:
        run_rec = _find_resumable(archive, run_dir, problem.name, str(cfg.resume))
        run_id = run_rec.id
        archive.update_run(run_id, status="running", heartbeat_at=_now(), finished_at=None)
        console.print(f"resuming run {run_id} ({run_rec.evaluations} evaluations so far)")
    else:
        run_id = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        archive.create_run(run_id, problem.name, resolved, int(cfg.seed), str(run_dir))  # type: ignore[arg-type]
    mutator = make_mutator(cfg, archive, run_id)
    preflight = getattr(mutator, "preflight", None)
    if preflight is not None:
        asyncio.run(preflight())  # a missing key or dead endpoint is one clear error, before any work
    archive.update_run(run_id, meta={
        **archive.get_run(run_id).meta,
        "reference_score": {s: problem.reference_score(s) for s in ("quick", "train", "holdout")},
        "summary_metrics": list(summary_metrics(problem)), "workers": workers, "has_holdout": problem.has_holdout,
        "metric_notes": problem.describe_metrics()})
    try:
        def executor_factory() -> Any:
            return early.pop() if early else make_executor(kind, workers, cfg.evaluator.address)

        evo = Evolution(cfg=cfg, problem=problem, spec=spec, archive=archive, run_id=run_id, mutator=mutator,
                        executor_factory=executor_factory,
                        workers=workers, limits=limits_from(cfg), isolation=isolation_from(cfg),
                        seed=int(cfg.seed))
    except (EvaluatorLost, EvaluatorUnavailable) as exc:  # no cluster at that address, or no extra
        archive.update_run(run_id, status="interrupted" if cfg.resume else "failed",
                           stop_reason=f"evaluator: {exc}", finished_at=_now())
        raise EvolveError(f"evaluator={cfg.evaluator.name}: {exc}") from exc
    interrupted = lost = False
    try:
        if cfg.resume:
            evo.restore()
        if evo.pop.seed_id is None:  # a new run, or one killed before its seed was scored
            seed = evo.seed_population(problem.initial_program)
            console.print(f"seed program #{seed.id}: score {seed.score:.4g} on train; "
                          f"evolving with {workers} worker(s), llm={cfg.llm.name}, search={cfg.search.name}")
        with ProgressLine(cfg.search.iterations, quiet=cfg.quiet) as line, _start_up_frozen():
            evo.on_progress = line
            reason = asyncio.run(_run_with_signals(evo))
        interrupted, lost = reason == "interrupted", reason == EVALUATOR_LOST
        archive.update_run(run_id, stop_reason=reason, evaluations=evo.progress.evaluations)
        archive.add_event(run_id, "stop", reason, {"evaluations": evo.progress.evaluations})
        if not lost:  # hold-out and baselines need workers; a resumed run scores them when it ends
            evo.finish()
        status = "interrupted" if interrupted or lost else "finished"
        archive.update_run(run_id, status=status, finished_at=_now())
    except KeyboardInterrupt:
        archive.update_run(run_id, status="interrupted", stop_reason="interrupted", finished_at=_now())
        console.print(f"[yellow]interrupted[/]: the archive in {run_dir} is consistent; "
                      f"continue with `evolve run resume={run_dir}`", soft_wrap=True)
        raise
    except BaseException:
        archive.update_run(run_id, status="failed", finished_at=_now())
        raise
    finally:
        evo.close()
    summary = build_summary(archive, run_id, str(run_dir))
    write_summary(summary, run_dir)
    print_final(summary, summary_metrics(problem), console)
    if interrupted:
        console.print(f"[yellow]interrupted[/] after {summary['evaluations']} evaluations: the archive is "
                      f"consistent; continue with `evolve run resume={run_dir}`", soft_wrap=True)
    if lost:
        again = f"resume={run_id} archive.url=…" if cfg.archive.url else f"resume={run_dir}"
        console.print(f"[yellow]{EVALUATOR_LOST}[/] after {summary['evaluations']} evaluations: the cluster "
                      f"is gone, the archive is consistent; when it is back, continue with `evolve run {again}`",
                      soft_wrap=True)
    archive.close()
    return summary


@contextlib.contextmanager
def _start_up_frozen() -> Iterator[None]:
    """The loop's collections skip what start-up made: its modules, config, archive and problem.

    The CLI keeps the garbage collector off from its start to here (`evolve.cli._run_main`): the
    imports and the set-up then do not run full collections (two of about 50 ms each), and freezing
    moves all they made out of the collector's sight for the run (the 70 ms full collection at the
    end of a 1500-iteration run was mostly spent walking them). This is the pattern the `gc.freeze`
    documentation gives for pre-fork servers; the few cycles start-up left as garbage stay until exit.
    """
    gc.freeze()
    gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()


async def _run_with_signals(evo: Evolution) -> str:
    loop = asyncio.get_running_loop()
    presses = {"n": 0}

    def on_sigint() -> None:
        presses["n"] += 1
        if presses["n"] > 1:
            raise KeyboardInterrupt
        evo.stop("interrupted")

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        loop.add_signal_handler(signal.SIGTERM, on_sigint)
    except (NotImplementedError, RuntimeError):  # not the main thread (e.g. tests)
        pass
    try:
        return await evo.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
        await evo.mutator.aclose()  # its HTTP sessions belong to this loop: closed here or never


def _find_resumable(archive: Archive, run_dir: Path, problem: str, resume: str = "") -> Any:
    """The run to resume: by run id (a database shared by many runs), else the one of this run directory."""
    listed = archive.list_runs()
    if resume and not Path(resume).is_dir():
        runs = [r for r in listed if r.id == resume]
        if not runs:
            raise ArchiveError(f"resume={resume}: no run with that id in {archive.url.split('@')[-1]}; "
                               "`evolve runs` or `evolve archive top URL` show the run ids")
    else:
        runs = [r for r in listed if r.run_dir in (None, str(run_dir)) or len(listed) == 1]
    if not runs:
        raise ArchiveError(f"resume={run_dir}: no run recorded in {archive.url}")
    run = runs[-1]
    if run.problem != problem:
        raise ConfigError(f"resume={run_dir}: that run evolves {run.problem!r}, not {problem!r}; "
                          f"pass problem={run.problem}")
    return run


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def eval_file(cfg: Any) -> dict[str, Any]:
    """`evolve eval FILE`: score one program file on one split through the same sandbox and scorer."""
    from evaluators.dispatch import claim_slot
    from evaluators.sandbox import Sandbox

    path = Path(cfg.file)
    if not cfg.file:
        raise ConfigError("evolve eval needs a program file: evolve eval FILE [problem=…] [split=…]")
    if not path.is_file():
        raise ConfigError(f"{cfg.file}: no such program file")
    if cfg.split not in ("quick", "train", "holdout"):
        raise ConfigError(f"split={cfg.split}: use quick, train or holdout")
    problem = load_problem(cfg.problem.name, source_path(cfg.problem), OmegaConf.to_container(cfg.problem.options))
    if cfg.split == "holdout" and not problem.has_holdout:
        raise ConfigError(f"split=holdout: problem {problem.name!r} has no hold-out split (an OpenEvolve folder gets "
                          "one from problem.options.holdout=FUNCTION or holdout_file=FILE)")
    code = path.read_text(encoding="utf-8")
    with Sandbox(slot=claim_slot(), isolation=isolation_from(cfg), disk_mb=cfg.evaluator.disk_mb,
                 **sandbox_imports(problem)) as sandbox:
        out = evaluate(problem, sandbox, code, (cfg.split,), limits_from(cfg))
    stage = out.stages[-1] if out.stages else None
    return {"status": out.status, "metrics": dict(stage.metrics) if stage else {}, "error": out.error,
            "split": cfg.split, "problem": problem.name, "file": str(path),
            "failed_instance": stage.failed_instance if stage else None,
            "feedback": stage.feedback if stage else ""}


__all__ = ["EvolveError", "eval_file", "run"]
