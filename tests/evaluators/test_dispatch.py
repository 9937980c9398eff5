"""Dispatch executors: the bookkeeping the cluster executors share, and Dask's LocalCluster settings and
queue-ahead, its calls on one actor per worker (the Dask and Ray end-to-end runs are in tests/e2e/test_scale.py)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evaluators.dispatch import LOCAL_CLUSTER_CONFIG, ClusterExecutor, EvaluatorLost, make_executor


class ThreadEngine(ClusterExecutor):
    """A cluster executor whose 'cluster' is one thread per task, started only when the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.closed_with: list[Any] | None = None
        self.connected = True

    def check_connected(self) -> None:
        if not self.connected:
            raise EvaluatorLost("gone")

    def start_task(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return (fn, args, kwargs)

    def watch_task(self, handle: Any, out: cf.Future[Any]) -> None:
        fn, args, kwargs = handle

        def run() -> None:
            self.go.wait()
            try:
                self.finish_task(out, fn(*args, **kwargs))
            except Exception as exc:
                self.finish_task(out, error=exc)

        threading.Thread(target=run, daemon=True).start()

    def close_tasks(self, handles: list[Any]) -> None:
        self.closed_with = handles


def test_cluster_executor_settles_results_and_errors_once_and_forgets_them() -> None:
    ex = ThreadEngine()
    ok, bad = ex.submit(pow, 2, 10), ex.submit(int, "x")
    ex.go.set()
    assert ok.result(timeout=5) == 1024
    with pytest.raises(ValueError):
        bad.result(timeout=5)
    ex.shutdown()
    assert ex.closed_with == []  # nothing was left in flight


def test_cluster_executor_shutdown_with_cancel_futures_cancels_and_wakes_waiters() -> None:
    ex = ThreadEngine()
    futs = [ex.submit(pow, 2, i) for i in range(3)]
    waiter = cf.ThreadPoolExecutor(1).submit(cf.wait, futs)
    ex.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in futs)
    done, not_done = waiter.result(timeout=5)  # cf.wait returns: cancelled futures notify their waiters
    assert len(done) == 3 and not not_done
    assert ex.closed_with is not None and len(ex.closed_with) == 3  # handed to the engine to cancel
    ex.go.set()  # tasks finishing after shutdown leave the cancelled futures alone
    time.sleep(0.1)
    assert all(f.cancelled() for f in futs)
    with pytest.raises(RuntimeError, match="shut down"):
        ex.submit(pow, 2, 2)


def test_cluster_executor_shutdown_with_wait_lets_work_in_flight_finish() -> None:
    ex = ThreadEngine()
    fut = ex.submit(pow, 3, 2)
    threading.Timer(0.2, ex.go.set).start()
    ex.shutdown(wait=True)
    assert fut.result(timeout=0) == 9 and ex.closed_with == []


def test_cluster_executor_submit_to_a_lost_cluster_raises_evaluator_lost() -> None:
    ex = ThreadEngine()
    ex.connected = False
    with pytest.raises(EvaluatorLost):
        ex.submit(pow, 2, 2)


# -- Dask LocalCluster -----------------------------------------------------------------------------------
def _profiler_enabled() -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled"))


