"""Turns a resolved configuration into a run: archive, problem, mutator, workers, loop, summary."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import secrets
import shutil
import signal
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from rich.console import Console

from evaluators.dispatch import EvaluatorLost, EvaluatorUnavailable, make_executor
from evaluators.sandbox import Limits
from evolve.archive import Archive, RunRecord
from evolve.archive.lease import Lease
from evolve.archive.store import DB_NAME, sqlite_url
from evolve.config import check_limits, plain, validate, worker_count
from evolve.errors import ConfigError, EvolveError, ProblemError
from evolve.evaluation import evaluate, sandbox_imports
from evolve.loop import EVALUATOR_LOST, LEASE_LOST, Evolution, preflight
from evolve.mutators.registry import make_mutator
from evolve.plugins import load_problem, source_path
from evolve.problem import SPLITS, Problem
from evolve.progress import ProgressLine
from evolve.resume import BUDGETS, Resumed, find_run, resume_config, updated_config
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


def run(cfg: Any, run_dir: Path, console: Console | None = None, started: Any | None = None,
        overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Run (or resume) evolution as configured; returns the summary.

    `started`: the local evaluator's executor from `start_local_workers(cfg)`, its zygotes already
    starting (the CLI starts them before importing this module); started here otherwise.
    `overrides`: the command's overrides (default: Hydra's record of them); a resumed run takes its
    stored configuration and changes only the keys these name.
    """
    console = console or Console()
    if overrides is None:
        overrides = _command_overrides()
    try:
        return _run(cfg, run_dir, console, started, overrides)
    finally:
        if started is not None:
            started.shutdown(wait=False)  # a no-op once the loop took it over and shut it down itself


def _command_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:  # not under @hydra.main (a test's compose): nothing was named
        return []


def _run(cfg: Any, run_dir: Path, console: Console, started: Any | None, overrides: Sequence[str]) \
        -> dict[str, Any]:
    problem: Problem | None = None
    resumed: Resumed | None = None
    if cfg.resume:
        if started is not None:  # its workers were started for the command's defaults, not the run's config
            started.shutdown(wait=False)
            started = None
        try:
            archive, run_rec, resumed = _open_resumed(cfg, run_dir, overrides)
        except BaseException:
            _discard_unused(run_dir)  # `resume=` named a folder that holds no run: Hydra's files go again
            raise
        cfg = resumed.cfg
        run_id = run_rec.id
        if run_rec.status == "finished" and not resumed.raised:
            return _nothing_to_do(archive, run_rec, run_dir, console)
        lease = _take_lease(archive, run_id, console)
        _say_what_resume_changes(resumed, console)
    else:
        problem, archive, run_id = _create_run(cfg, run_dir)
        lease = Lease(archive, run_id)
        lease.acquire()
    try:
        if resumed is not None:
            _record_resumed_config(cfg, run_dir, archive, run_rec, resumed)
        return _run_owned(cfg, run_dir, console, started, archive, run_id, lease, problem)
    except BaseException as exc:
        if lease.lost is None:
            _mark_stopped(archive, run_id, exc)
        raise
    finally:
        lease.release()
        archive.close()


def _create_run(cfg: Any, run_dir: Path) -> tuple[Problem, Archive, str]:
    """A new run: its configuration checked, its problem loaded, its row and config.yaml written."""
    try:
        validate(cfg)
        problem = _load_checked_problem(cfg)
    except BaseException:
        _discard_unused(run_dir)  # no run was made: leave no folder behind
        raise
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        archive = _open_archive(cfg, run_dir)
    except BaseException:
        _discard_unused(run_dir)  # no database, no run: no folder either
        raise
    run_id = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    try:
        archive.create_run(run_id, problem.name, plain(cfg, resolve=True), int(cfg.seed), str(run_dir))
    except BaseException:
        archive.close()
        raise
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return problem, archive, run_id


def _take_lease(archive: Archive, run_id: str, console: Console) -> Lease:
    """The resumed run's lease, taken over (and said so) when a previous owner stopped renewing it."""
    lease = Lease(archive, run_id)
    try:
        taken = lease.acquire()
    except BaseException:
        archive.close()
        raise
    if taken is not None:
        log.info("run %s: lease taken over from %s", run_id, taken.describe())
        console.print(f"[yellow]taking the run over[/] from its previous owner ({taken.describe()})",
                      soft_wrap=True, highlight=False)
    return lease


