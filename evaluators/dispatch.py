"""Dispatch of evaluation tasks to workers: threads (or loky processes) locally, Dask or Ray on a cluster.

Every backend is exposed as a `concurrent.futures.Executor`, so the loop submits and awaits futures the
same way whatever runs them. Per-candidate limits are enforced inside the task (by the sandbox, on the
worker); the executor only moves work. A task that loses its worker is re-run by the engine itself
(Dask reschedules it, Ray retries it); when the cluster as a whole is gone (scheduler or head node
unreachable) the futures fail with `EvaluatorLost`, so the loop can stop and the run be resumed later.
"""

from __future__ import annotations

import concurrent.futures as cf
import fcntl
import logging
import os
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

MAX_SLOTS = 4096
#: evaluator names whose workers are threads of this process
LOCAL_KINDS = frozenset({"local", "inline"})
#: how often Ray re-runs a task whose worker process died (Dask: `distributed.scheduler.allowed-failures`)
RAY_TASK_RETRIES = 3
#: seconds to wait for a cluster's scheduler or head node when connecting
CONNECT_TIMEOUT_S = 30

_slot_lock = threading.Lock()
_held: list[Any] = []  # open lock files of the slots this process holds (released at exit)


class EvaluatorLost(Exception):
    """The evaluation cluster is gone (its scheduler or head node is unreachable).

    Not a failure of the task or of one worker: every task in flight is lost with it. The loop stops the
    run cleanly; the programs not yet evaluated stay `pending` in the archive for `resume`.
    """


class EvaluatorUnavailable(RuntimeError):
    """The evaluator cannot be used here: its optional extra (dask, ray) is not installed."""


