"""The parent side of the sandbox: start a warm zygote, hand it one candidate at a time, enforce deadlines.

The parent trusts nothing from the child but the decoded raw outputs (and the call timings, which it
checks against its own clock). Every way a candidate can fail ends as a classified `SandboxResult`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators import wire

log = logging.getLogger(__name__)

CHILD_SCRIPT = Path(__file__).with_name("child.py")
#: statuses a sandbox run can end with (the problem's validator may still turn `ok` into `invalid`)
STATUSES = ("ok", "invalid", "timeout", "memory", "crash", "forbidden")
#: variables the child may inherit: locale and numeric-library settings, never keys or tokens
ENV_PASSTHROUGH = ("LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TZ")
#: packages a candidate may import besides the standard library
DEFAULT_PACKAGES = ("numpy",)
#: modules the zygote imports before forking: candidates start warm, and where the interpreter's own
#: files are unreadable by the sandbox uid (e.g. Python under /root) these are all a candidate can import
DEFAULT_PRELOAD = ("numpy", "numpy.linalg", "numpy.random", "math", "cmath", "random", "heapq", "bisect",
                   "itertools", "functools", "collections", "operator", "statistics", "copy", "dataclasses",
                   "typing", "re", "fractions", "decimal", "array", "time")


@dataclass(frozen=True)
class Limits:
    """Per-candidate resource limits; every field has a safe default."""

    split_wall_s: float = 20.0      # wall clock for all instances of one evaluation
    instance_wall_s: float = 5.0    # wall clock for one instance (warm-up and repeats included)
    cpu_s: float = 30.0             # CPU seconds for the whole child
    memory_mb: int = 2048           # address space
    fsize_mb: int = 16              # largest file the child may write (stdout/stderr included)
    nofile: int = 64                # open files
    nproc: int = 64                 # processes/threads of the sandbox user (enforced when not root)
    max_output_mb: int = 64         # result bytes the parent accepts
    capture_bytes: int = 8192       # stdout/stderr bytes kept for the archive


@dataclass(frozen=True)
class Isolation:
    """Which isolation mechanisms to request; what was achieved is reported per run."""

    netns: bool = True              # a fresh network namespace (needs root or user namespaces)
    drop_uid: bool = True           # run as an unprivileged uid when started as root
    uid_base: int = 61000           # sandbox uids are uid_base + slot


@dataclass(frozen=True)
class Job:
    """One candidate to run on one set of inputs."""

    code: str
    entry: str
    inputs: tuple[tuple[Any, ...], ...]
    driver: str | None = None
    repeats: int = 1
    warmup: int = 0
    limits: Limits = field(default_factory=Limits)
    #: names the inputs so a zygote receives them once; derived from their bytes when not given
    key: str | None = None

    @property
    def inputs_key(self) -> str:
        return self.key or hashlib.sha256(wire.encode([list(a) for a in self.inputs])).hexdigest()[:24]


@dataclass(frozen=True)
class InstanceRun:
    """What the child returned for one instance."""

    index: int
    status: str
    output: Any = None
    times_ms: tuple[float, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class SandboxResult:
    """The classified outcome of running one candidate."""

    status: str
    error: str | None
    runs: tuple[InstanceRun, ...]
    wall_s: float
    stdout: str = ""
    stderr: str = ""
    exit: str = ""
    isolation: dict[str, Any] = field(default_factory=dict)
    #: parent-clock seconds between the child's "begin" of each instance and its result
    parent_ms: tuple[float, ...] = ()


def libs_dir(packages: Sequence[str] = DEFAULT_PACKAGES) -> str:
    """A folder holding links to just the allowed third-party packages, for the child's sys.path."""
    import importlib.util

    names = sorted(packages)
    root = Path(tempfile.gettempdir()) / f"evolve-libs-{os.getuid()}-{hashlib.sha1(repr(names).encode()).hexdigest()[:10]}"
    if root.is_dir():
        return str(root)
    tmp = Path(tempfile.mkdtemp(prefix="evolve-libs-"))
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        pkg = Path(spec.origin).parent
        os.symlink(pkg, tmp / name)
        extra = pkg.parent / f"{name}.libs"
        if extra.is_dir():
            os.symlink(extra, tmp / extra.name)
    tmp.chmod(0o755)
    try:
        os.rename(tmp, root)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(root)


