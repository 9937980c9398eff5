"""Scale-out end to end: `evolve run` on Dask and Ray clusters, worker and scheduler loss, one PostgreSQL
archive shared by concurrent runs. Every run's archive must keep its invariants: each evaluation index
once, no job stored twice, nothing left pending when the run finished.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from evaluators.dispatch import EvaluatorLost, EvaluatorUnavailable, make_executor
from evolve.archive import Archive
from evolve.archive.store import DB_NAME

ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
FAST = ["search.max_seconds=0", "search.holdout_top_k=1", "seed=5", "search.migration_interval=10"]

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'evolve[dask]')")


# -- helpers ---------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_run(run_dir: Path, args: list[str]) -> subprocess.Popen[str]:
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "evolve.cli", "run", *FAST, *args, f"hydra.run.dir={run_dir}"],
                            cwd=run_dir.parent, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 400) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out + err


def _evaluations(archive_url: str, run_id: str | None = None) -> int:
    if archive_url.startswith("sqlite:///") and not Path(archive_url.removeprefix("sqlite:///")).is_file():
        return -1  # not created yet (opening it would create an empty file)
    try:
        a = Archive(archive_url, create=False, upgrade=False)
        try:
            return a.get_run(run_id).evaluations
        finally:
            a.close()
    except Exception:
        return -1


def _wait_for(pred: Any, proc: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early ({proc.returncode}):\n{_finish(proc)[1][-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.1)


def assert_invariants(archive: Archive, run_id: str, evaluations: int) -> None:
    """Each evaluation index once, no job twice, no program pending, the run finished with the counter."""
    run = archive.get_run(run_id)
    programs = archive.programs(run_id)
    candidates = [p for p in programs if p.role == "candidate"]
    assert run.status == "finished", (run.status, run.stop_reason)
    assert run.evaluations == evaluations
    assert sorted(p.eval_index for p in candidates if p.eval_index is not None) == list(range(1, evaluations + 1))
    assert len({p.job_id for p in programs}) == len(programs)  # no job stored twice
    assert not [p.id for p in programs if p.status in ("pending", "running")]
    evaluated = [p for p in candidates if p.status not in ("duplicate", "parse_error", "llm_error")]
    assert len({p.code_hash for p in evaluated}) == len(evaluated)  # no program evaluated twice


def _only_run_dir_archive(run_dir: Path) -> tuple[Archive, str]:
    archive = Archive.for_run_dir(run_dir)
    return archive, archive.get_run().id


@contextmanager
def dask_cli_cluster(tmp_path: Path, workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A scheduler and `workers` worker processes started with the dask command line, as on real machines."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    log = open(tmp_path / f"dask-{uuid.uuid4().hex[:6]}.log", "wb")
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                              "--port", address.rsplit(":", 1)[1], "--no-dashboard"], stdout=log, stderr=log,
                             env=ENV, start_new_session=True)
    work = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers",
                             str(workers), "--nthreads", "1", "--no-dashboard", "--death-timeout", "30"],
                            stdout=log, stderr=log, env=ENV, start_new_session=True)
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, sched
    finally:
        for proc in (work, sched):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        log.close()


# -- the dispatch layer ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_dask_executor_returns_results_and_task_errors_as_plain_futures(tmp_path: Path) -> None:
    ex = make_executor("dask", 2)
    try:
        futs = [ex.submit(os.getpid) for _ in range(6)]
        assert all(isinstance(f, cf.Future) for f in futs)
        pids = {f.result(timeout=120) for f in futs}
        assert os.getpid() not in pids  # ran in the worker processes
        with pytest.raises(ValueError, match="boom"):  # builtins: the workers need not import this file
            ex.submit(int, "boom").result(timeout=60)
    finally:
        ex.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        ex.submit(os.getpid)


@pytest.mark.slow
def test_a_lost_dask_scheduler_fails_work_in_flight_and_new_work_with_evaluator_lost(tmp_path: Path) -> None:
    with dask_cli_cluster(tmp_path, workers=1) as (address, sched):
        ex = make_executor("dask", 1, address)
        try:
            assert ex.submit(os.getpid).result(timeout=60) != os.getpid()
            in_flight = ex.submit(time.sleep, 30)
            time.sleep(1.0)
            os.killpg(sched.pid, signal.SIGKILL)
            with pytest.raises(EvaluatorLost):
                in_flight.result(timeout=30)
            with pytest.raises(EvaluatorLost):
                ex.submit(os.getpid).result(timeout=30)
        finally:
            ex.shutdown(wait=False, cancel_futures=True)


def test_an_unreachable_scheduler_is_evaluator_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluators import dispatch

    monkeypatch.setattr(dispatch, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(EvaluatorLost, match="cannot reach the Dask scheduler"):
        make_executor("dask", 1, f"tcp://127.0.0.1:{_free_port()}")


@pytest.mark.slow
def test_a_killed_loky_worker_breaks_the_pool_and_shutdown_takes_cancel_futures() -> None:
    ex = make_executor("loky", 1)
    try:
        pid = ex.submit(os.getpid).result(timeout=60)
        running = ex.submit(time.sleep, 30)
        queued = ex.submit(time.sleep, 30)
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(cf.BrokenExecutor):  # the loop renews the executor on exactly this
            running.result(timeout=60)
        with pytest.raises(cf.BrokenExecutor):
            queued.result(timeout=60)
    finally:
        ex.shutdown(wait=False, cancel_futures=True)


@pytest.mark.parametrize(("kind", "module"), [("dask", "distributed"), ("ray", "ray")])
def test_a_missing_extra_is_evaluator_unavailable_naming_the_pip_command(
        kind: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(EvaluatorUnavailable, match=rf"pip install 'evolve\[{kind}\]'"):
        make_executor(kind, 1)


# -- Dask end to end -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dask_run_on_a_local_cluster_of_two_workers_keeps_the_archive_invariants(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "dask"
    code, log = _finish(_start_run(run_dir, ["evaluator=dask", "evaluator.workers=2", "search.iterations=16"]))
    assert code == 0, log[-3000:]
    archive, run_id = _only_run_dir_archive(run_dir)
    assert archive.get_run(run_id).config["evaluator"]["name"] == "dask"
    assert_invariants(archive, run_id, 16)
    assert {p.name for p in archive.programs(run_id, roles=("baseline",))} >= {"edd", "spt", "mdd"}


OPENEVOLVE = Path(__file__).resolve().parents[1] / "evolve" / "openevolve" / "problems"


@pytest.mark.slow
def test_an_openevolve_folder_runs_on_dask_workers_started_from_the_command_line(tmp_path: Path) -> None:
    """The OpenEvolve evaluator runs in the sandbox on separate `dask worker` processes; its metrics and its
    artifacts come back through the result channel and reach the archive."""
    run_dir = tmp_path / "runs" / "oe-dask"
    with dask_cli_cluster(tmp_path) as (address, _):
        code, log = _finish(_start_run(run_dir, [f"problem.openevolve={OPENEVOLVE / 'artifacts'}", "evaluator=dask",
                                                 f"evaluator.address={address}", "search.iterations=12"]))
    assert code == 0, log[-3000:]
    archive, run_id = _only_run_dir_archive(run_dir)
    run = archive.get_run(run_id)
    assert run.problem == "artifacts" and run.config["evaluator"]["name"] == "dask"
    assert_invariants(archive, run_id, 12)
    seed = archive.program(next(iter(archive.programs(run_id, roles=("seed",)))).id)
    assert seed.status == "ok" and seed.metrics["guess"] == 10.0
    assert "the guess 10 is too low" in (seed.stages[-1].feedback or "")
    assert "no hold-out" in log


@pytest.mark.slow
def test_an_openevolve_folder_runs_on_ray_with_its_named_holdout(tmp_path: Path) -> None:
    _ray_or_skip()
    run_dir = tmp_path / "runs" / "oe-ray"
    code, log = _finish(_start_run(run_dir, [f"problem.openevolve={OPENEVOLVE / 'minimize'}",
                                             "+problem.options.holdout=evaluate_holdout", "evaluator=ray",
                                             "evaluator.workers=2", "search.iterations=12"]))
    assert code == 0, log[-3000:]
    archive, run_id = _only_run_dir_archive(run_dir)
    run = archive.get_run(run_id)
    assert run.problem == "minimize" and run.config["evaluator"]["name"] == "ray"
    assert_invariants(archive, run_id, 12)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["has_holdout"] and "combined_score" in summary["best"]["holdout"]
    best = archive.program(summary["best"]["id"])
    assert [s.split for s in best.stages] == ["quick", "train", "holdout"] and best.metrics["value_score"] > 0


@pytest.mark.slow
def test_a_dask_worker_killed_mid_run_is_replaced_and_no_program_is_stored_twice(tmp_path: Path) -> None:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        run_dir = tmp_path / "runs" / "killed"
        url = f"sqlite:///{run_dir / DB_NAME}"
        proc = _start_run(run_dir, ["evaluator=dask", f"evaluator.address={cluster.scheduler_address}",
                                    "evaluator.workers=2", "search.iterations=24"])
        _wait_for(lambda: _evaluations(url) >= 6, proc)
        before = client.run(os.getpid)
        os.kill(next(iter(before.values())), signal.SIGKILL)  # mid-evaluation: 4 in flight keep both busy
        code, log = _finish(proc)
        assert code == 0, log[-3000:]
        client.wait_for_workers(2, timeout=60)
        assert set(client.run(os.getpid).values()) != set(before.values())  # the nanny started a new one
        archive, run_id = _only_run_dir_archive(run_dir)
        assert_invariants(archive, run_id, 24)
    finally:
        client.close()
        cluster.close()


@pytest.mark.slow
def test_a_lost_scheduler_stops_the_run_cleanly_and_it_resumes_by_run_id_from_postgres(
        tmp_path: Path, postgres_url: str) -> None:
    common = ["evaluator=dask", "evaluator.workers=2", "search.iterations=24", f"archive.url={postgres_url}"]
    with dask_cli_cluster(tmp_path) as (address, sched):
        proc = _start_run(tmp_path / "runs" / "first", [*common, f"evaluator.address={address}"])
        _wait_for(lambda: _evaluations(postgres_url) >= 6, proc)
        os.killpg(sched.pid, signal.SIGKILL)
        code, log = _finish(proc, timeout=120)
    assert code == 75, log[-3000:]
    assert "evaluator lost" in log and "Traceback" not in log
    archive = Archive(postgres_url)
    (run,) = archive.list_runs()
    assert (run.status, run.stop_reason) == ("interrupted", "evaluator lost")
    assert run.evaluations < 24
    assert [p for p in archive.programs(run.id, roles=("candidate",)) if p.status == "pending"]  # kept for resume
    with dask_cli_cluster(tmp_path) as (address, _):
        code, log = _finish(_start_run(tmp_path / "runs" / "elsewhere",
                                       [*common, f"evaluator.address={address}", f"resume={run.id}"]))
    assert code == 0, log[-3000:]
    assert f"resuming run {run.id}" in log
    assert_invariants(archive, run.id, 24)
    assert len(archive.events(run.id, "resume")) == 1
    archive.close()


# -- one PostgreSQL database, several runs ---------------------------------------------------------------
@pytest.mark.slow
def test_two_runs_sharing_one_postgres_database_keep_their_archives_apart(tmp_path: Path, postgres_url: str) -> None:
    upgrade = subprocess.run([sys.executable, "-m", "evolve.cli", "db", "upgrade", postgres_url], env=ENV,
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    procs = [_start_run(tmp_path / "runs" / f"r{i}", ["evaluator.workers=1", f"seed={i}", "search.iterations=14",
                                                     f"archive.url={postgres_url}"]) for i in range(2)]
    for proc in procs:
        code, log = _finish(proc)
        assert code == 0, log[-3000:]
    archive = Archive(postgres_url)
    runs = archive.list_runs()
    assert len(runs) == 2 and runs[0].id != runs[1].id
    ids = [{p.id for p in archive.programs(r.id)} for r in runs]
    assert not ids[0] & ids[1]
    for r in runs:
        assert_invariants(archive, r.id, 14)
        assert r.config["seed"] in (0, 1)
    assert {r.config["seed"] for r in runs} == {0, 1}
    archive.close()


# -- Ray -------------------------------------------------------------------------------------------------
def _ray_or_skip() -> None:
    try:
        import ray  # noqa: F401
    except Exception as exc:  # ImportError, or a wheel that does not load on this machine
        pytest.skip(f"ray does not import here ({type(exc).__name__}: {exc}); pip install 'evolve[ray]'")


@pytest.mark.slow
def test_a_ray_run_with_a_worker_killed_mid_run_finishes_with_the_archive_invariants(tmp_path: Path) -> None:
    _ray_or_skip()
    psutil = pytest.importorskip("psutil")
    run_dir = tmp_path / "runs" / "ray"
    url = f"sqlite:///{run_dir / DB_NAME}"
    proc = _start_run(run_dir, ["evaluator=ray", "evaluator.workers=2", "search.iterations=20"])
    _wait_for(lambda: _evaluations(url) >= 5, proc, timeout=300)
    deadline, killed = time.monotonic() + 60, None
    while killed is None and time.monotonic() < deadline:
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                if child.cmdline()[:1] and child.cmdline()[0].startswith("ray::run_task"):
                    child.kill()  # a Ray worker in the middle of an evaluation
                    killed = child.pid
                    break
            except psutil.Error:
                continue
        time.sleep(0.05)
    assert killed is not None, "found no Ray worker running an evaluation"
    code, log = _finish(proc, timeout=400)
    assert code == 0, log[-3000:]
    archive, run_id = _only_run_dir_archive(run_dir)
    assert_invariants(archive, run_id, 20)