def claim_slot(start: int = 0) -> int:
    """A machine-wide unique sandbox slot (its uid offset) for this process or thread, held until exit.

    Two sandboxes with the same slot would share a uid, and sweeping one's leftovers would kill the
    other's candidate; an advisory lock per slot file prevents that across processes and runs. Slots
    are tried from `start` up (tests start high, away from the slots of runs on the same machine).
    """
    folder = Path(tempfile.gettempdir()) / "evolve-slots"
    folder.mkdir(mode=0o755, exist_ok=True)
    with _slot_lock:
        for slot in range(start, MAX_SLOTS):
            fh = open(folder / f"{slot}.lock", "a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                continue
            _held.append(fh)
            return slot
    raise RuntimeError(f"all {MAX_SLOTS} sandbox slots are taken")


def make_executor(kind: str, workers: int, address: str | None = None) -> cf.Executor:
    """An executor for `kind`, an `evaluator.name`: local (threads of this process; `inline` is the same),
    loky (joblib's loky worker processes), dask or ray.

    Local workers are threads: every candidate already runs in a sandboxed process of its own, so a
    second process per worker would only add a pickling hop, a copy of the problem and ~70 MB; the
    problem's scorer then runs in this process. loky keeps one worker process each, for problems whose
    trusted scoring is heavy Python. For dask and ray, `address` names a running cluster (tcp://scheduler:8786, ray://head:10001);
    without one a cluster of `workers` single-threaded worker processes is started on this machine and
    closed again by `shutdown()`.
    """
    if kind in LOCAL_KINDS:
        return cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evolve-eval")
    if kind == "loky":
        from joblib.externals.loky import get_reusable_executor

        return LokyExecutor(get_reusable_executor(max_workers=workers, timeout=300, reuse=False,
                                                  initializer=_ignore_sigint))
    if kind == "dask":
        return _dask_executor(workers, address)
    if kind == "ray":
        return _ray_executor(workers, address)
    raise ValueError(f"unknown evaluator {kind!r}")


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the loop, which stops cleanly and still needs them for the summary."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LokyExecutor(cf.Executor):
    """loky's process pool with the standard `shutdown(wait, cancel_futures=…)` (loky has no such keyword)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._futures: weakref.WeakSet[cf.Future[Any]] = weakref.WeakSet()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        fut = self.inner.submit(fn, *args, **kwargs)
        self._futures.add(fut)
        return fut  # type: ignore[no-any-return]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for fut in list(self._futures):
                fut.cancel()  # only those not yet running
        self.inner.shutdown(wait=wait)


# -- cluster executors: the bookkeeping Dask and Ray share ------------------------------------------------
class _ClusterExecutor(cf.Executor):
    """A `concurrent.futures.Executor` over a cluster engine: futures in flight, each settled once, and a
    shutdown that waits for them or cancels them. Subclasses start a task, watch it, and close the engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[Any, cf.Future[Any]]] = {}  # id(out) -> (engine's handle, out)
        self._closing = False

    def _check_connected(self) -> None:
        """Raise EvaluatorLost when the cluster is gone."""

    def _start(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Start `fn(*args, **kwargs)` on the cluster; returns the engine's handle of the task."""
        raise NotImplementedError

    def _watch(self, handle: Any, out: cf.Future[Any]) -> None:
        """Arrange for `_finish(out, …)` to be called once the task is done."""
        raise NotImplementedError

    def _close(self, handles: list[Any]) -> None:
        """Cancel these tasks (still queued or running) and let go of the cluster."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if self._closing:
            raise RuntimeError("cannot submit to an executor that was shut down")
        self._check_connected()
        handle = self._start(fn, args, kwargs)
        out: cf.Future[Any] = cf.Future()
        with self._lock:
            self._pending[id(out)] = (handle, out)
        self._watch(handle, out)
        return out

    def _finish(self, out: cf.Future[Any], result: Any = None, error: BaseException | None = None,
                cancelled: bool = False) -> None:
        with self._lock:
            self._pending.pop(id(out), None)
        if out.done():  # cancelled by shutdown
            return
        try:
            if cancelled:
                _cancel(out)
            elif error is not None:
                out.set_exception(error)
            else:
                out.set_result(result)
        except cf.InvalidStateError:
            pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._closing:
            return
        if wait and not cancel_futures:
            with self._lock:
                outs = [out for _, out in self._pending.values()]
            cf.wait(outs)
        self._closing = True
        with self._lock:
            pending = list(self._pending.values())
        for _, out in pending:
            _cancel(out)
        self._close([handle for handle, _ in pending])


def _cancel(out: cf.Future[Any]) -> None:
    """Cancel a future nobody runs, waking `cf.wait` and `as_completed` callers too."""
    if out.cancel():
        out.set_running_or_notify_cancel()


# -- dask ------------------------------------------------------------------------------------------------
#: Dask settings for the LocalCluster evolve starts itself (a remote cluster keeps its own settings). A
#: small machine shares its cores between the scheduler, the workers and the candidates: switch off what
#: only a dashboard would show (the statistical profiler samples every worker thread every 10 ms),
#: and poll the rest less often.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",  # event-loop health check (default 20 ms)
    "distributed.admin.system-monitor.interval": "2s",  # dashboard's CPU/memory/network series (500 ms)
    "distributed.worker.memory.monitor-interval": "500ms",  # nanny's memory limit check (100 ms)
    "distributed.scheduler.active-memory-manager.start": False,  # replicas: none, results are fetched once
}


def _dask_executor(workers: int, address: str | None) -> DaskExecutor:
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise EvaluatorUnavailable("evaluator=dask needs the dask extra: pip install 'evolve[dask]'") from exc
    for name in ("distributed", "distributed.core", "distributed.scheduler", "distributed.nanny",
                 "distributed.worker", "distributed.http.proxy"):
        if logging.getLogger(name).level == logging.NOTSET:  # keep the run's log readable
            logging.getLogger(name).setLevel(logging.WARNING)
    if address:
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise EvaluatorLost(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        return DaskExecutor(client, None, queue_ahead=workers)
    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # read by the scheduler and the nannies when they start
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               scheduler_port=0, silence_logs=logging.WARNING)
        client = Client(cluster)
    client.register_plugin(_sigint_plugin(), name="evolve-ignore-sigint")  # also applied to restarted workers
    return DaskExecutor(client, cluster, queue_ahead=workers)


def _sigint_plugin() -> Any:
    """A worker plugin (re-applied to restarted workers): LocalCluster workers share the terminal, and
    Ctrl-C is for the loop alone."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreSigint(WorkerPlugin):  # type: ignore[misc]
        def setup(self, worker: Any) -> None:
            if threading.current_thread() is threading.main_thread():
                _ignore_sigint()

    return IgnoreSigint()


class DaskExecutor(_ClusterExecutor):
    """Submits to a distributed Client; its futures are plain `concurrent.futures.Future`s.

    Each task is a `client.submit(pure=False)`, and its result is fetched by a coroutine on the client's
    event loop, which settles the plain future as soon as it arrives. A lost scheduler connection fails
    every future in flight (and every later submit) with `EvaluatorLost`. A worker that dies is the
    scheduler's business: it re-runs the task elsewhere, up to `distributed.scheduler.allowed-failures`
    times, then the future fails with `KilledWorker`.

    A result travels worker → scheduler → client, and the next task client → scheduler → worker: tens of
    milliseconds on a busy machine, during which a worker with nothing queued sits idle. `queue_ahead`
    says how many evaluations the submitter should keep in flight beyond one per worker (one more per
    worker), so that each worker already holds its next task (the scheduler hands a single-threaded
    worker up to two) when it finishes one.
    """

    def __init__(self, client: Any, cluster: Any | None, queue_ahead: int = 0) -> None:
        super().__init__()
        self.client, self.cluster = client, cluster
        self.queue_ahead = queue_ahead

    def slots(self) -> int:
        """Worker threads on the cluster now (what `evaluator.workers` should be for a full cluster)."""
        return int(sum(self.client.nthreads().values()))

    def _check_connected(self) -> None:
        if self.client.status != "running":
            raise EvaluatorLost(f"the Dask scheduler is unreachable (client {self.client.status})")

    def _start(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.client.submit(fn, *args, pure=False, **kwargs)

    def _watch(self, handle: Any, out: cf.Future[Any]) -> None:
        self.client.loop.add_callback(self._collect, handle, out)

    async def _collect(self, fut: Any, out: cf.Future[Any]) -> None:
        """On the client's event loop: wait for the task, fetch its result, settle `out`."""
        try:
            result = await self.client.gather(fut, asynchronous=True)
        except Exception as exc:  # the task's own error, or the task was cancelled
            if fut.status != "cancelled":
                self._finish(out, error=exc)
            elif self._closing:
                self._finish(out, cancelled=True)
            elif self.client.status != "running":  # the client cancels everything when the scheduler goes
                self._finish(out, error=EvaluatorLost("lost the connection to the Dask scheduler"))
            else:
                self._finish(out, error=RuntimeError("the evaluation was cancelled on the Dask cluster"))
        else:
            self._finish(out, result)

    def _close(self, handles: list[Any]) -> None:
        lost = self.client.status != "running"
        if lost:  # closing interrupts the client's reconnect loop, which logs that as an error
            for name in ("distributed.client", "distributed.utils", "distributed.core"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            if not lost and handles:
                self.client.cancel(handles)  # what is still queued or running
            self.client.close(timeout=10)
        except Exception:  # a lost scheduler: nothing to tell it
            pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=20)
            except Exception:
                pass


# -- ray -------------------------------------------------------------------------------------------------
def _ray_executor(workers: int, address: str | None) -> RayExecutor:
    try:
        import ray
    except ImportError as exc:
        raise EvaluatorUnavailable("evaluator=ray needs the ray extra: pip install 'evolve[ray]'") from exc
    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                # address='local': always a new instance, never one that `ray start` left on this machine
                ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
        except ConnectionError as exc:
            raise EvaluatorLost(f"cannot reach the Ray cluster at {address}: {exc}") from exc
        started = True
    return RayExecutor(workers, owns_ray=started)


class RayExecutor(_ClusterExecutor):
    """Submits Ray tasks (one CPU each); a task whose worker process died is retried by Ray."""

    def __init__(self, workers: int, owns_ray: bool = False) -> None:
        super().__init__()
        self.workers, self.owns_ray = workers, owns_ray
        self._remote: dict[Any, Any] = {}

    def slots(self) -> int:
        import ray

        return int(ray.cluster_resources().get("CPU", 0))

    def _check_connected(self) -> None:
        import ray

        if not ray.is_initialized():
            raise EvaluatorLost("the Ray driver is disconnected")

    def _start(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        import ray

        remote = self._remote.get(fn)
        if remote is None:  # register each function once, not per task
            remote = self._remote[fn] = ray.remote(num_cpus=1, max_retries=RAY_TASK_RETRIES)(fn)
        try:
            return remote.remote(*args, **kwargs)
        except ConnectionError as exc:
            raise EvaluatorLost(f"lost the Ray cluster: {exc}") from exc

    def _watch(self, handle: Any, out: cf.Future[Any]) -> None:
        handle.future().add_done_callback(lambda f, out=out: self._settle(f, out))

    def _settle(self, inner: cf.Future[Any], out: cf.Future[Any]) -> None:
        if inner.cancelled():
            self._finish(out, cancelled=True)
            return
        exc = inner.exception()
        if exc is None:
            self._finish(out, inner.result())
        else:
            self._finish(out, error=EvaluatorLost(f"lost the Ray cluster: {exc}") if _ray_lost(exc) else exc)

    def _close(self, handles: list[Any]) -> None:
        try:
            import ray

            for ref in handles:
                ray.cancel(ref, force=False)
            if self.owns_ray:
                ray.shutdown()
        except Exception:
            pass


def _ray_lost(exc: BaseException) -> bool:
    """Whether a Ray task failed because the cluster (not the task or its worker) went away."""
    if isinstance(exc, ConnectionError):
        return True
    try:
        from ray.exceptions import RaySystemError
    except ImportError:
        return False
    return isinstance(exc, RaySystemError)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