def child_env() -> dict[str, str]:
    """The child's whole environment: no keys, no tokens, one thread per numeric library."""
    env = {k: os.environ[k] for k in ENV_PASSTHROUGH if k in os.environ}
    env.update({"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONHASHSEED": "0",
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


class Sandbox:
    """A warm zygote owned by one worker slot; `run` evaluates one candidate at a time."""

    def __init__(self, slot: int = 0, isolation: Isolation | None = None,
                 packages: Sequence[str] = DEFAULT_PACKAGES, preload: Sequence[str] = DEFAULT_PRELOAD) -> None:
        self.slot = slot
        self.isolation = isolation or Isolation()
        self.packages = tuple(packages)
        self.preload = tuple(preload)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._cached: set[str] = set()
        self._lock = threading.Lock()
        self._tmp_root = Path(tempfile.mkdtemp(prefix="evolve-sbx-"))
        self._tmp_root.chmod(0o711)

    # -- lifecycle ----------------------------------------------------------------------------------
    def _start(self) -> None:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_path = self._tmp_root / "zygote.log"
        with open(log_path, "ab") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(CHILD_SCRIPT), "--zygote", str(child_sock.fileno()),
                 libs_dir(self.packages), ",".join(self.preload)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                pass_fds=[child_sock.fileno()], env=child_env(), cwd=str(self._tmp_root),
                close_fds=True,
            )
        child_sock.close()
        self._sock = parent_sock
        self._cached = set()

    def close(self) -> None:
        """Stop the zygote and remove the temporary folders."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.kill()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._proc = None
        shutil.rmtree(self._tmp_root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: never leave a zygote behind
        try:
            self.close()
        except Exception:
            pass

    # -- one candidate ------------------------------------------------------------------------------
    def run(self, job: Job) -> SandboxResult:
        """Run `job` in a fresh child; always returns a classified result."""
        with self._lock:
            for attempt in range(2):
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                try:
                    return self._run(job)
                except (OSError, EOFError, wire.WireError, struct.error) as exc:
                    detail = _tail(self._tmp_root / "zygote.log", 2000).strip().splitlines()[-1:]
                    log.warning("sandbox zygote failed (%s); restarting it", exc)
                    self.close_zygote()
                    if attempt == 1:
                        return SandboxResult("crash", f"sandbox infrastructure failure: {exc} "
                                             f"{' '.join(detail)}".strip(), (), 0.0)
            raise AssertionError("unreachable")

    def close_zygote(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def _ctrl_read(self, timeout: float) -> dict[str, Any]:
        assert self._sock is not None
        self._sock.settimeout(timeout)
        try:
            return wire.read_frame(lambda n: _recv_exact(self._sock, n), 1 << 20)  # type: ignore[arg-type]
        finally:
            self._sock.settimeout(None)

    def _run(self, job: Job) -> SandboxResult:
        assert self._sock is not None
        lim = job.limits
        workdir = Path(tempfile.mkdtemp(prefix="job-", dir=self._tmp_root))
        uid = None
        if self.isolation.drop_uid and os.geteuid() == 0:
            uid = self.isolation.uid_base + self.slot
            os.chown(workdir, uid, uid)
        key = job.inputs_key
        payload = {
            "code": job.code, "entry": job.entry, "driver": job.driver, "inputs_key": key,
            "inputs": None if key in self._cached else [list(a) for a in job.inputs],
            "repeats": job.repeats, "warmup": job.warmup, "workdir": str(workdir),
            "limits": dataclasses.asdict(lim), "uid": uid, "netns": self.isolation.netns,
        }
        frame = wire.encode(payload)
        read_fd, write_fd = os.pipe()
        start = time.monotonic()
        try:
            socket.send_fds(self._sock, [struct.pack(">Q", len(frame))], [write_fd])
            os.close(write_fd)
            write_fd = -1
            self._sock.sendall(frame)
            self._cached.add(key)
            reply = self._ctrl_read(timeout=30.0)
            if "error" in reply:
                self._cached.discard(key)
                raise OSError(reply["error"])
            pid = int(reply["pid"])
            collected = _collect(read_fd, pid, len(job.inputs), lim, start)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        try:
            status_reply = self._ctrl_read(timeout=30.0)
            wait_status = int(status_reply.get("wait_status", 0))
        except (TimeoutError, socket.timeout):
            wait_status = -1
        wall = time.monotonic() - start
        stdout = _tail(workdir / "stdout.txt", lim.capture_bytes)
        stderr = _tail(workdir / "stderr.txt", lim.capture_bytes)
        shutil.rmtree(workdir, ignore_errors=True)
        return _classify(collected, wait_status, len(job.inputs), wall, stdout, stderr)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("zygote closed its control socket")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


@dataclass
class _Collected:
    events: list[dict[str, Any]] = field(default_factory=list)
    timed_out: str | None = None
    wire_error: str | None = None
    parent_ms: list[float] = field(default_factory=list)


def _collect(fd: int, pid: int, n_instances: int, lim: Limits, start: float) -> _Collected:
    """Read result frames until `done`, EOF, a deadline or a malformed frame; kill the child if needed."""
    out = _Collected()
    buf = bytearray()
    cap = lim.max_output_mb << 20
    split_deadline = start + lim.split_wall_s
    instance_deadline = start + lim.instance_wall_s + 2.0  # loading the module counts toward the first
    begun_at = start
    total = 0
    done = False
    while not done:
        now = time.monotonic()
        deadline = min(split_deadline, instance_deadline)
        if now >= deadline:
            which = "split" if split_deadline <= instance_deadline else "instance"
            budget = lim.split_wall_s if which == "split" else lim.instance_wall_s
            out.timed_out = f"exceeded the {budget:g} s wall-clock limit per {which}"
            break
        ready, _, _ = select.select([fd], [], [], deadline - now)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        total += len(chunk)
        if total > cap:
            out.wire_error = f"the child sent more than {lim.max_output_mb} MB of results"
            break
        buf += chunk
        while len(buf) >= wire.HEADER.size:
            hlen, plen = wire.HEADER.unpack_from(buf)
            if hlen + plen > cap:
                out.wire_error = f"a result frame of {hlen + plen} bytes exceeds the cap"
                done = True
                break
            end = wire.HEADER.size + hlen + plen
            if len(buf) < end:
                break
            try:
                event = wire.decode(bytes(buf[wire.HEADER.size:end]), hlen)
            except wire.WireError as exc:
                out.wire_error = f"malformed result frame: {exc}"
                done = True
                break
            del buf[:end]
            if not isinstance(event, dict) or not isinstance(event.get("event"), str):
                out.wire_error = "malformed result frame: not an event"
                done = True
                break
            out.events.append(event)
            kind = event["event"]
            t = time.monotonic()
            if kind == "begin":
                begun_at = t
                instance_deadline = t + lim.instance_wall_s
            elif kind == "result":
                out.parent_ms.append((t - begun_at) * 1e3)
                instance_deadline = t + lim.instance_wall_s
                if event.get("status") != "ok":
                    done = True
            elif kind in ("done", "load"):
                done = True
    if not done or out.timed_out or out.wire_error:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    return out


def _tail(path: Path, limit: int) -> str:
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if size > limit:
                head = fh.read(limit // 2)
                fh.seek(size - limit // 2)
                tail = fh.read()
                data = head + f"\n… [{size - limit} bytes cut] …\n".encode() + tail
            else:
                data = fh.read()
        return data.decode("utf-8", "replace")
    except OSError:
        return ""


def _describe_wait(status: int) -> str:
    if status < 0:
        return "unknown"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    return f"wait status {status}"


def _classify(c: _Collected, wait_status: int, n: int, wall: float, stdout: str,
              stderr: str) -> SandboxResult:
    exit_text = _describe_wait(wait_status)
    isolation: dict[str, Any] = {}
    runs: list[InstanceRun] = []
    status, error = "ok", None
    for ev in c.events:
        kind = ev["event"]
        if kind == "start" and isinstance(ev.get("isolation"), dict):
            isolation = ev["isolation"]
        elif kind == "load":
            status = _status(ev.get("status"))
            error = f"the program failed to load: {ev.get('error', '')}"
        elif kind == "result":
            i = ev.get("i")
            if not isinstance(i, int) or isinstance(i, bool) or i != len(runs) or i >= n:
                status, error = "invalid", "the child reported results out of order"
                break
            st = _status(ev.get("status"))
            times = ev.get("times_ms", [])
            if not isinstance(times, list) or not all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                                      for t in times):
                times = []
            runs.append(InstanceRun(i, st, ev.get("output"), tuple(float(t) for t in times),
                                    ev.get("error") if isinstance(ev.get("error"), str) else None))
            if st != "ok":
                status, error = st, f"instance {i}: {runs[-1].error or st}"
                break
    if status == "ok":
        if c.wire_error:
            status, error = "invalid", c.wire_error
        elif c.timed_out:
            status, error = "timeout", f"instance {len(runs)}: {c.timed_out}"
        elif len(runs) < n or not any(ev["event"] == "done" for ev in c.events):
            status, error = _death(wait_status, len(runs), exit_text)
    return SandboxResult(status, error, tuple(runs), wall, stdout, stderr, exit_text, isolation,
                         tuple(c.parent_ms))


def _status(value: Any) -> str:
    return value if value in STATUSES else "crash"


def _death(wait_status: int, got: int, exit_text: str) -> tuple[str, str]:
    """Classify a child that ended without finishing: signals map to the limit that sent them."""
    where = f"instance {got}"
    if wait_status >= 0 and os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGXCPU:
            return "timeout", f"{where}: CPU-time limit reached ({exit_text})"
        if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT):
            return "crash", f"{where}: {exit_text} (often memory exhaustion inside a C extension)"
        return "crash", f"{where}: {exit_text}"
    return "crash", f"{where}: the process {exit_text} before returning a result"