def _say_what_resume_changes(resumed: Resumed, console: Console) -> None:
    for line in resumed.describe():
        log.info("resume: %s", line)
    if resumed.changes or resumed.dropped:
        console.print("resuming with the stored configuration, except: " + "; ".join(resumed.describe()),
                      soft_wrap=True, highlight=False, markup=False)


def _record_resumed_config(cfg: Any, run_dir: Path, archive: Archive, run_rec: RunRecord,
                           resumed: Resumed) -> None:
    """The configuration a resumed run goes on with, in its row, its events and its folder's config.yaml."""
    if resumed.changes:  # the run goes on with what it now runs with, and says so
        config = updated_config(run_rec.config, plain(cfg, resolve=True))
        config["resume"] = run_rec.config.get("resume")
        archive.update_run(run_rec.id, config=config)
        archive.add_event(run_rec.id, "config", "; ".join(resumed.describe()),
                          {"changes": [list(c) for c in resumed.changes]})
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
    elif not (run_dir / "config.yaml").exists():  # a run id resumed in a new folder on this machine
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(run_rec.config))


def _open_resumed(cfg: Any, run_dir: Path, overrides: Sequence[str]) -> tuple[Archive, Any, Resumed]:
    """The archive and run that `resume=` names, and the configuration to continue it with."""
    if cfg.archive.url:
        archive = Archive(cfg.archive.url)
    else:
        archive = Archive.for_run_dir(Path(str(cfg.resume)) if Path(str(cfg.resume)).is_dir() else run_dir)
    try:
        archive.check_integrity()  # a damaged file is refused before anything is written to it
        run_rec = find_run(archive, run_dir, str(cfg.resume))
        resumed = resume_config(cfg, run_rec.config, overrides)
        validate(resumed.cfg)
    except BaseException:
        archive.close()
        raise
    return archive, run_rec, resumed


def _nothing_to_do(archive: Archive, run_rec: Any, run_dir: Path, console: Console) -> dict[str, Any]:
    try:
        summary = build_summary(archive, run_rec.id, str(run_dir))
    finally:
        archive.close()
    budgets = ", ".join(BUDGETS)
    message = (f"run {run_rec.id} is finished ({run_rec.stop_reason or 'done'}, {run_rec.evaluations} evaluations): "
               f"nothing to do; to continue it, raise one of its budgets on the command ({budgets}), "
               f"e.g. search.iterations={max(2 * run_rec.evaluations, run_rec.evaluations + 1)}")
    log.info(message)
    console.print(message, soft_wrap=True, highlight=False, markup=False)
    return summary


def _run_owned(cfg: Any, run_dir: Path, console: Console, started: Any | None, archive: Archive, run_id: str,
               lease: Lease, problem: Problem | None) -> dict[str, Any]:
    """The run, once this process owns it: start-up, the loop, the end."""
    if problem is None:  # a resumed run: its own problem, from its stored configuration
        problem = _load_checked_problem(cfg)
    if cfg.resume:
        run_rec = archive.get_run(run_id)
        archive.update_run(run_id, status="running", stop_reason=None, heartbeat_at=_now(), finished_at=None)
        console.print(f"resuming run {run_id} ({run_rec.evaluations} evaluations so far)")
    log.info("run %s %s in %s: problem=%s llm=%s search=%s evaluator=%s seed=%s", run_id,
             "resumed" if cfg.resume else "started", run_dir, problem.name, cfg.llm.name, cfg.search.name,
             cfg.evaluator.name, cfg.seed)
    workers = worker_count(cfg)
    if started is None:
        started = start_local_workers(cfg)
    spec = _shared_problem(cfg, archive, run_id, problem)
    mutator = _ready_mutator(cfg, archive, run_id)
    _record_meta(archive, run_id, problem, workers)
    try:
        evo = Evolution(cfg=cfg, problem=problem, spec=spec, archive=archive, run_id=run_id, mutator=mutator,
                        executor_factory=_executor_factory(cfg, started, workers),
                        workers=workers, limits=limits_from(cfg), isolation=isolation_from(cfg),
                        seed=int(cfg.seed))
    except (EvaluatorLost, EvaluatorUnavailable) as exc:  # no cluster at that address, or no extra
        raise EvolveError(f"evaluator={cfg.evaluator.name}: {exc}") from exc
    lease.keep(lambda reason: evo.stop(LEASE_LOST))
    reason = _evolve(cfg, run_dir, console, archive, run_id, lease, problem, evo, workers)
    summary = build_summary(archive, run_id, str(run_dir))
    write_summary(summary, run_dir)
    print_final(summary, summary_metrics(problem), console)
    _say_how_to_continue(cfg, run_dir, console, run_id, reason, summary)
    return summary


