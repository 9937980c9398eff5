"""The parent side of the sandbox: start a warm zygote, hand it one candidate at a time, enforce deadlines.

The parent trusts nothing from the child but the decoded raw outputs (and the call timings, which it
checks against its own clock). Every way a candidate can fail ends as a classified `SandboxResult`.
What the child can see and do is described in docs/sandbox.md.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators import cgroup, session, syscalls, wire
from evaluators.status import VERDICTS, Status

log = logging.getLogger(__name__)

CHILD_SCRIPT = Path(__file__).with_name("child.py")
#: stages one sandbox run can have
MAX_STAGES = 4
#: variables the child may inherit: locale and numeric-library settings, never keys or tokens
ENV_PASSTHROUGH = ("LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TZ")
#: packages a candidate may import besides the standard library
DEFAULT_PACKAGES = ("numpy",)
#: modules the zygote imports before forking: candidates start warm, and where the interpreter's own
#: files are unreadable by the sandbox uid (e.g. Python under /root) these are all a candidate can import
DEFAULT_PRELOAD = ("numpy", "numpy.linalg", "numpy.random", "numpy.ma", "numpy.fft", "math", "cmath", "random", "heapq", "bisect",
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
    max_output_items: int = 1_000_000  # values the parent decodes from one result frame's JSON part
    capture_bytes: int = 8192       # stdout/stderr bytes kept for the archive
    disk_mb: int = 64               # size of the private /tmp working directory (minimal root only)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            problem = limit_error(f.name, getattr(self, f.name))
            if problem is not None:
                raise ValueError(f"Limits.{f.name} {problem}")


#: the Limits fields that are times in seconds; the others are counts (MB, files, processes, bytes)
TIME_LIMITS = ("split_wall_s", "instance_wall_s", "cpu_s")


def limit_error(name: str, value: float) -> str | None:
    """What is wrong with `value` for the Limits field `name`, or None when the sandbox can enforce it.

    An infinite time cannot be sent to the child, and a negative count would reach setrlimit as
    "unlimited". `Limits` refuses both when it is made; the run's configuration check names the key.
    """
    if name in TIME_LIMITS:
        return None if 0 < value < float("inf") else f"must be a positive, finite number of seconds, not {value}"
    return None if value >= 0 else f"must be 0 or more, not {value} (a negative limit would lift it)"


@dataclass(frozen=True)
class Isolation:
    """Which isolation mechanisms to request; what was achieved is reported per run (docs/sandbox.md)."""

    netns: bool = True              # a fresh network namespace (needs root or user namespaces)
    drop_uid: bool = True           # run as an unprivileged uid when started as root
    uid_base: int = 61000           # sandbox uids are uid_base + slot
    filesystem: bool = True         # a mount namespace whose root is empty but for a private /tmp
    pidns: bool = True              # the candidate is the init of its own PID namespace
    ipc: bool = True                # fresh IPC and UTS namespaces
    userns: bool = True             # when not root, a user namespace to get the namespaces above
    audit: bool = True              # the audit-hook pre-filter that classifies attempts as `forbidden`
    rootless: bool = False          # when root: run the zygote as the sandbox uid, as a non-root user would
    seccomp: bool = True            # the syscall filter (evaluators/syscalls.py), where libseccomp loads
    cgroup: bool = True             # one memory and task budget per candidate (evaluators/cgroup.py), as root
    socket_families: tuple[int, ...] = ()  # socket address families the filter lets a candidate open
    #: the zygote, its candidates and the thread that runs a job share one CPU, chosen by slot: each
    #: instance's inputs are a round trip between that thread and the candidate, and on one CPU a wake-up
    #: is a plain context switch instead of an interrupt to another (idle) CPU. Not a wall.
    pin_cpu: bool = True


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
    #: run each instance as an episode whose observations come from a session in the parent
    #: (evaluators/session.py); `inputs` then only count the instances and never reach the child
    interactive: session.Interactive | None = None

    @functools.cached_property
    def inputs_key(self) -> str:
        """`key`, or a digest of the inputs, computed once (every instance's inputs are looked up by it)."""
        return self.key or hashlib.sha256(wire.encode([list(a) for a in self.inputs])).hexdigest()[:24]


@dataclass(frozen=True)
class InstanceRun:
    """What the child returned for one instance."""

    index: int
    status: str
    output: Any = None
    times_ms: tuple[float, ...] = ()
    error: str | None = None
    #: the untimed-for-scoring warm-up calls, reported so the parent can account for its clock
    warmup_ms: tuple[float, ...] = ()


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
    #: parent-clock milliseconds from the child's "begin" of each instance to the end of its calls (kernel
    #: arrival stamps of the two messages, so independent of when the parent read them)
    parent_ms: tuple[float, ...] = ()
    #: CPU seconds and peak resident memory of the candidate's process (from the kernel, not the child)
    cpu_s: float | None = None
    maxrss_kb: int | None = None


def libs_dir(packages: Sequence[str] = DEFAULT_PACKAGES) -> str:
    """A folder holding links to just the allowed third-party packages, for the zygote's sys.path.

    Shared between sandboxes under a fixed name in the temp folder, and used only when it is ours, not
    writable by others and holds exactly the expected links: the zygote runs as root, and another local
    user must not be able to plant a module it imports.
    """
    import importlib.util

    names = sorted(packages)
    links: dict[str, str] = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        pkg = Path(spec.origin).parent
        links[name] = str(pkg)
        extra = pkg.parent / f"{name}.libs"
        if extra.is_dir():
            links[extra.name] = str(extra)
    digest = hashlib.sha1(repr(sorted(links.items())).encode()).hexdigest()[:10]
    root = Path(tempfile.gettempdir()) / f"evolve-libs-{os.getuid()}-{digest}"
    if _trusted_links(root, links):
        return str(root)
    tmp = Path(tempfile.mkdtemp(prefix="evolve-libs-"))
    for name, target in links.items():
        os.symlink(target, tmp / name)
    tmp.chmod(0o755)
    try:
        os.rename(tmp, root)
    except OSError:
        pass
    if _trusted_links(root, links):
        shutil.rmtree(tmp, ignore_errors=True)
        return str(root)
    return str(tmp)  # the shared name is taken by something we do not trust: keep a private folder


def _trusted_links(folder: Path, links: dict[str, str]) -> bool:
    try:
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            return False
        entries = os.listdir(folder)
        return sorted(entries) == sorted(links) and all(
            os.readlink(folder / name) == target for name, target in links.items())
    except OSError:
        return False


def child_env() -> dict[str, str]:
    """The child's whole environment: no keys, no tokens, one thread per numeric library."""
    env = {k: os.environ[k] for k in ENV_PASSTHROUGH if k in os.environ}
    env.update({"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONHASHSEED": "0",
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


class Sandbox:
    """A warm zygote owned by one worker slot; `run` evaluates one candidate at a time."""

    #: instances' inputs kept as sealed memfds (one per instance), so a split is encoded once per sandbox
    INPUTS_CACHE = 256

    def __init__(self, slot: int = 0, isolation: Isolation | None = None,
                 packages: Sequence[str] = DEFAULT_PACKAGES, preload: Sequence[str] = DEFAULT_PRELOAD,
                 disk_mb: int | None = None) -> None:
        self.slot = slot
        #: size of each candidate's private /tmp (fixed per zygote: its children are forked ahead of jobs)
        self.disk_mb = int(disk_mb) if disk_mb is not None else Limits().disk_mb
        self.isolation = isolation or Isolation()
        self.packages = tuple(packages)
        self.preload = tuple(preload)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._ctrl_buf = bytearray()  # bytes read from the zygote beyond the last complete message
        self._inputs: OrderedDict[tuple[str, int, bool], bytes | int] = OrderedDict()
        self._lock = threading.Lock()
        #: a finished candidate whose exit is collected before the next job: (pid, its working folder)
        self._exiting: tuple[int, Path | None] | None = None
        #: whether the last candidate ran in its own empty root (its /tmp a private tmpfs): the next one
        #: then gets no working folder on the host (making and removing one costs 2-3 ms of every
        #: evaluation under load); one that cannot build its root after all asks for a folder
        self._rooted = False
        #: the sandbox's own folder: the zygote's working directory and log, the mount point of the
        #: candidates' empty root and their job-* working folders; `close` removes it with all of them
        self.tmp_root = Path(tempfile.mkdtemp(prefix="evolve-sbx-"))
        self.tmp_root.chmod(0o711)
        self._root_dir = self.tmp_root / "root"  # mount point of the candidate's empty root
        self._root_dir.mkdir(mode=0o700)
        self._groups: dict[str, Any] | None = None  # the candidates' control groups ({}: unavailable)
        #: namespaces the zygote itself entered (shared by its candidates), known once it has started
        self.zygote_isolation: dict[str, Any] = {}
        self._zygote_uid: int | None = None
        #: the CPU of this sandbox's zygote, candidates and (while a job runs) calling thread, or None
        self.cpu = _claim_cpu(slot) if self.isolation.pin_cpu else None
        if self.isolation.rootless and os.geteuid() == 0:
            self._zygote_uid = self.isolation.uid_base + self.slot
            os.chown(self._root_dir, self._zygote_uid, self._zygote_uid)

    @property
    def uid(self) -> int | None:
        """The unprivileged uid candidates run as, or None when they keep ours."""
        if (self.isolation.drop_uid or self.isolation.rootless) and os.geteuid() == 0:
            return self.isolation.uid_base + self.slot
        return None

    # -- lifecycle ----------------------------------------------------------------------------------
    def _bpf_hex(self) -> str | None:
        """The syscall filter for the zygote's candidates, or None (not requested, or not available here:
        `syscalls.program` says why, and `evolve doctor` reports it)."""
        if not self.isolation.seccomp:
            return None
        bpf, why = syscalls.program(tuple(sorted(self.isolation.socket_families)))
        if bpf is None:
            log.warning("sandbox: no syscall filter: %s", why)
            return None
        return bpf.hex()

    def _cgroups(self) -> dict[str, Any] | None:
        """This sandbox's pair of control groups, made at its first start (root only; a rootless zygote
        could not write to them), or None where they cannot be made (the reason is logged)."""
        if not self.isolation.cgroup or os.geteuid() != 0 or self._zygote_uid is not None:
            return None
        if self._groups is None:
            # a uid of its own under the syscall filter: RLIMIT_NPROC caps its threads, no v1 pids group needed
            own_tasks = self.uid is not None and self._bpf_hex() is not None
            self._groups, why = cgroup.create(f"evolve-{os.getpid()}-{self.slot}-{id(self) & 0xffff:x}",
                                              pids=not own_tasks)
            if self._groups is None:
                log.warning("sandbox: no per-candidate cgroup: %s", why)
                self._groups = {}
        return self._groups or None

    def _start(self) -> None:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_path = self.tmp_root / "zygote.log"
        uid = self.uid
        with open(log_path, "ab") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(CHILD_SCRIPT), "--zygote", str(child_sock.fileno()),
                 libs_dir(self.packages), ",".join(self.preload),
                 json.dumps({"uid": uid, "isolation": dataclasses.asdict(self.isolation),
                             "root_dir": str(self._root_dir), "disk_mb": self.disk_mb,
                             "zygote_uid": self._zygote_uid, "bpf": self._bpf_hex(),
                             "cgroups": self._cgroups(), "cpu": self.cpu})],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                pass_fds=[child_sock.fileno()], env=child_env(), cwd=str(self.tmp_root),
                close_fds=True,
            )
        child_sock.close()
        self._sock = parent_sock
        try:  # the zygote imports numpy first; no candidate's clock should pay for that
            ready = self._ctrl_read(timeout=ZYGOTE_START_S)
        except (OSError, EOFError, wire.WireError) as exc:
            self.close_zygote()
            raise OSError(f"the sandbox zygote did not start: {exc}") from None
        self.zygote_isolation = dict(ready.get("isolation") or {})

    def close(self) -> None:
        """Stop the zygote and remove the temporary folders (a child not waited for dies with the zygote)."""
        self.close_zygote()
        if self.cpu is not None:
            _release_cpu(self.cpu)
            self.cpu = None
        for piece in self._inputs.values():
            if isinstance(piece, int):
                _close(piece)
        self._inputs.clear()
        if self._groups:
            _remove_groups(self._groups)
            self._groups = None
        shutil.rmtree(self.tmp_root, ignore_errors=True)

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
    def start(self) -> None:
        """Start the zygote now (it imports numpy) instead of at the first job; a no-op when it runs."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self._start()

    def run(self, job: Job, wait_exit: bool = True) -> SandboxResult:
        """Run `job` in a fresh child; always returns a classified result."""
        return self.run_stages([job], wait_exit=wait_exit)[0]

    def run_stages(self, jobs: Sequence[Job], proceed: Callable[[int, SandboxResult], bool] | None = None,
                   wait_exit: bool = True) -> list[SandboxResult]:
        """Run one candidate on several stages (a cascade) in one fresh child, one result per stage run.

        The jobs share the program (code, entry, driver, repeats, warm-up) and differ in inputs and limits.
        After each stage but the last, `proceed(stage, result)` decides (in this process, with the child
        waiting) whether the next stage runs; a stage that is not ok ends the run. One process per
        candidate instead of one per stage halves the sandbox's cost (fork, namespaces, exit).

        With `wait_exit=False`, a child that reported every result of its last stage (and flushed its
        output) is not waited for: the results return while it exits, its exit is collected before the
        next job (a child that lingers is killed then, as it would be now), and the last result carries
        no exit status or kernel usage (`exit` is "not awaited", `cpu_s` and `maxrss_kb` None). Its
        working folder is removed once it is gone. A run that ended any other way is classified by its exit.
        """
        if not 1 <= len(jobs) <= MAX_STAGES:
            raise ValueError(f"a sandbox run has 1 to {MAX_STAGES} stages, got {len(jobs)}")
        first = jobs[0]
        if any((j.code, j.entry, j.driver, j.repeats, j.warmup) != (first.code, first.entry, first.driver,
                                                                    first.repeats, first.warmup) for j in jobs):
            raise ValueError("the stages of one sandbox run must run the same program the same way")
        if any(j.interactive is not None for j in jobs) and (
                first.repeats > 1 or first.warmup > 0 or any(j.interactive is None for j in jobs)):
            raise ValueError("interactive stages are not timed, and every stage of the run must be interactive")
        if self.cpu is None:
            return self._run_stages(jobs, proceed, wait_exit)
        try:  # the calling thread joins the candidate's CPU for the job (a thread of the caller's: restored)
            before = os.sched_getaffinity(0)
            os.sched_setaffinity(0, (self.cpu,))
        except OSError:  # e.g. the CPU was taken from this process's set since: run unpinned
            return self._run_stages(jobs, proceed, wait_exit)
        try:
            return self._run_stages(jobs, proceed, wait_exit)
        finally:
            try:
                os.sched_setaffinity(0, before)
            except OSError:
                pass

    def _run_stages(self, jobs: Sequence[Job], proceed: Callable[[int, SandboxResult], bool] | None,
                    wait_exit: bool) -> list[SandboxResult]:
        with self._lock:
            for attempt in range(2):
                try:
                    self._reap_exiting()
                    self._ensure_started()
                    return self._run(jobs, proceed, wait_exit)
                except _CallerError as exc:  # the caller's `proceed` failed: its error, not the sandbox's
                    raise exc.error from None
                except _NeedsWorkdir:  # its process could not build the empty root: again, with a folder
                    continue
                except (OSError, EOFError, wire.WireError, ValueError) as exc:
                    detail = _tail_file(self.tmp_root / "zygote.log", 2000).strip().splitlines()[-1:]
                    log.warning("sandbox zygote failed (%s); restarting it", exc)
                    self.close_zygote()
                    if attempt == 1:
                        return [SandboxResult("crash", f"sandbox infrastructure failure: {exc} "
                                              f"{' '.join(detail)}".strip(), (), 0.0)]
            raise AssertionError("unreachable")

    def close_zygote(self) -> None:
        if self._exiting is not None:  # that child dies with the zygote (PR_SET_PDEATHSIG)
            _remove(self._exiting[1])
            self._exiting = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._ctrl_buf.clear()  # what a dead zygote left unread is not the next one's
        if self._proc is not None:
            try:
                self._proc.kill()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._proc = None

    def _ctrl_read(self, timeout: float) -> dict[str, Any]:
        """The zygote's next message; TimeoutError when none is complete within `timeout` seconds."""
        assert self._sock is not None
        deadline = time.monotonic() + timeout
        reply = wire.read_frame(lambda n: self._ctrl_take(n, deadline), 1 << 20)
        if not isinstance(reply, dict):
            raise wire.WireError("the zygote sent a malformed reply")
        return reply

    def _ctrl_take(self, n: int, deadline: float) -> bytes:
        """The next `n` bytes from the zygote.

        The socket stays blocking: a `select` bounds each wait, and one `recv` takes whatever has
        arrived, usually a whole message, keeping the rest for the next call. With a socket timeout a
        message takes six system calls (an `ioctl` to set it and one to clear it, and a `poll` and a
        `recv` each for the prefix and the body) where this takes two: eight fewer per candidate, each
        a turn of the GIL.
        """
        buf, sock = self._ctrl_buf, self._sock
        assert sock is not None
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise TimeoutError("the zygote did not answer in time")
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise EOFError("zygote closed its control socket")
            buf += chunk
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def _inputs_piece(self, job: Job, i: int, as_fd: bool = False) -> bytes | int:
        """Instance i's inputs alone, the child gets each instance's only when it is due: the encoded
        frame when it is small enough to travel in one message, else (or `as_fd`) a sealed memfd."""
        key = (job.inputs_key, i, as_fd)
        piece = self._inputs.get(key)
        if piece is None:
            frame = wire.encode(list(job.inputs[i]))
            piece = frame if len(frame) <= INLINE_BYTES and not as_fd else _sealed_memfd("inputs", frame)
            self._inputs[key] = piece
            while len(self._inputs) > self.INPUTS_CACHE:
                old = self._inputs.popitem(last=False)[1]
                if isinstance(old, int):
                    _close(old)
        else:
            self._inputs.move_to_end(key)
        return piece

    def _payload(self, jobs: Sequence[Job], workdir: Path | None) -> dict[str, Any]:
        uid = self.uid
        job = jobs[0]
        # the process-wide limits: the CPU budget of every stage together, the rest as the first stage's
        limits = {**_fields(job.limits), "cpu_s": sum(j.limits.cpu_s for j in jobs)}
        return {
            "code": job.code, "entry": job.entry, "driver": job.driver, "repeats": job.repeats,
            "warmup": job.warmup, "workdir": None if workdir is None else str(workdir),
            "root_dir": str(self._root_dir),
            "limits": limits, "uid": uid, "gid": uid, "counts": [len(j.inputs) for j in jobs],
            "isolation": _fields(self.isolation),
            "interactive": job.interactive.limits.reply_bytes if job.interactive is not None else 0,
        }

    def _feed(self, results: socket.socket, job: Job, episodes: session.Episodes | None, i: int) -> None:
        """Hand the child instance i's inputs (only once it has reported every earlier instance); for an
        episode, the first observation of its session."""
        if episodes is None:
            _send_next(results, self._inputs_piece(job, i))
        else:
            _send_frame(results, wire.encode(list(episodes.begin(i))))

    def _reap_exiting(self) -> None:
        """Collect the exit of the candidate that returned its results without being waited for."""
        if self._exiting is None:
            return
        pid, workdir = self._exiting
        self._exiting = None
        try:
            if self._sock is not None:
                self._final_status(pid)
        except (OSError, EOFError, wire.WireError):
            self.close_zygote()  # its children die with it
        finally:
            _remove(workdir)

    def _run(self, jobs: Sequence[Job], proceed: Callable[[int, SandboxResult], bool] | None,
             wait_exit: bool) -> list[SandboxResult]:
        assert self._sock is not None
        workdir = None
        if not self._rooted:
            workdir = Path(tempfile.mkdtemp(prefix="job-", dir=self.tmp_root))
            if self.uid is not None:
                os.chown(workdir, self.uid, self.uid)
        fds: list[int] = []
        results: socket.socket | None = None
        done: list[SandboxResult] = []
        pid: int | None = None
        exiting = False  # the child's exit is left to the next job (wait_exit=False, every result in)
        episodes = [session.Episodes(j.interactive) if j.interactive is not None else None for j in jobs]
        try:
            if jobs[0].inputs and episodes[0] is not None:  # not cached: a session's observation
                first_fd = _sealed_memfd("inputs", wire.encode(list(episodes[0].begin(0))))
                fds.append(first_fd)
            elif jobs[0].inputs:
                first_fd = int(self._inputs_piece(jobs[0], 0, as_fd=True))
            else:  # a stage without instances: the child never reads it
                first_fd = _sealed_memfd("inputs", wire.encode([]))
                fds.append(first_fd)
            job_fd = _sealed_memfd("job", wire.encode_plain(self._payload(jobs, workdir)))
            fds.append(job_fd)
            out_fd = os.memfd_create("stdout", os.MFD_CLOEXEC)
            err_fd = os.memfd_create("stderr", os.MFD_CLOEXEC)
            fds += [out_fd, err_fd]
            results, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with theirs:
                results.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                start = time.monotonic()
                budget = f"J{jobs[0].limits.memory_mb},{jobs[0].limits.nproc}".encode()
                socket.send_fds(self._sock, [budget], [theirs.fileno(), job_fd, out_fd, err_fd, first_fd])
            reply = self._ctrl_read(timeout=30.0)
            if "error" in reply:
                raise OSError(str(reply["error"]))
            pid = int(reply["pid"])
            isolation: dict[str, Any] | None = None  # reported once, at the start of the first stage
            for stage, job in enumerate(jobs):
                collected = _collect(results, pid, len(job.inputs), job.limits, start,
                                     functools.partial(self._feed, results, job, episodes[stage]), episodes[stage])
                if stage == 0 and collected.events:  # the first frame comes before any candidate code
                    iso = collected.events[0].get("isolation")
                    self._rooted = isinstance(iso, dict) and str(iso.get("filesystem", "")).startswith(
                        "minimal-root")
                wall = time.monotonic() - start
                if stage + 1 == len(jobs) or not collected.events or collected.events[-1]["event"] != "stage_end" \
                        or collected.timed_out or collected.wire_error:
                    break  # the last stage, or the process ended early: classified below with its exit
                res = _classify(collected, {}, job, wall, "", "")  # the child waits for the verdict
                isolation = res.isolation if isolation is None else isolation
                res = dataclasses.replace(res, isolation=isolation)
                if res.status != "ok" or (proceed is not None and not _ask(proceed, stage, res)):
                    _kill(pid)  # stopped by the cascade gate (or the stage failed): not run any further
                    break
                done.append(res)
                start = time.monotonic()
                if jobs[stage + 1].inputs:  # the go: the next stage's first instance
                    self._feed(results, jobs[stage + 1], episodes[stage + 1], 0)
                else:
                    _send_next(results, None)
            # the stage the run ended in, with the process's exit, usage and captured output
            complete = len(done) + 1 == len(jobs) and not collected.timed_out and not collected.wire_error \
                and bool(collected.events) and collected.events[-1]["event"] == "done"
            exiting = not wait_exit and complete  # then the child flushed its output before "done"
            if exiting:
                status, self._exiting, pid = {}, (pid, workdir), None
            else:
                status, pid = self._final_status(pid), None
                code = status.get("wait_status")
                if workdir is None and not collected.events and isinstance(code, int) \
                        and os.WIFEXITED(code) and os.WEXITSTATUS(code) == NEEDS_WORKDIR:
                    self._rooted = False
                    raise _NeedsWorkdir()
            res = _classify(collected, status, job, wall, _tail_fd(out_fd, job.limits.capture_bytes),
                            _tail_fd(err_fd, job.limits.capture_bytes))
            if exiting:
                res = dataclasses.replace(res, exit="not awaited")
            done.append(res if isolation is None else dataclasses.replace(res, isolation=isolation))
        finally:
            if pid is not None:  # an exception in `proceed` (the caller's scorer): the child goes
                _kill(pid)
                try:
                    self._final_status(pid)
                except (OSError, EOFError, wire.WireError):
                    self.close_zygote()
            for fd in fds:
                _close(fd)
            if results is not None:
                results.close()
            if not exiting:
                _remove(workdir)
        return done

    def _final_status(self, pid: int) -> dict[str, Any]:
        """The zygote's report once the child is gone; a child that lingers after its results is killed."""
        try:
            return self._ctrl_read(timeout=GRACE_S)
        except TimeoutError:
            pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        return self._ctrl_read(timeout=30.0)


#: a plain int: `int & socket.MSG_TRUNC` goes through enum.Flag (1.1 µs a message, against 18 ns)
MSG_TRUNC = int(socket.MSG_TRUNC)
#: SO_TIMESTAMPNS (Linux): the kernel stamps each message with its arrival time
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
#: bytes asked for per message; more than the child ever puts in one (it sends at most 64 KiB at a time)
RECV_BYTES = 1 << 18
#: seconds the zygote may take to import the preloaded modules
ZYGOTE_START_S = 60.0
#: seconds a child may take to exit after its last result before it is killed
GRACE_S = 2.0


#: room for an event's envelope (and a failure's text) around a decision of `StepLimits.reply_bytes`
STEP_FRAME_SLACK = 1 << 15
#: inputs of at most this many bytes travel inside the message that hands them over (child.py's INLINE_BYTES)
INLINE_BYTES = 1 << 15
#: exit code of a candidate's process that could not build its empty root and was given no host folder
#: (child.py's NEEDS_WORKDIR: the child runs as a script and cannot import this module)
NEEDS_WORKDIR = 76


class _NeedsWorkdir(Exception):
    """The job goes again with a working folder on the host (the child ran nothing)."""


def _remove_groups(groups: dict[str, Any]) -> None:
    """Remove a sandbox's control groups (a process that never closed its sandboxes leaves them empty;
    the next `cgroup.create` on the machine removes those)."""
    for _ in range(50):  # the zygote's children die with it, a moment later
        cgroup.remove(groups)
        if not any(os.path.isdir(d) for d in groups["dirs"]):
            break
        time.sleep(0.01)


def _send_next(results: socket.socket, piece: bytes | int | None) -> None:
    """b"N" with the next instance's inputs (in the message, or a memfd); alone, the go of a stage
    without instances."""
    try:
        if piece is None:
            results.send(b"N")
        elif isinstance(piece, bytes):
            results.send(b"N" + piece)
        else:
            socket.send_fds(results, [b"N"], [piece])
    except OSError:
        pass  # it died: what follows finds no results and reads the exit status


def _send_frame(results: socket.socket, frame: bytes, poller: session.Poller | None = None) -> None:
    """b"N" with one encoded frame (a session's observation): in the message, or a sealed memfd."""
    if len(frame) <= INLINE_BYTES and poller is not None and poller.send(b"N" + frame):
        return
    if len(frame) <= INLINE_BYTES:
        _send_next(results, frame)
        return
    fd = _sealed_memfd("inputs", frame)
    try:
        _send_next(results, fd)
    finally:
        os.close(fd)


def _send_end(results: socket.socket) -> None:
    """b"E": the last episode of the stage is over (the child goes on to its stage end)."""
    try:
        results.send(b"E")
    except OSError:
        pass


def _remove(workdir: Path | None) -> None:
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


class _CallerError(Exception):
    """Carries an exception raised by the caller's `proceed` past the sandbox's own error handling."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _ask(proceed: Callable[[int, SandboxResult], bool], stage: int, result: SandboxResult) -> bool:
    try:
        return bool(proceed(stage, result))
    except Exception as exc:
        raise _CallerError(exc) from exc


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _close(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


_cpus_lock = threading.Lock()
#: how many open pinned sandboxes of this process use each CPU
_cpus_used: Counter[int] = Counter()


def _claim_cpu(slot: int) -> int | None:
    """A CPU for a sandbox: the allowed CPUs in turn by slot (slots are unique on the machine,
    `dispatch.claim_slot`, so the sandboxes of several processes spread over the CPUs), unless another
    sandbox of this process already uses that CPU while one is free of them: the workers of one run then
    never share a CPU while another has none of theirs. None with only one CPU."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if len(cpus) < 2:
        return None
    with _cpus_lock:
        # the least used CPU of this process, the slot's own first among equals
        cpu = min(cpus, key=lambda c: (_cpus_used[c], (cpus.index(c) - slot) % len(cpus)))
        _cpus_used[cpu] += 1
    return cpu


def _release_cpu(cpu: int) -> None:
    with _cpus_lock:
        _cpus_used[cpu] -= 1
        if _cpus_used[cpu] <= 0:
            del _cpus_used[cpu]


@functools.lru_cache(maxsize=64)
def _fields(settings: Limits | Isolation) -> dict[str, Any]:
    """The fields of frozen, flat settings as a dict (not to be changed: it is shared between calls).
    dataclasses.asdict deep-copies on every call, about 0.1 ms per job for the two settings."""
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


def _sealed_memfd(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding `data` that nobody (the child included) can change any more."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    return fd


@dataclass
class _Collected:
    events: list[dict[str, Any]] = field(default_factory=list)
    timed_out: str | None = None
    wire_error: str | None = None
    parent_ms: list[float] = field(default_factory=list)
    #: the first refusal the child's pre-filter reported (sticky: nothing the candidate does after undoes it)
    forbidden: str | None = None


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's arrival time (seconds) of a received message, when the socket records it."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack_from("qq", data)
            return sec + nsec / 1e9
    return None


def _collect(sock: socket.socket, pid: int, n_instances: int, lim: Limits, start: float,
             feed: Callable[[int], None], episodes: session.Episodes | None = None) -> _Collected:
    """Read result frames until `done`, EOF, a deadline, a refusal or a malformed frame; kill the child if
    needed. `feed(i)` hands the child instance i's inputs once it has reported i results. With `episodes`,
    each instance is an episode: every `step` frame is answered with the session's next observation, and
    the instance's result is made here when the session ends it (evaluators/session.py).

    The result channel is a SOCK_SEQPACKET socket that timestamps each message as the kernel queues
    it, so an instance's parent-clock time does not depend on when this process gets to read it.
    """
    out = _Collected()
    buf = bytearray()
    cap = lim.max_output_mb << 20
    split_deadline = start + lim.split_wall_s
    instance_deadline = start + lim.instance_wall_s + 2.0  # loading the module counts toward the first
    step_deadline = float("inf")  # while the child holds an observation: when its decision is due
    poller = session.Poller(sock, RECV_BYTES) if episodes is not None else None
    if episodes is not None:
        frame_cap = episodes.limits.reply_bytes + STEP_FRAME_SLACK
        cap = frame_cap * 4  # one message at a time: the child waits for the answer to each decision
    consumed = received = 0  # stream offsets of buf[0] and of buf's end
    marks: deque[tuple[int, float]] = deque()  # (stream offset where a message starts, its arrival)
    begun_at = time.time()  # the kernel stamps are wall-clock (CLOCK_REALTIME) times
    called_at: float | None = None
    results = 0
    done = False
    while not done:
        now = time.monotonic()
        deadline = min(split_deadline, instance_deadline, step_deadline)
        if now >= deadline:
            if step_deadline <= min(split_deadline, instance_deadline) and episodes is not None:
                out.timed_out = (f"step {episodes.steps}: exceeded the {episodes.limits.step_wall_s:g} s "
                                 "wall-clock limit per step")
                break
            which = "split" if split_deadline <= instance_deadline else "instance"
            budget = lim.split_wall_s if which == "split" else lim.instance_wall_s
            out.timed_out = f"exceeded the {budget:g} s wall-clock limit per {which}"
            break
        polled = poller.poll(session.SPIN_S) if poller is not None and step_deadline < float("inf") else None
        if polled is not None:  # a decision that came quickly (no kernel stamp: steps are not timed)
            ancillary: list[tuple[int, int, bytes]] = []
            data, flags = polled
        else:
            ready, _, _ = select.select([sock], [], [], deadline - now)
            if not ready:
                continue
            try:
                data, ancillary, flags, _addr = sock.recvmsg(RECV_BYTES, socket.CMSG_SPACE(16))
            except (BlockingIOError, InterruptedError):
                continue
        if not data:
            if _arrival(ancillary) is not None:  # a message of no bytes (end of file carries no stamp)
                out.wire_error = "protocol error: the child sent an empty message"
            break
        if flags & MSG_TRUNC:
            out.wire_error = "the child sent an oversized message"
            break
        arrived = _arrival(ancillary)
        marks.append((received, arrived if arrived is not None else time.time()))
        received += len(data)
        if episodes is not None:  # bounded per frame, not per stage (the steps are counted)
            if len(buf) + len(data) > cap:
                out.wire_error = f"the child sent more than {cap} bytes without waiting for an answer"
                break
        elif received > cap:
            out.wire_error = f"the child sent more than {lim.max_output_mb} MB of results"
            break
        buf += data
        while len(buf) >= wire.HEADER.size:
            hlen, plen = wire.HEADER.unpack_from(buf)
            if hlen + plen > cap:
                out.wire_error = f"a result frame of {hlen + plen} bytes exceeds the cap"
                done = True
                break
            if episodes is not None and hlen + plen > frame_cap:
                out.wire_error = (f"step {episodes.steps}: a reply of {hlen + plen} bytes exceeds the limit of "
                                  f"{episodes.limits.reply_bytes} bytes per decision")
                done = True
                break
            end = wire.HEADER.size + hlen + plen
            if len(buf) < end:
                break
            try:
                event = wire.decode(bytes(buf[wire.HEADER.size:end]), hlen, max_items=lim.max_output_items)
            except wire.WireError as exc:
                out.wire_error = f"malformed result frame: {exc}"
                done = True
                break
            while len(marks) > 1 and marks[1][0] <= consumed:
                marks.popleft()
            stamp = marks[0][1]  # when the message holding the frame's first byte arrived
            del buf[:end]
            consumed += end
            if not isinstance(event, dict) or not isinstance(event.get("event"), str):
                out.wire_error = "malformed result frame: not an event"
                done = True
                break
            kind = event["event"]
            if episodes is not None and kind in ("step", "result"):
                if kind == "result" and event.get("status") == "ok":
                    out.wire_error = "protocol error: the child reported the result of an episode the parent plays"
                    done = True
                    break
                if kind == "result":  # the candidate failed on an observation: say on which step
                    if isinstance(event.get("error"), str):
                        event["error"] = f"step {episodes.steps}: {event['error']}"
                    out.events.append(event)
                    done = True
                    continue
                verdict, value = episodes.answer(event)
                step_deadline = float("inf")
                if verdict == "observation":
                    _send_frame(sock, wire.encode(list(value)), poller)
                    step_deadline = time.monotonic() + episodes.limits.step_wall_s
                    continue
                if verdict == "invalid":
                    out.events.append({"event": "result", "i": episodes.index, "status": "invalid", "error": value})
                    done = True
                    continue
                out.events.append({"event": "result", "i": episodes.index, "status": "ok", "output": value})
                results += 1
                instance_deadline = time.monotonic() + lim.instance_wall_s
                _send_end(sock)  # then the next episode's first observation, as the next instance's inputs
                if results < n_instances:
                    feed(results)
                    step_deadline = time.monotonic() + episodes.limits.step_wall_s
                continue
            out.events.append(event)
            if kind == "start":
                begun_at = stamp  # without "begin" marks, an instance's clock starts where the last ended
            elif kind == "begin":
                begun_at, called_at = stamp, None
                instance_deadline = time.monotonic() + lim.instance_wall_s
            elif kind == "called":
                called_at = stamp
            elif kind == "result":
                ended = called_at if called_at is not None else stamp
                out.parent_ms.append(max(0.0, ended - begun_at) * 1e3)
                begun_at, called_at = stamp, None
                instance_deadline = time.monotonic() + lim.instance_wall_s
                results += 1
                if event.get("status") != "ok":
                    done = True
                elif results < n_instances:
                    feed(results)
            elif kind == "forbidden":
                reason = event.get("reason")
                out.forbidden = reason if isinstance(reason, str) and reason else "an attempt the pre-filter refused"
                done = True
            elif kind in ("done", "load", "stage_end"):
                done = True
    if not done or out.timed_out or out.wire_error or out.forbidden:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    return out


def _cut(size: int, limit: int, read: Any) -> str:
    """At most `limit` bytes of a `size`-byte capture: its head and its tail around a note of the cut."""
    if size > limit:
        data = read(0, limit // 2) + f"\n… [{size - limit} bytes cut] …\n".encode() + read(
            size - limit // 2, limit // 2)
    else:
        data = read(0, size)
    return data.decode("utf-8", "replace")


def _tail_fd(fd: int, limit: int) -> str:
    try:
        return _cut(os.fstat(fd).st_size, limit, lambda off, n: os.pread(fd, n, off))
    except OSError:
        return ""


def _tail_file(path: Path, limit: int) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    try:
        return _tail_fd(fd, limit)
    finally:
        os.close(fd)


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


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _times(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(_number(t) is not None and t >= 0 for t in value):
        return ()
    return tuple(float(t) for t in value)


def _classify(c: _Collected, final: dict[str, Any], job: Job, wall: float, stdout: str,
              stderr: str) -> SandboxResult:
    wait_status = final.get("wait_status")
    wait_status = wait_status if isinstance(wait_status, int) and not isinstance(wait_status, bool) else -1
    cpu_s = _number(final.get("cpu_s"))
    maxrss = final.get("maxrss_kb") if isinstance(final.get("maxrss_kb"), int) else None
    exit_text = _describe_wait(wait_status)
    n = len(job.inputs)
    timed = job.repeats > 1 or job.warmup > 0  # the child marks each instance's begin only then
    isolation: dict[str, Any] = {}
    runs: list[InstanceRun] = []
    status, error = "ok", None
    begun = -1
    for k, ev in enumerate(c.events):
        kind = ev["event"]
        if kind == "start":
            # written before any candidate code ran, so only the very first frame is trusted
            if k == 0 and isinstance(ev.get("isolation"), dict):
                isolation = ev["isolation"]
        elif kind == "load":
            status = _status(ev.get("status"))
            error = f"the program failed to load: {ev.get('error', '')}"
            break
        elif kind == "begin":
            i = ev.get("i")
            begun = i if isinstance(i, int) and not isinstance(i, bool) else -2
        elif kind == "result":
            i = ev.get("i")
            if not isinstance(i, int) or isinstance(i, bool) or i != len(runs) or i >= n or (timed and i != begun):
                status, error = "invalid", "the child reported results out of order"
                break
            st = _status(ev.get("status"))
            runs.append(InstanceRun(i, st, ev.get("output"), _times(ev.get("times_ms")),
                                    ev.get("error") if isinstance(ev.get("error"), str) else None,
                                    _times(ev.get("warmup_ms"))))
            if st != "ok":
                status, error = st, f"instance {i}: {runs[-1].error or st}"
                break
    finished = any(ev["event"] in ("done", "stage_end") for ev in c.events)
    if c.forbidden is not None:  # reported by the pre-filter the moment it refused: it overrides the rest
        status, error = "forbidden", f"instance {len(runs)}: {c.forbidden}"
    elif status == "ok":
        if c.wire_error:
            status, error = "invalid", c.wire_error
        elif c.timed_out:
            status, error = "timeout", f"instance {len(runs)}: {c.timed_out}"
        elif finished and len(runs) < n:
            status, error = "invalid", (f"protocol error: the child reported the end of the stage after "
                                        f"{len(runs)} of {n} results")
        elif len(runs) < n or not finished:
            status, error = _death(wait_status, len(runs), exit_text, cpu_s, job.limits, final)
        elif timed:
            problem = timing_error(runs, c.parent_ms)
            if problem:
                status, error = "invalid", problem
    return SandboxResult(status, error, tuple(runs), wall, stdout, stderr, exit_text, isolation,
                         tuple(c.parent_ms), cpu_s, maxrss)


#: reported call times (warm-ups included) must account for the parent's clock within these margins
TIMING_FACTOR = 1.25
TIMING_SLACK_MS = 10.0
TIMING_SLACK_PER_INSTANCE_MS = 2.0


def timing_error(runs: Sequence[InstanceRun], parent_ms: Sequence[float]) -> str | None:
    """Why the child's reported call times cannot be right, or None.

    `parent_ms` comes from the kernel's arrival stamps of the child's "begin" and "result" messages, so it
    is the parent's clock of each instance whatever the parent was doing. The child can forge frames, but
    it cannot make that clock run slower: time it does not report shows up as time nobody accounts for.
    (Claiming more than the parent saw gains a candidate nothing; evolve/evaluation.py checks it.)
    """
    claimed = sum(sum(r.times_ms) + sum(r.warmup_ms) for r in runs)
    seen = sum(parent_ms[: len(runs)])
    if seen > claimed * TIMING_FACTOR + TIMING_SLACK_MS + TIMING_SLACK_PER_INSTANCE_MS * len(runs):
        return (f"the reported call times ({claimed:.1f} ms) do not account for the parent's clock of the "
                f"same calls ({seen:.1f} ms)")
    return None


def _status(value: Any) -> str:
    return value if value in VERDICTS else Status.CRASH.value


def _death(wait_status: int, got: int, exit_text: str, cpu_s: float | None,
           lim: Limits, final: dict[str, Any]) -> tuple[str, str]:
    """Classify a child that ended without finishing: signals map to the limit that sent them."""
    where = f"instance {got}"
    if final.get("oom") is True:  # the candidate's cgroup reached its memory limit (the zygote read it)
        return "memory", f"{where}: the candidate's memory limit of {lim.memory_mb} MB ({exit_text})"
    if wait_status >= 0 and os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGSYS:
            return "forbidden", f"{where}: a system call the sandbox's syscall filter refuses ({exit_text})"
        # the kernel kills at the CPU limit; the reported usage lags its precise accounting a little
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s is not None
                                     and cpu_s >= 0.5 * max(1, int(lim.cpu_s))):
            return "timeout", f"{where}: CPU-time limit of {lim.cpu_s:g} s reached ({exit_text})"
        if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT):
            return "crash", f"{where}: {exit_text} (a C-level crash, e.g. stack overflow or memory exhaustion)"
        return "crash", f"{where}: {exit_text}"
    return "crash", f"{where}: the process {exit_text} before returning a result"