@pytest.mark.slow
def test_dask_local_cluster_runs_lean_without_changing_this_process_config(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    import dask

    before = dask.config.get("distributed.worker.profile.enabled")
    ex = make_executor("dask", 2)
    try:
        assert set(ex.client.run(_profiler_enabled).values()) == {False}  # type: ignore[attr-defined]
        assert ex.queue_ahead == 2  # type: ignore[attr-defined]
    finally:
        ex.shutdown()
    assert dask.config.get("distributed.worker.profile.enabled") == before
    assert "distributed.worker.profile.enabled" in LOCAL_CLUSTER_CONFIG


@pytest.mark.slow
def test_dask_tasks_queued_ahead_run_exactly_once_and_shutdown_cancels_the_queue(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    log = tmp_path / "starts.log"

    def mark(path: str, i: int, seconds: float) -> int:  # a closure: pickled by value for the workers
        with open(path, "a") as fh:
            fh.write(f"{i}\n")
        time.sleep(seconds)
        return i

    ex = make_executor("dask", 2)
    try:
        in_flight = 2 + ex.queue_ahead  # type: ignore[attr-defined]
        futs = [ex.submit(mark, str(log), i, 0.2) for i in range(3 * in_flight)]
        assert sorted(f.result(timeout=120) for f in futs) == list(range(3 * in_flight))
        assert sorted(int(x) for x in log.read_text().split()) == list(range(3 * in_flight))  # each once

        log.write_text("")
        slow = [ex.submit(mark, str(log), i, 30) for i in range(in_flight)]
        deadline = time.monotonic() + 60
        while len(log.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # both workers busy, the others queued
    finally:
        t0 = time.monotonic()
        ex.shutdown(wait=False, cancel_futures=True)
    assert time.monotonic() - t0 < 40
    assert all(f.cancelled() for f in slow)
    time.sleep(0.5)
    assert len(log.read_text().split()) == 2  # the queued tasks never started


# -- Dask: calls on one dispatcher actor per worker ------------------------------------------------------
def _pid_after(path: str, i: int, seconds: float) -> tuple[int, int]:
    with open(path, "a") as fh:
        fh.write(f"{os.getpid()} {i}\n")
    time.sleep(seconds)
    return i, os.getpid()


def _starts(log: Path) -> list[tuple[int, int]]:
    return [(int(p), int(i)) for p, i in (line.split() for line in log.read_text().splitlines())]


def _wait_until(pred: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_dask_calls_go_to_the_least_busy_worker_actor(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    ex = make_executor("dask", 2)
    try:
        log = str(tmp_path / "starts.log")
        futs = [ex.submit(_pid_after, log, i, 0.5) for i in range(4)]
        pids = [f.result(timeout=60)[1] for f in futs]
        assert sorted(Counter(pids).values()) == [2, 2]  # two per worker: one running, one queued behind it
        assert set(pids) == set(ex.client.run(os.getpid).values())  # type: ignore[attr-defined]
    finally:
        ex.shutdown()


@pytest.mark.slow
def test_a_killed_dask_workers_evaluation_runs_again_elsewhere_and_settles_once(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    log = tmp_path / "starts.log"
    ex = make_executor("dask", 2)
    try:
        futs = [ex.submit(_pid_after, str(log), i, 3) for i in range(2)]  # one on each worker
        settled: list[Any] = []
        for f in futs:
            f.add_done_callback(settled.append)
        _wait_until(lambda: log.is_file() and len(_starts(log)) == 2)
        victim, index = _starts(log)[0]
        os.kill(victim, signal.SIGKILL)
        results = [f.result(timeout=120) for f in futs]
        assert [i for i, _ in results] == [0, 1]
        assert results[index][1] != victim  # finished on another worker
        assert sorted(i for _, i in _starts(log)) == sorted([0, 1, index])  # the victim's evaluation ran twice
        time.sleep(0.5)
        # bookkeeping read on purpose: a settled future must leave the executor's table, or a long run
        # holds every result it ever had; the table has no public view, and a leak changes no result
        assert len(settled) == 2 and not ex._pending  # type: ignore[attr-defined]
    finally:
        ex.shutdown()


@pytest.mark.slow
def test_a_dask_worker_that_joins_later_gets_evaluations(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    from evaluators.dispatch import DaskExecutor

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    ex = DaskExecutor(distributed.Client(cluster), cluster, queue_ahead=1)
    try:
        first = ex.submit(_pid_after, str(tmp_path / "a.log"), 0, 0).result(timeout=60)[1]
        cluster.scale(2)
        ex.client.wait_for_workers(2, timeout=60)
        futs = [ex.submit(_pid_after, str(tmp_path / "b.log"), i, 1.5) for i in range(4)]
        pids = {f.result(timeout=60)[1] for f in futs}
        assert first in pids and len(pids) == 2  # calls waiting here went to the new worker's actor
    finally:
        ex.shutdown()


def _die() -> None:
    os._exit(1)


@pytest.mark.slow
def test_an_evaluation_that_keeps_losing_its_dask_worker_fails_after_the_allowed_failures() -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    import dask

    from evaluators.dispatch import WorkerLost

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        ex = make_executor("dask", 2)
    try:
        t0 = time.monotonic()
        with pytest.raises(WorkerLost, match=r"lost its Dask worker 2 times \(tcp://[^,]+, tcp://") as info:
            ex.submit(_die).result(timeout=120)
        assert isinstance(info.value, RuntimeError)  # what the loop retries as a failed worker
        assert time.monotonic() - t0 < 60
        assert ex.submit(pow, 2, 5).result(timeout=60) == 32  # the nannies' new workers take over
    finally:
        ex.shutdown()


async def _forget_worker(dask_scheduler: Any, address: str) -> None:
    await dask_scheduler.remove_worker(address, stimulus_id="test-forget", close=False)


@pytest.mark.slow
def test_an_evaluation_on_a_worker_the_scheduler_dropped_runs_elsewhere_though_its_connection_hangs(
        tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    from evaluators.dispatch import DaskExecutor

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    ex = DaskExecutor(distributed.Client(cluster), cluster, queue_ahead=2)
    log = tmp_path / "starts.log"
    stopped = None
    try:
        addresses = {pid: a for a, pid in ex.client.run(os.getpid).items()}
        futs = [ex.submit(_pid_after, str(log), i, 2) for i in range(2)]
        _wait_until(lambda: log.is_file() and len(_starts(log)) == 2)
        stopped = _starts(log)[0][0]
        os.kill(stopped, signal.SIGSTOP)  # a frozen machine: its connection neither answers nor breaks
        address = addresses[stopped]
        ex.client.run_on_scheduler(_forget_worker, address=address)  # as after distributed.scheduler.worker-ttl
        # re-sent within a worker-list reading (2 s), long before the nanny gives up on the frozen process
        assert all(f.result(timeout=12)[1] != stopped for f in futs)
    finally:
        if stopped is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stopped, signal.SIGCONT)
        ex.shutdown()


@pytest.mark.slow
def test_dask_calls_go_through_the_scheduler_when_direct_to_workers_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    import dask

    with dask.config.set({"distributed.client.direct-to-workers": False}):
        ex = make_executor("dask", 2)
    try:
        def no_direct(address: str) -> Any:
            raise AssertionError(f"connected to the worker {address} directly")

        monkeypatch.setattr(ex.client, "rpc", no_direct)  # type: ignore[attr-defined]
        assert ex.submit(pow, 2, 6).result(timeout=60) == 64
        with pytest.raises(ValueError, match="boom"):
            ex.submit(int, "boom").result(timeout=60)
    finally:
        monkeypatch.undo()  # the client closes its connection pool
        ex.shutdown()