def _shared_problem(cfg: Any, archive: Archive, run_id: str, problem: Problem) -> ProblemSpec:
    """The problem as workers load it, with the run's hold-out secret; local worker threads share `problem`."""
    spec = ProblemSpec(cfg.problem.name, source_path(cfg.problem), plain(cfg.problem.options),
                       holdout_secret=run_holdout_secret(archive, run_id))
    problem.set_holdout_secret(spec.holdout_secret)
    share_problem(spec, problem)  # local worker threads use the problem loaded here
    return spec


def _ready_mutator(cfg: Any, archive: Archive, run_id: str) -> Any:
    """The run's mutator, its endpoints checked: a missing key or dead endpoint is one clear error, before any work."""
    mutator = make_mutator(cfg, archive, run_id)
    asyncio.run(preflight(mutator, archive, run_id))
    return mutator


def _record_meta(archive: Archive, run_id: str, problem: Problem, workers: int) -> None:
    """What the summary and the report need to know of the problem and the run's set-up, in the run's row."""
    archive.update_run(run_id, meta={
        **archive.get_run(run_id).meta,
        "reference_score": {s: problem.reference_score(s) for s in SPLITS},
        "summary_metrics": list(summary_metrics(problem)), "workers": workers, "has_holdout": problem.has_holdout,
        "metric_notes": problem.describe_metrics()})


def _executor_factory(cfg: Any, started: Any | None, workers: int) -> Callable[[], Any]:
    """Executors for the loop: first the local one already started, then new ones of the configured kind."""
    early = [started] if started is not None else []
    kind = str(cfg.evaluator.name)

    def executor_factory() -> Any:
        return early.pop() if early else make_executor(kind, workers, cfg.evaluator.address)

    return executor_factory


def _evolve(cfg: Any, run_dir: Path, console: Console, archive: Archive, run_id: str, lease: Lease,
            problem: Problem, evo: Evolution, workers: int) -> str:
    """The loop from the seed (or the restored state) to its stop; records how it stopped and returns why."""
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
        if lease.lost is not None:  # another process owns the run now: it writes the rest
            raise EvolveError(f"{lease.lost}; this process stopped after {evo.progress.evaluations} evaluations")
        interrupted, lost = reason == "interrupted", reason == EVALUATOR_LOST
        archive.update_run(run_id, stop_reason=reason, evaluations=evo.progress.evaluations)
        archive.add_event(run_id, "stop", reason, {"evaluations": evo.progress.evaluations})
        log.info("run %s stopped (%s) after %d evaluations", run_id, reason, evo.progress.evaluations)
        if not lost:  # hold-out and baselines need workers; a resumed run scores them when it ends
            evo.finish()
        status = "interrupted" if interrupted or lost else "finished"
        archive.update_run(run_id, status=status, finished_at=_now())
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: the archive in {run_dir} is consistent; "
                      f"continue with `evolve run resume={run_dir}`", soft_wrap=True)
        raise
    finally:
        evo.close()
    return reason


def _say_how_to_continue(cfg: Any, run_dir: Path, console: Console, run_id: str, reason: str,
                         summary: dict[str, Any]) -> None:
    """After a run that stopped before its budget (interrupted, or its cluster gone): the command to go on."""
    if reason == "interrupted":
        console.print(f"[yellow]interrupted[/] after {summary['evaluations']} evaluations: the archive is "
                      f"consistent; continue with `evolve run resume={run_dir}`", soft_wrap=True)
    if reason == EVALUATOR_LOST:
        again = f"resume={run_id} archive.url=…" if cfg.archive.url else f"resume={run_dir}"
        console.print(f"[yellow]{EVALUATOR_LOST}[/] after {summary['evaluations']} evaluations: the cluster "
                      f"is gone, the archive is consistent; when it is back, continue with `evolve run {again}`",
                      soft_wrap=True)


def _load_checked_problem(cfg: Any) -> Problem:
    folder = source_path(cfg.problem)
    problem = load_problem(cfg.problem.name, folder, plain(cfg.problem.options))
    broken = fast_check(problem)
    if broken:
        raise ProblemError(f"problem {problem.name!r} breaks the plugin contract; nothing was run:\n  "
                           + "\n  ".join(broken)
                           + f"\n`evolve check-problem {folder or cfg.problem.name}` runs the full checks")
    return problem


