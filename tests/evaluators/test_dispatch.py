"""Dispatch executors: the bookkeeping the cluster executors share, and Dask's LocalCluster settings and
queue-ahead (the Dask and Ray end-to-end runs are in tests/e2e/test_scale.py)."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from evaluators.dispatch import LOCAL_CLUSTER_CONFIG, EvaluatorLost, _ClusterExecutor, make_executor


class ThreadEngine(_ClusterExecutor):
    """A cluster executor whose 'cluster' is one thread per task, started only when the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.closed_with: list[Any] | None = None
        self.connected = True

    def _check_connected(self) -> None:
        if not self.connected:
            raise EvaluatorLost("gone")

    def _start(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return (fn, args, kwargs)

    def _watch(self, handle: Any, out: cf.Future[Any]) -> None:
        fn, args, kwargs = handle

        def run() -> None:
            self.go.wait()
            try:
                self._finish(out, fn(*args, **kwargs))
            except Exception as exc:
                self._finish(out, error=exc)

        threading.Thread(target=run, daemon=True).start()

    def _close(self, handles: list[Any]) -> None:
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
