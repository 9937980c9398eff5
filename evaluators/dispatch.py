"""Dispatch of evaluation tasks to workers: joblib's loky processes locally, Dask or Ray on a cluster.

Every backend is exposed as a `concurrent.futures.Executor`, so the loop submits and awaits futures the
same way whatever runs them. Per-candidate limits are enforced inside the task (by the sandbox); the
executor only moves work.
"""

from __future__ import annotations

import concurrent.futures as cf
import fcntl
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

MAX_SLOTS = 4096
_slot_lock = threading.Lock()
_held: list[Any] = []  # open lock files of the slots this process holds (released at exit)


def claim_slot() -> int:
    """A machine-wide unique sandbox slot (its uid offset) for this process or thread, held until exit.

    Two sandboxes with the same slot would share a uid, and sweeping one's leftovers would kill the
    other's candidate; an advisory lock per slot file prevents that across processes and runs.
    """
    folder = Path(tempfile.gettempdir()) / "evolve-slots"
    folder.mkdir(mode=0o755, exist_ok=True)
    with _slot_lock:
        for slot in range(MAX_SLOTS):
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
    """An executor for `kind`: local (loky processes), inline (threads in this process), dask or ray."""
    if kind == "inline":
        return cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evolve-eval")
    if kind == "local":
        from joblib.externals.loky import get_reusable_executor

        return get_reusable_executor(max_workers=workers, timeout=300, reuse=False,
                                     initializer=_ignore_sigint)
    if kind == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise RuntimeError("evaluator=dask needs the dask extra: pip install 'evolve[dask]'") from exc
        if address:
            client = Client(address)
        else:
            client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True))
        return client.get_executor()  # type: ignore[no-any-return]
    if kind == "ray":
        try:
            import ray
            from ray.util.multiprocessing import Pool  # noqa: F401
        except ImportError as exc:
            raise RuntimeError("evaluator=ray needs the ray extra: pip install 'evolve[ray]'") from exc
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else workers, ignore_reinit_error=True)
        return _RayExecutor(workers)
    raise ValueError(f"unknown evaluator {kind!r}")


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the loop, which stops cleanly and still needs them for the summary."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _RayExecutor(cf.Executor):
    """A minimal Executor over Ray remote functions."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        import ray

        remote = ray.remote(num_cpus=1, max_retries=2)(fn)
        return remote.remote(*args, **kwargs).future()  # type: ignore[no-any-return]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