def _mark_stopped(archive: Archive, run_id: str, exc: BaseException) -> None:
    """Record why a run stopped abnormally, so that no run stays `running` with nobody running it."""
    if isinstance(exc, KeyboardInterrupt):
        status, reason = "interrupted", "interrupted"
    else:
        status = "failed"
        reason = str(exc).splitlines()[0] if isinstance(exc, EvolveError) and str(exc) else \
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        if not isinstance(exc, EvolveError):  # a bug: its traceback goes to the terminal and to evolve.log
            logging.getLogger("evolve.exit").exception("run %s failed", run_id)
    try:
        archive.update_run(run_id, status=status, stop_reason=reason[:200], finished_at=_now())
        archive.add_event(run_id, "stop", reason, {"status": status})
    except Exception as db_exc:  # the archive itself is what failed (disk full, server gone)
        logging.getLogger("evolve.exit").error("could not record the stop of run %s: %s", run_id, db_exc)


def _discard_unused(run_dir: Path) -> None:
    """Remove a run folder that holds nothing but what Hydra wrote for a start that made no run."""
    try:
        entries = {p.name for p in run_dir.iterdir()}
    except OSError:
        return
    if entries <= {".hydra", "evolve.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)
        if run_dir.parent.parent.name == "runs":  # runs/<problem>/<time>: the problem's folder, if now empty
            with contextlib.suppress(OSError):
                run_dir.parent.rmdir()


def _open_archive(cfg: Any, run_dir: Path) -> Archive:
    url = cfg.archive.url or sqlite_url(run_dir / DB_NAME)
    return Archive(url)


@contextlib.contextmanager
def _start_up_frozen() -> Iterator[None]:
    """The loop's collections skip what start-up made: its modules, config, archive and problem.

    The CLI keeps the garbage collector off from its start to here (`evolve.cli._run_main`): the
    imports and the set-up then do not run full collections (two of about 50 ms each), and freezing
    moves all they made out of the collector's sight for the run (otherwise they are most of what the
    70 ms full collection at the end of a 1500-iteration run walks). This is the pattern the `gc.freeze`
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


def run_holdout_secret(archive: Archive, run_id: str) -> str:
    """The run's hold-out secret: made when the run starts, kept in its row (`runs.meta`) so that a
    resumed run scores the same hold-out; never shown in a prompt, never sent to a sandbox."""
    meta = archive.get_run(run_id).meta
    secret = meta.get("holdout_secret")
    if not isinstance(secret, str) or not secret:
        secret = secrets.token_hex(16)
        archive.update_run(run_id, meta={**meta, "holdout_secret": secret})
    return secret


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
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split}: use {', '.join(SPLITS[:-1])} or {SPLITS[-1]}")
    problem = load_problem(cfg.problem.name, source_path(cfg.problem), plain(cfg.problem.options))
    if cfg.split == "holdout" and not problem.has_holdout:
        raise ConfigError(f"split=holdout: problem {problem.name!r} has no hold-out split (an OpenEvolve folder gets "
                          "one from problem.options.holdout=FUNCTION or holdout_file=FILE)")
    code = path.read_text(encoding="utf-8")
    result = {"split": cfg.split, "problem": problem.name, "file": str(path), "failed_instance": None}
    try:
        # compiling runs none of the program; it finds a syntax error with the user's own file name in it
        compile(code, str(path), "exec")
    except (SyntaxError, ValueError) as exc:
        return {**result, "status": "parse_error", "metrics": {},
                "error": "".join(traceback.format_exception_only(exc)).rstrip()}
    with Sandbox(slot=claim_slot(), isolation=isolation_from(cfg), disk_mb=cfg.evaluator.disk_mb,
                 **sandbox_imports(problem)) as sandbox:
        out = evaluate(problem, sandbox, code, (cfg.split,), limits_from(cfg))
    stage = out.stages[-1] if out.stages else None
    # the sandbox runs the code under the name candidate.py: a traceback should point at the user's file
    error = out.error.replace('File "candidate.py"', f'File "{path}"') if out.error else out.error
    return {**result, "status": out.status, "metrics": dict(stage.metrics) if stage else {}, "error": error,
            "failed_instance": stage.failed_instance if stage else None,
            "feedback": stage.feedback if stage else ""}


__all__ = ["EvolveError", "eval_file", "run"]
