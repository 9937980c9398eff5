"""Dispatch of evaluation tasks to workers: threads (or loky processes) locally, Dask or Ray on a cluster.

Every backend is exposed as a `concurrent.futures.Executor`, so the loop submits and awaits futures the
same way whatever runs them. Per-candidate limits are enforced inside the task (by the sandbox, on the
worker); the executor only moves work. A task that loses its worker is run again elsewhere (the Dask
executor sends it to another worker, Ray retries it); when the cluster as a whole is gone (scheduler or head node
unreachable) the futures fail with `EvaluatorLost`, so the loop can stop and the run be resumed later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextvars
import fcntl
import itertools
import logging
import os
import tempfile
import threading
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_SLOTS = 4096
#: evaluator names whose workers are threads of this process
LOCAL_KINDS = frozenset({"local", "inline"})
#: how often Ray re-runs a task whose worker process died (Dask: `distributed.scheduler.allowed-failures`)
RAY_TASK_RETRIES = 3
#: seconds to wait for a cluster's scheduler or head node when connecting
CONNECT_TIMEOUT_S = 30

log = logging.getLogger(__name__)
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
        return LocalExecutor(workers)
    if kind == "loky":
        from joblib.externals.loky import get_reusable_executor

        return LokyExecutor(get_reusable_executor(max_workers=workers, timeout=300, reuse=False,
                                                  initializer=_ignore_sigint), queue_ahead=workers)
    if kind == "dask":
        return _dask_executor(workers, address)
    if kind == "ray":
        return _ray_executor(workers, address)
    raise ValueError(f"unknown evaluator {kind!r}")


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the loop, which stops cleanly and still needs them for the summary."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalExecutor(cf.ThreadPoolExecutor):
    """One evaluation thread per worker, each with its own warm sandbox.

    `queue_ahead`: the submitter keeps one more evaluation per thread queued here, so a thread that
    finishes takes its next candidate at once instead of idling while the loop stores the result and
    dispatches the next one (that round trip is a few milliseconds, as long as a trivial evaluation).
    """

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="evolve-eval")
        self.queue_ahead = workers


class LokyExecutor(cf.Executor):
    """loky's process pool with the standard `shutdown(wait, cancel_futures=…)` (loky has no such keyword).
    Like the local executor, it keeps one evaluation per worker queued ahead."""

    def __init__(self, inner: Any, queue_ahead: int = 0) -> None:
        self.inner = inner
        self.queue_ahead = queue_ahead
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
class ClusterExecutor(cf.Executor):
    """A `concurrent.futures.Executor` over a cluster engine: futures in flight, each settled once, and a
    shutdown that waits for them or cancels them. An engine (Dask, Ray, or another) subclasses it and
    implements `start_task`, `watch_task` (which calls `finish_task` once per task) and `close_tasks`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[Any, cf.Future[Any]]] = {}  # id(out) -> (engine's handle, out)
        self._closing = False

    def check_connected(self) -> None:
        """Raise EvaluatorLost when the cluster is gone."""

    def start_task(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Start `fn(*args, **kwargs)` on the cluster; returns the engine's handle of the task."""
        raise NotImplementedError

    def watch_task(self, handle: Any, out: cf.Future[Any]) -> None:
        """Arrange for `finish_task(out, …)` to be called once the task is done."""
        raise NotImplementedError

    def close_tasks(self, handles: list[Any]) -> None:
        """Cancel these tasks (still queued or running) and let go of the cluster."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if self._closing:
            raise RuntimeError("cannot submit to an executor that was shut down")
        self.check_connected()
        handle = self.start_task(fn, args, kwargs)
        out: cf.Future[Any] = cf.Future()
        with self._lock:
            self._pending[id(out)] = (handle, out)
        self.watch_task(handle, out)
        return out

    def finish_task(self, out: cf.Future[Any], result: Any = None, error: BaseException | None = None,
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
        self.close_tasks([handle for handle, _ in pending])


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
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.system-monitor.disk": False,
    "distributed.admin.system-monitor.gil.enabled": False,
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
                               scheduler_port=0, silence_logs=logging.WARNING, memory_limit=0)
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


class WorkerLost(RuntimeError):
    """An evaluation lost its Dask worker more often than `distributed.scheduler.allowed-failures` allows."""


@dataclass(eq=False)
class _Call:
    """One evaluation on its way through the Dask executor (owned by the client's event loop)."""

    id: int
    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    out: cf.Future[Any] | None = None
    lost: list[str] = field(default_factory=list)  # addresses of the workers that died under it
    task: asyncio.Task[None] | None = None  # its call on an actor, while one runs
    settled: bool = False


@dataclass(eq=False)
class _Actor:
    """The executor's record of the `_Dispatcher` actor on one worker."""

    address: str
    key: str
    nthreads: int
    future: Any  # the actor's Dask future: holding it keeps the actor alive
    calls: set[_Call] = field(default_factory=set)

    @property
    def room(self) -> int:
        """Calls this actor still takes: one running and one queued per worker thread."""
        return 2 * self.nthreads - len(self.calls)


class _Dispatcher:
    """A Dask actor, one per worker: runs the executor's calls in the worker's own task threads.

    Its methods are coroutines, so the worker runs them on its event loop rather than in its single actor
    thread; `run` hands the function to the worker's default executor (its `nthreads` task threads, the
    ones an ordinary task would run in), where a call beyond `nthreads` waits its turn.
    """

    def __init__(self) -> None:
        self._calls: dict[int, cf.Future[Any]] = {}

    async def run(self, call_id: int, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from distributed import get_worker

        ctx = contextvars.copy_context()  # get_worker() works inside `fn`, as in a task
        fut = get_worker().executors["default"].submit(ctx.run, fn, *args, **kwargs)
        self._calls[call_id] = fut
        try:
            return await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            if fut.cancelled():  # by `cancel`: an answer, not the end of this coroutine
                raise RuntimeError("cancelled before it started") from None
            raise
        finally:
            self._calls.pop(call_id, None)

    async def cancel(self, call_ids: list[int]) -> int:
        """Drop these calls if they have not started yet; how many were dropped."""
        return sum(1 for i in call_ids if (f := self._calls.get(i)) is not None and f.cancel())


class DaskExecutor(ClusterExecutor):
    """Runs each evaluation as a call on a `_Dispatcher` actor, one per Dask worker; its futures are plain
    `concurrent.futures.Future`s.

    A call goes from the client straight to the worker and its answer straight back: the scheduler only
    places the actors and tells who the workers are. Each call goes to the actor with the fewest calls in
    flight, at most two per worker thread (one running, one waiting in the worker's queue, so a worker
    that finishes an evaluation starts the next at once); the rest wait here until an actor has room.
    `queue_ahead` says how many evaluations the submitter should keep in flight beyond one per worker.

    A call whose worker dies (its connection breaks, or the scheduler no longer lists the worker) is sent
    to another actor, up to `distributed.scheduler.allowed-failures` times; then its future fails with
    `WorkerLost`, naming the workers. Workers that join (a nanny's restart, a growing cluster) get an
    actor when the worker list is next read (every `REFRESH_S` while there is work). A lost scheduler
    connection fails every call in flight and every later submit with `EvaluatorLost`.
    """

    #: seconds between readings of the scheduler's worker list while calls are in flight or waiting
    REFRESH_S = 2.0
    #: seconds between checks of the scheduler connection
    WATCH_S = 0.5
    #: seconds an actor may take to start on a new worker before the next refresh tries again
    ACTOR_START_S = 30.0

    def __init__(self, client: Any, cluster: Any | None, queue_ahead: int = 0) -> None:
        import dask

        super().__init__()
        self.client, self.cluster = client, cluster
        self.queue_ahead = queue_ahead
        self.allowed_failures = int(dask.config.get("distributed.scheduler.allowed-failures", 3))
        #: calls go to the workers directly unless `distributed.client.direct-to-workers` is False (a loop
        #: machine that reaches only the scheduler): then the scheduler relays them
        self.direct = client.direct_to_workers is not False
        self._ids = itertools.count()
        # the rest belongs to the client's event loop
        self._actors: dict[str, _Actor] = {}
        self._starting: set[str] = set()
        self._waiting: deque[_Call] = deque()
        self._refreshed = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.client.sync(self._setup)

    async def _setup(self) -> None:
        await self._refresh(wait=True)
        self._watcher = asyncio.ensure_future(self._watch_cluster())

    def slots(self) -> int:
        """Worker threads on the cluster now (what `evaluator.workers` should be for a full cluster)."""
        return int(sum(self.client.nthreads().values()))

    def check_connected(self) -> None:
        if self.client.status != "running":
            raise EvaluatorLost(f"the Dask scheduler is unreachable (client {self.client.status})")

    def start_task(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return _Call(next(self._ids), fn, args, kwargs)

    def watch_task(self, handle: Any, out: cf.Future[Any]) -> None:
        handle.out = out
        self.client.loop.add_callback(self._enqueue, handle)

    # -- on the client's event loop --------------------------------------------------------------------
    def _enqueue(self, call: _Call) -> None:
        if self._closing:
            return
        self._waiting.append(call)
        self._pump()

    def _pump(self) -> None:
        """Send waiting calls to the actors with room, the least busy first."""
        while self._waiting and not self._closing:
            actor = max(self._actors.values(), key=lambda a: a.room / a.nthreads, default=None)
            if actor is None or actor.room <= 0:
                if not self._actors:
                    self._refresh_soon()
                return
            call = self._waiting.popleft()
            if call.settled or (call.out is not None and call.out.done()):
                continue
            actor.calls.add(call)
            call.task = asyncio.ensure_future(self._call(actor, call))

    async def _call(self, actor: _Actor, call: _Call) -> None:
        from distributed.protocol import to_serialize

        try:
            reply = await self._rpc(actor.address).actor_execute(
                actor=actor.key, function="run", kwargs={},
                args=[to_serialize(call.id), to_serialize(call.fn), to_serialize(call.args),
                      to_serialize(call.kwargs)])
        except (asyncio.CancelledError, OSError, KeyError) as exc:  # the worker is gone, or lost its actor
            actor.calls.discard(call)
            call.task = None
            if call.settled or self._closing:
                return
            if not isinstance(exc, asyncio.CancelledError):
                self._lose(actor)
            self._retry(call, actor.address)
            return
        except Exception as exc:  # e.g. a result this process cannot unpickle
            reply = {"status": "error", "exception": exc}
        actor.calls.discard(call)
        call.task = None
        if reply.get("status") == "OK":
            self._settle(call, result=reply["result"])
        else:
            self._settle(call, error=reply["exception"])
        self._pump()

    def _rpc(self, address: str) -> Any:
        if self.direct:
            return self.client.rpc(address)
        from distributed.actor import ProxyRPC

        return ProxyRPC(self.client.scheduler, address)

    def _settle(self, call: _Call, result: Any = None, error: BaseException | None = None) -> None:
        if call.settled:
            return
        call.settled = True
        assert call.out is not None
        self.finish_task(call.out, result, error)

    def _retry(self, call: _Call, address: str) -> None:
        call.lost.append(address)
        if len(call.lost) > self.allowed_failures:
            self._settle(call, error=WorkerLost(
                f"the evaluation lost its Dask worker {len(call.lost)} times ({', '.join(call.lost)}); "
                f"distributed.scheduler.allowed-failures is {self.allowed_failures}"))
        else:
            log.warning("Dask worker %s was lost; sending its evaluation elsewhere", address)
            self._waiting.appendleft(call)
        self._refresh_soon()
        self._pump()

    def _lose(self, actor: _Actor) -> None:
        """Forget a dead worker's actor; its other calls go elsewhere."""
        if self._actors.get(actor.address) is not actor:
            return
        del self._actors[actor.address]
        actor.future.release()
        for call in list(actor.calls):
            if call.task is not None:
                call.task.cancel()  # -> `_call` sends it elsewhere

    def _refresh_soon(self) -> None:
        if self._refreshing is None and not self._closing:
            self._refreshing = asyncio.ensure_future(self._refresh())

    async def _refresh(self, wait: bool = False) -> None:
        """Read the scheduler's worker list: drop the actors of workers that left, start actors on new ones."""
        try:
            nthreads = await self.client.scheduler.ncores()
        except Exception:  # the scheduler is unreachable: the watcher reports that
            return
        finally:
            self._refreshed = time.monotonic()
            self._refreshing = None
        for address, actor in list(self._actors.items()):
            if address not in nthreads:
                self._lose(actor)
        new = [(a, n) for a, n in nthreads.items() if a not in self._actors and a not in self._starting]
        starts = [asyncio.ensure_future(self._start_actor(a, n)) for a, n in new]
        if wait and starts:
            await asyncio.wait(starts)
        self._pump()

    async def _start_actor(self, address: str, nthreads: int) -> None:
        self._starting.add(address)
        fut = self.client.submit(_Dispatcher, actor=True, workers=[address], allow_other_workers=False,
                                 key=f"evolve-dispatcher-{uuid.uuid4().hex}")
        try:
            await asyncio.wait_for(fut._state.wait(), self.ACTOR_START_S)
            ok = fut.status == "finished"
        except TimeoutError:
            ok = False
        finally:
            self._starting.discard(address)
        if ok and not self._closing and address not in self._actors:
            self._actors[address] = _Actor(address, fut.key, max(1, int(nthreads)), fut)
            self._pump()
        else:
            fut.release()

    async def _watch_cluster(self) -> None:
        """While the executor lives: fail everything with EvaluatorLost once the scheduler is gone, and
        re-read the worker list every REFRESH_S while there is work."""
        while not self._closing:
            await asyncio.sleep(self.WATCH_S)
            if self.client.status != "running":
                self._fail_all(EvaluatorLost("lost the connection to the Dask scheduler"))
            elif (self._waiting or any(a.calls for a in self._actors.values())) \
                    and time.monotonic() - self._refreshed >= self.REFRESH_S:
                self._refresh_soon()

    def _fail_all(self, error: BaseException) -> None:
        calls = [*self._waiting, *(c for a in self._actors.values() for c in a.calls)]
        self._waiting.clear()
        for call in calls:
            self._settle(call, error=error)
            if call.task is not None:
                call.task.cancel()

    async def _stop(self, calls: list[_Call]) -> None:
        """Drop the calls not yet started on their workers, and stop watching."""
        if self._watcher is not None:
            self._watcher.cancel()
        self._waiting.clear()
        wanted = set(calls)
        queued = [(a, ids) for a in self._actors.values() if (ids := [c.id for c in a.calls if c in wanted])]
        if self.client.status == "running":
            await asyncio.gather(*(
                asyncio.wait_for(self._rpc(a.address).actor_execute(actor=a.key, function="cancel",
                                                                    args=[ids], kwargs={}), 5)
                for a, ids in queued), return_exceptions=True)
        for call in calls:
            call.settled = True
            if call.task is not None:
                call.task.cancel()

    # -------------------------------------------------------------------------------------------------
    def close_tasks(self, handles: list[Any]) -> None:
        lost = self.client.status != "running"
        if lost:  # closing interrupts the client's reconnect loop, which logs that as an error
            for name in ("distributed.client", "distributed.utils", "distributed.core"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self.client.sync(self._stop, handles)
        except Exception:
            pass
        try:
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


class RayExecutor(ClusterExecutor):
    """Submits Ray tasks (one CPU each); a task whose worker process died is retried by Ray."""

    def __init__(self, workers: int, owns_ray: bool = False) -> None:
        super().__init__()
        self.workers, self.owns_ray = workers, owns_ray
        self._remote: dict[Any, Any] = {}

    def slots(self) -> int:
        import ray

        return int(ray.cluster_resources().get("CPU", 0))

    def check_connected(self) -> None:
        import ray

        if not ray.is_initialized():
            raise EvaluatorLost("the Ray driver is disconnected")

    def start_task(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        import ray

        remote = self._remote.get(fn)
        if remote is None:  # register each function once, not per task
            remote = self._remote[fn] = ray.remote(num_cpus=1, max_retries=RAY_TASK_RETRIES)(fn)
        try:
            return remote.remote(*args, **kwargs)
        except ConnectionError as exc:
            raise EvaluatorLost(f"lost the Ray cluster: {exc}") from exc

    def watch_task(self, handle: Any, out: cf.Future[Any]) -> None:
        handle.future().add_done_callback(lambda f, out=out: self._settle(f, out))

    def _settle(self, inner: cf.Future[Any], out: cf.Future[Any]) -> None:
        if inner.cancelled():
            self.finish_task(out, cancelled=True)
            return
        exc = inner.exception()
        if exc is None:
            self.finish_task(out, inner.result())
        else:
            self.finish_task(out, error=EvaluatorLost(f"lost the Ray cluster: {exc}") if _ray_lost(exc) else exc)

    def close_tasks(self, handles: list[Any]) -> None:
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
