"""The sandbox child side: a warm zygote that forks one fresh, confined process per candidate.

Run as a script (`python -I -S child.py --zygote FD LIBDIR MODULES CONFIG-JSON`), never imported by a
candidate. The zygote has numpy (and the other preloaded modules) imported already, so a candidate pays a
fork, not an interpreter start. It is a pure fork server that never reads a job: ahead of each job it forks
a *spare* as the init of a fresh PID namespace, which enters new mount and IPC namespaces and swaps the
filesystem for an empty root while the previous candidate still runs. The job's five descriptors — the
result socket, the job (a sealed memfd), stdout and stderr (memfds) and the first instance's inputs (a
sealed memfd) — go to the spare, which joins its cgroup (the zygote writes it there), drops to the sandbox
uid, sets rlimits and installs the syscall filter and the audit-hook pre-filter before it executes any
candidate code, in a thread of its own; it never serves another candidate. Results travel on the result
socket in the wire format; the parent answers each result with the next instance's inputs (b"N"), so no
later instance is in the process ahead of its call. A job of several stages (a cascade: quick, then
train) runs in this one process: after each stage but the last the child reports `stage_end` and waits
for the parent, which scores the stage and answers with the next stage's first inputs to go on (or kills
the process).
docs/sandbox.md describes what a candidate can see and do.

Protocol on the control socket (zygote <-> parent, both trusted): the zygote says {"ready": …} once warm;
the parent sends b"J<memory_mb>,<nproc>" with the five descriptors (SCM_RIGHTS); the zygote answers
{"pid": …} when the candidate has them and, once it has exited and its leftovers are gone,
{"pid": …, "wait_status": …, "cpu_s": …, "maxrss_kb": …, "oom": …}.
"""

from __future__ import annotations

import _thread
import builtins
import errno
import fcntl
import io
import json
import json.encoder
import linecache
import mmap
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # -I leaves the script's folder out
import cgroup  # noqa: E402  (sibling modules, loaded before any fork)
import guard  # noqa: E402
import jail  # noqa: E402
import wire  # noqa: E402

FORBIDDEN_MARK = guard.FORBIDDEN_MARK
#: descriptor layout inside the forked process
FD_RESULTS, FD_JOB, FD_INPUTS = 3, 4, 5  # FD_INPUTS: the first instance's inputs; the others come later
#: a job's descriptors: result socket, job, stdout, stderr, the first instance's inputs
JOB_FDS = 5
#: inputs of at most this many bytes come inside the parent's message, larger ones in a memfd (sandbox.py)
INLINE_BYTES = 1 << 15
#: the parent's go for a stage without instances
NOTHING = object()
#: the parent's word that the episode is over (interactive jobs, evaluators/session.py)
EPISODE_END = object()
#: exit code when the job came without a host folder and the empty root could not be built (sandbox.py)
NEEDS_WORKDIR = 76
MESSAGE_BYTES = 1 << 16
#: what the candidate's process keeps instead of freeing (freeing writes to copy-on-write pages)
_RETIRED: list[Any] = []
THREAD_LIMIT_TEXT = "can't start new thread"


def _send(sock: socket.socket, value: Any) -> None:
    sock.sendall(wire.encode_plain(value))


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _decode_fd(fd: int, *, mapped: bool) -> Any:
    """Decode the one frame a memfd holds; `mapped` keeps arrays as read-only views of the mapping."""
    if mapped:
        size = os.fstat(fd).st_size
        body: Any = mmap.mmap(fd, size, prot=mmap.PROT_READ) if size else b""
    else:
        body = _read_all(fd)
    header_len, payload_len = wire.HEADER.unpack(bytes(body[:wire.HEADER.size]))
    if wire.HEADER.size + header_len + payload_len != len(body):
        raise wire.WireError("frame size does not match the descriptor")
    view = memoryview(body)[wire.HEADER.size:]
    return wire.decode(view, header_len, writable=False)


# --------------------------------------------------------------------------------------------------
# captured stdout/stderr: printing never fails, the bytes beyond the cap are dropped and counted
# --------------------------------------------------------------------------------------------------
class _CappedWriter(io.RawIOBase):
    def __init__(self, fd: int, cap: int) -> None:
        super().__init__()
        self.fd, self.cap, self.written, self.dropped = fd, cap, 0, 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        room = max(0, self.cap - self.written)
        chunk = view[:room]
        try:
            while chunk:
                k = os.write(self.fd, chunk)
                self.written += k
                chunk = chunk[k:]
        except OSError:
            self.cap = self.written  # e.g. the file-size limit: drop the rest quietly
        self.dropped += len(chunk) + max(0, n - room)
        return n

    def note_dropped(self) -> None:
        if self.dropped:
            try:
                os.write(self.fd, f"\n… [{self.dropped} more bytes dropped by the sandbox]\n".encode())
            except OSError:
                pass


def _capped_stream(fd: int, cap: int) -> tuple[io.TextIOWrapper, _CappedWriter]:
    raw = _CappedWriter(fd, cap)
    return io.TextIOWrapper(io.BufferedWriter(raw, 1 << 14), encoding="utf-8",
                            errors="backslashreplace"), raw


# --------------------------------------------------------------------------------------------------
# the candidate's process: limits and pre-filter first, candidate second
# --------------------------------------------------------------------------------------------------
#: argument types whose text the harness renders itself (no candidate code runs to turn them into text)
_PLAIN = (str, int, float, bool, type(None), bytes)
_type_name = type.__dict__["__name__"].__get__  # the class's real name, whatever its metaclass claims
_type_mro = type.__dict__["__mro__"].__get__
_type_module = type.__dict__["__module__"].__get__
_exc_args = BaseException.__dict__["args"].__get__
_exc_tb = BaseException.__dict__["__traceback__"].__get__


def _plain_repr(value: Any) -> str:
    if type(value) in _PLAIN:
        try:
            return repr(value)[:500]
        except ValueError:  # an integer too long to print
            return f"<int of {int.bit_length(value)} bits>"
    return f"<{_type_name(type(value))} object>"


def _message(exc: BaseException) -> str:
    """The exception's message, rendered by a builtin class from plain values only.

    A candidate's exception (or its arguments) may define `__str__`/`__repr__`; the harness never calls
    them: it renders with the first builtin class of the exception's MRO when every argument (and an
    OSError's file names) is a plain value, and otherwise lists the arguments' plain values and types.
    """
    cls = type(exc)
    args = _exc_args(exc)
    extra: tuple[Any, ...] = ()
    if issubclass(cls, OSError):
        extra = (OSError.__dict__["filename"].__get__(exc), OSError.__dict__["filename2"].__get__(exc),
                 OSError.__dict__["strerror"].__get__(exc))
    if all(type(a) in _PLAIN for a in (*args, *extra)):
        base = next(k for k in _type_mro(cls) if _type_module(k) == "builtins")
        try:
            return base.__str__(exc)[:2000]  # type: ignore[no-any-return]
        except ValueError:
            pass
    return ", ".join(_plain_repr(a) for a in args)


def _error_text(exc: BaseException, lines: list[str], limit: int = 4000) -> str:
    """The exception and the candidate's own frames, quoted from its code (the harness's frames are
    noise to the LLM); nothing the candidate defined runs to produce it."""
    try:
        frames: list[tuple[str, int, str]] = []
        tb = _exc_tb(exc)
        while tb is not None and len(frames) < 1000:
            code = tb.tb_frame.f_code
            if code.co_filename != __file__:
                frames.append((code.co_filename, tb.tb_lineno, code.co_name))
            tb = tb.tb_next
        text = ""
        for filename, lineno, name in frames[-8:]:
            text += f'  File "{filename}", line {lineno}, in {name}\n'
            if filename == "candidate.py" and 0 < lineno <= len(lines):
                text += f"    {lines[lineno - 1].strip()}\n"
        message = _message(exc)
        text += _type_name(type(exc)) + (f": {message}" if message else "") + "\n"
    except BaseException:
        text = f"{_type_name(type(exc))} (its message could not be rendered)"
    return text[-limit:]


def _classify(exc: BaseException) -> tuple[str, str | None]:
    """Status of an exception that escaped the candidate, and a reason that overrides its text.

    A refusal of the pre-filter is classified by the parent, which the hook told at once.
    """
    cls = type(exc)
    try:
        text = _message(exc)
    except BaseException:
        text = ""
    if FORBIDDEN_MARK in text:
        return "forbidden", None
    if issubclass(cls, MemoryError):
        return "memory", None
    if issubclass(cls, OSError) and _exc_args(exc)[:1] == (errno.ENOMEM,):
        return "memory", "the address-space limit refused a mapping (ENOMEM)"
    if issubclass(cls, RuntimeError) and THREAD_LIMIT_TEXT in text:
        return "forbidden", "starting threads beyond the sandbox's process/thread limit"
    return "crash", None


def _restore(current: dict[str, Any], pristine: dict[str, Any]) -> None:
    """Undo a candidate's changes to the builtins, which the harness uses to report its results."""
    for name in [k for k in current if k not in pristine]:
        del current[name]
    current.update(pristine)


def _channel(fd: int) -> tuple[Any, Any, Any]:
    """`send(tree, buffers)` of result frames, `send_raw(frame)` of one encoded frame, and `receive()` of
    the next instance's inputs, on the result socket. All are bound now: nothing the candidate patches
    later reaches them.

    The inputs of instance i+1 come from the parent only after it holds instance i's result, so no
    future instance (EPLB scores instance i on window i+1) is ever in the process ahead of its call.
    """
    write, lock, pack, close = os.write, threading.Lock(), wire.pack, os.close
    # family and type given, so nothing is asked of the kernel; retired, so it is never finalised (a
    # socket collected unclosed formats a ResourceWarning, two more system calls and the warnings machinery)
    chan = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, fileno=os.dup(fd))
    _RETIRED.append(chan)
    recvmsg, space = chan.recvmsg, socket.CMSG_SPACE(4)
    sol_socket, scm_rights = int(socket.SOL_SOCKET), int(socket.SCM_RIGHTS)
    decode, decode_body, unpack_from, head = _decode_fd, wire.decode, wire.HEADER.unpack_from, wire.HEADER.size

    def send(tree: Any, buffers: Any = ()) -> None:
        pieces = pack(tree, list(buffers))
        with lock:  # one frame's pieces are not interleaved with a refusal the hook reports meanwhile
            for piece in pieces:
                # a SOCK_SEQPACKET socket: every write is one message, stamped by the kernel
                view = memoryview(piece).cast("B")
                while view:
                    view = view[write(fd, view[:MESSAGE_BYTES]):]

    def send_raw(frame: bytes) -> None:
        with lock:
            write(fd, frame)

    def receive() -> Any:
        """The next message of the parent: an instance's inputs or an episode's next observation (in the
        message, or in a memfd it carries), NOTHING (a go for a stage without instances), EPISODE_END, or
        None (stop)."""
        msg, ancillary, _flags, _addr = recvmsg(INLINE_BYTES + 16, space)
        fds = [int.from_bytes(data[:4], sys.byteorder) for level, kind, data in ancillary
               if level == sol_socket and kind == scm_rights]
        if msg == b"E" and not fds:
            return EPISODE_END
        if msg[:1] != b"N" or len(fds) > 1:
            for extra in fds:
                close(extra)
            return None
        if fds:
            try:
                return decode(fds[0], mapped=True)
            finally:
                close(fds[0])
        if len(msg) == 1:
            return NOTHING
        header_len, _payload_len = unpack_from(msg, 1)
        return decode_body(msg[1 + head:], header_len, writable=False)

    return send, send_raw, receive


def _refusal_reporter(send_raw: Any) -> Any:
    """What the audit hook calls on a refusal: one `forbidden` frame to the parent, the first time."""
    # typeshed omits json.encoder's C accelerator, which every CPython build has
    encode_string = json.encoder.c_encode_basestring_ascii  # type: ignore[attr-defined]
    header, size = wire.HEADER.pack, wire.HEADER.size
    pad, done = wire.ALIGN, [False]
    if encode_string is None:  # the C accelerator is part of every CPython build
        raise RuntimeError("json's C string encoder is missing")

    def report(reason: str) -> None:
        if done[0]:
            return
        done[0] = True
        body = ('{"v":{"event":"forbidden","reason":' + encode_string(reason[:2000]) + '},"b":[]}').encode()
        body += b" " * (-(size + len(body)) % pad)
        send_raw(header(len(body), 0) + body)

    return report


def _run_candidate(job: dict[str, Any], first: Any, send: Any, receive: Any, flush: Any) -> None:
    """Load the program and call it on each instance, stage after stage, reporting as it goes.

    Runs in a thread of its own, started from C: its first frame is this one, with no caller above it,
    so a candidate that walks frames (`__traceback__`, `sys._getframe`) reaches only this function's
    locals, which hold nothing it lacks (its own first inputs, and the result socket it holds anyway).
    """
    clock = time.perf_counter_ns  # bound before the candidate can patch the time module
    pristine, shared = dict(builtins.__dict__), builtins.__dict__
    encode_tree = wire.tree
    max_out = int(job["limits"]["max_output_mb"]) << 20
    lines = job["code"].splitlines(True)

    def failure(event: dict[str, Any], exc: BaseException) -> dict[str, Any]:
        _restore(shared, pristine)
        status, reason = _classify(exc)
        return {**event, "status": status, "error": reason or _error_text(exc, lines)}

    namespace: dict[str, Any] = {"__name__": "candidate", "__file__": "candidate.py",
                                 "__builtins__": builtins}
    try:
        # tracebacks then quote the candidate's own lines (there is no file to read them from)
        linecache.cache["candidate.py"] = (len(job["code"]), None, lines, "candidate.py")
        # the trusted driver runs first, so the clocks and modules it binds are not yet patched by the candidate
        drive = None
        if job.get("driver"):
            driver_ns: dict[str, Any] = {"__name__": "evolve_driver", "__builtins__": builtins}
            exec(compile(job["driver"], "driver.py", "exec"), driver_ns)
            drive = driver_ns["drive"]
        code = compile(job["code"], "candidate.py", "exec")
        exec(code, namespace)
        entry = namespace.get(job["entry"])
        if not callable(entry):
            raise NameError(f"the program defines no function named {job['entry']!r}")
        call = warm = entry
        if drive is not None:

            def call(*args: Any, _entry: Any = entry, _drive: Any = drive) -> Any:
                return _drive(_entry, *args)

            warm = call
            if callable(driver_ns.get("decoy")):  # warm-ups then see other inputs than the timed calls

                def warm(*args: Any, _call: Any = call, _decoy: Any = driver_ns["decoy"]) -> Any:
                    return _call(*_decoy(*args))
        _restore(shared, pristine)
    except BaseException as exc:
        send(failure({"event": "load"}, exc))
        return
    repeats, warmup = max(1, int(job.get("repeats", 1))), max(0, int(job.get("warmup", 0)))
    counts = [int(n) for n in job["counts"]]
    timed = repeats > 1 or warmup > 0
    reply_bytes = int(job.get("interactive") or 0)  # > 0: every instance is an episode played by the parent
    for stage, count in enumerate(counts):
        if stage:
            send({"event": "stage_end", "stage": stage - 1})
            first = receive()  # the parent's go, with the stage's first inputs
            if first is None:
                return
        for i in range(count):
            args = first if i == 0 else receive()
            first = None
            if args is None or args is NOTHING:  # the parent stopped the run
                return
            if reply_bytes:
                if not _run_episode(i, args, call, send, receive, failure, encode_tree, shared, pristine,
                                    reply_bytes):
                    return
            elif not _run_instance(i, args, call, warm, send, failure, encode_tree, shared, pristine, clock,
                                   repeats, warmup, max_out, timed):
                return
            del args
    flush()  # the captured output is complete when the parent reads "done" (it may not wait for the exit)
    send({"event": "done"})


def _run_instance(i: int, args: Any, call: Any, warm_call: Any, send: Any, failure: Any, encode_tree: Any,
                  shared: dict[str, Any], pristine: dict[str, Any], clock: Any, repeats: int, warmup: int,
                  max_out: int, timed: bool) -> bool:
    """Call the entry function on one instance's inputs and report; False once it fails.

    Every helper comes in bound before the candidate's code ran, so nothing here can have been patched.
    The "begin" and "called" marks, whose kernel arrival stamps are the parent's clock of the calls, are
    sent only when call times matter (repeats or warm-ups); otherwise one message per instance suffices.
    """
    if timed:
        send({"event": "begin", "i": i})
    invalid = None
    try:
        warm = []
        for _ in range(warmup):
            t0 = clock()
            warm_call(*args)
            warm.append((clock() - t0) / 1e6)
        raw = []
        out = None
        for _ in range(repeats):
            t0 = clock()
            out = call(*args)
            raw.append(clock() - t0)
        _restore(shared, pristine)
        if timed:
            send({"event": "called", "i": i})  # the parent's clock of the calls stops here, before encoding
        # The encoder reads values through the base classes' own methods: no candidate code runs
        # here, so no work can hide in an output that computes when it is iterated.
        try:
            tree, buffers = encode_tree(out, max_out)
        except wire.WireError as exc:
            invalid, tree, buffers = str(exc), None, []
    except BaseException as exc:
        send(failure({"event": "result", "i": i}, exc))
        return False
    if invalid is not None:
        send({"event": "result", "i": i, "status": "invalid", "error": invalid})
        return False
    send({"event": "result", "i": i, "status": "ok", "output": tree,
          "times_ms": [t / 1e6 for t in raw], "warmup_ms": warm}, buffers)
    return True


def _run_episode(i: int, args: Any, call: Any, send: Any, receive: Any, failure: Any, encode_tree: Any,
                 shared: dict[str, Any], pristine: dict[str, Any], reply_bytes: int) -> bool:
    """Answer the observations of one episode, one `step` frame per call, until the parent ends it;
    False once the candidate fails or the parent stops the run.

    The parent plays the episode: it holds the simulator and its future, and sends each observation only
    after it has the decision on the previous one, so this process only ever holds the past and present.
    """
    while True:
        try:
            out = call(*args)
            _restore(shared, pristine)
            try:
                tree, buffers = encode_tree(out, reply_bytes)
            except wire.WireError as exc:
                send({"event": "result", "i": i, "status": "invalid",
                      "error": f"the decision cannot be sent: {exc} (at most {reply_bytes} bytes per decision)"})
                return False
        except BaseException as exc:
            send(failure({"event": "result", "i": i}, exc))
            return False
        send({"event": "step", "i": i, "output": tree}, buffers)
        del out, tree, buffers
        args = receive()
        if args is EPISODE_END:
            return True
        if args is None or args is NOTHING:
            return False


#: modules of the harness, and those that start processes without an audit event, that a candidate
#: cannot import (they stay loaded for what already holds them; the syscall filter is the wall)
HIDDEN_MODULES = ("__main__", "cgroup", "guard", "jail", "wire", "_posixsubprocess", "subprocess")


def _candidate(job: dict[str, Any], achieved: dict[str, Any], c: Any, cwd: str, bpf: Any) -> None:
    """Confine this process for good and run the candidate; fds 0-3 stay open."""
    iso, lim = job["isolation"], job["limits"]
    first = _decode_fd(FD_INPUTS, mapped=True)  # the first instance, decoded before any candidate code
    os.close(FD_INPUTS)
    os.chdir(cwd)
    os.environ["TMPDIR"] = cwd
    dedicated = False
    if job.get("uid") is not None and jail.is_privileged():
        jail.drop_uid(int(job["uid"]), int(job["gid"]))
        dedicated = True
    if not dedicated and (jail.is_privileged() or "user" in achieved["namespaces"]):
        # root without a uid change (drop_uid=False), or all-powerful inside a user namespace
        achieved["capabilities"] = "dropped" if jail.drop_capabilities(c) else "kept"
    achieved["uid"] = os.getuid()
    jail.prctl(c, jail.PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
    achieved["no_new_privs"] = jail.prctl(c, jail.PR_SET_NO_NEW_PRIVS, 1)
    jail.prctl(c, jail.PR_SET_DUMPABLE, 0)  # no ptrace or /proc access by other processes of the uid
    limits = dict(lim)
    if not dedicated:  # RLIMIT_NPROC counts every task of the uid: leave room for the user's own
        limits["nproc"] = int(lim["nproc"]) + job.get("uid_tasks", 0)
    achieved["rlimits"] = jail.set_limits(limits, nproc=not jail.is_privileged())
    achieved["nproc"] = achieved["rlimits"].get("nproc")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead of dying
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    cap = max(0, int(lim["fsize_mb"]) * (1 << 20) - 4096)
    out_stream, out_raw = _capped_stream(1, cap)
    err_stream, err_raw = _capped_stream(2, cap)
    sys.stdout, sys.stderr = out_stream, err_stream
    sys.stdin = None
    sys.path[:] = []  # a candidate imports what the zygote preloaded, and nothing from the disk
    # Replaced, not cleared: freeing the cached finders would write to (and so copy) every page they sit
    # on, about 0.7 ms per candidate. Imports cannot use them: the guard refuses reading their files.
    _RETIRED.append(sys.path_importer_cache)
    sys.path_importer_cache = {}
    send, send_raw, receive = _channel(FD_RESULTS)
    flushed = False

    def flush() -> None:
        nonlocal flushed
        if flushed:
            return
        flushed = True
        for stream, raw in ((out_stream, out_raw), (err_stream, err_raw)):  # ours, not what it put there
            try:
                stream.flush()
            except BaseException:
                pass
            raw.note_dropped()

    # the syscall filter, then the pre-filter: from here on the process cannot take either off
    achieved["seccomp"] = jail.load_filter(c, bpf) if bpf and iso.get("seccomp", True) else False
    achieved["audit_hook"] = bool(iso.get("audit", True))
    send({"event": "start", "isolation": achieved})
    if achieved["audit_hook"]:
        guard.install(cwd, _refusal_reporter(send_raw))
    for name in HIDDEN_MODULES:
        sys.modules.pop(name, None)
    finished = _thread.allocate_lock()
    finished.acquire()
    handed = [first]  # this thread keeps no reference to the inputs once the candidate's thread has them
    del first
    exit_now, format_exc, write = os._exit, traceback.format_exc, os.write

    def body() -> None:
        try:
            _run_candidate(job, handed.pop(), send, receive, flush)
        except BaseException:  # the harness's own failure (e.g. the parent went away): said on stderr
            try:
                flush()
                write(2, ("evolve sandbox: the candidate's thread failed:\n" + format_exc()).encode())
            except BaseException:
                pass
        finally:
            # The process ends here, with its output flushed: waking the waiting main thread to end it
            # would cost a context switch and this thread's teardown.
            flush()
            exit_now(0)
            finished.release()  # not reached

    # The candidate runs in a thread of its own (see _run_candidate); this thread, whose frames hold the
    # harness (libc, the job), only waits, out of the candidate's reach: other threads' frames come only
    # from sys._current_frames and the collector, which the pre-filter refuses, and a signal handler (whose
    # frame argument would be this thread's) can be set only from this thread.
    _thread.start_new_thread(body, ())
    while True:
        try:
            finished.acquire()
            break
        except BaseException:  # e.g. _thread.interrupt_main(): keep waiting for the candidate's thread
            continue
    flush()


def _arrange(fds: list[int]) -> None:
    """Make fds[i] descriptor i, close every other descriptor."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]
    for i, fd in enumerate(high):
        os.dup2(fd, i, inheritable=True)
    os.closerange(len(fds), 1 << 16)


def _spare(sock: socket.socket, c: Any, base: dict[str, Any], config: dict[str, Any]) -> None:
    """A process forked ahead of its job: it enters the per-candidate namespaces and builds the empty root
    while the previous candidate runs, then waits for its job's descriptors and becomes the candidate.
    """
    code = 70
    try:
        os.setsid()
        jail.prctl(c, jail.PR_SET_PDEATHSIG, signal.SIGKILL)
        iso = config["isolation"]
        achieved = {**base, "namespaces": list(base["namespaces"])}
        if jail.is_privileged() or "user" in achieved["namespaces"]:
            wanted = [name for name, on in (("mount", iso["filesystem"]), ("ipc", iso["ipc"])) if on]
            achieved["namespaces"] += jail.unshare(c, wanted)
        dedicated = config.get("uid") is not None and jail.is_privileged()
        uid = int(config["uid"]) if dedicated else os.geteuid()
        gid = uid if dedicated else os.getegid()
        uid_tasks = 0 if jail.is_privileged() else _uid_tasks(os.getuid())
        achieved["filesystem"] = "host (file permissions)"
        rooted = False
        if "mount" in achieved["namespaces"]:
            try:
                how = jail.minimal_root(c, config["root_dir"], uid, gid, config["disk_mb"])
                achieved["filesystem"] = f"minimal-root ({how})"
                rooted = True
            except OSError as exc:
                achieved["filesystem"] = f"host (file permissions; the minimal root failed: {exc})"
        msg, fds, _flags, _addr = socket.recv_fds(sock, 16, 8)
        sock.close()
        if msg != b"J" or len(fds) != JOB_FDS:
            code = 0
            return
        devnull = os.open(os.devnull, os.O_RDONLY)
        result_w, job_fd, out_fd, err_fd, inputs_fd = fds
        _arrange([devnull, out_fd, err_fd, result_w, job_fd, inputs_fd])
        job = _decode_fd(FD_JOB, mapped=False)
        os.close(FD_JOB)
        if not rooted and not job.get("workdir"):  # sent without a host folder: nothing runs, it asks again
            code = NEEDS_WORKDIR
            return
        job["uid_tasks"] = uid_tasks
        if rooted and int(job["limits"]["disk_mb"]) != int(config["disk_mb"]):
            jail.resize_tmp(c, int(job["limits"]["disk_mb"]))
        _candidate(job, achieved, c, "/tmp" if rooted else job["workdir"], config.get("bpf"))
        code = 0
    except BaseException:
        try:
            os.write(2, ("evolve sandbox: the child setup failed:\n" + traceback.format_exc()).encode())
        except OSError:
            pass
    finally:
        os._exit(code)


# --------------------------------------------------------------------------------------------------
# the zygote
# --------------------------------------------------------------------------------------------------
def _sweep(pid: int, uid: int | None) -> None:
    """Without a PID namespace: kill the candidate's process group and every process of its uid."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if uid is not None and jail.is_privileged():
        reaper = os.fork()
        if reaper == 0:
            try:
                jail.drop_uid(uid, uid)
                for _ in range(3):
                    try:
                        os.kill(-1, signal.SIGKILL)
                    except OSError:
                        break
            finally:
                os._exit(0)
        os.waitpid(reaper, 0)


def _reap() -> None:
    """Collect orphans re-parented to us (we are a subreaper)."""
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if done == 0:
            return


def _uid_tasks(uid: int) -> int:
    """Tasks (threads) the uid runs now; RLIMIT_NPROC counts them when the uid is not dedicated."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            total += int(fields.get("Threads", "1"))
    return total


def _zygote_namespaces(c: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Namespaces the zygote enters once for all its candidates (they run one at a time, and none of
    their state in these survives them): a user namespace when we are not root, the network, the host name.
    """
    iso = config["isolation"]
    achieved: dict[str, Any] = {"namespaces": []}
    wanted = [name for name, on in (("net", iso["netns"]), ("uts", iso["ipc"])) if on]
    if (wanted or iso["filesystem"] or iso["pidns"] or iso["ipc"]) and not jail.is_privileged() \
            and iso["userns"] and jail.enter_user_namespace(c):
        achieved["namespaces"].append("user")
    if jail.is_privileged() or achieved["namespaces"]:
        achieved["namespaces"] += jail.unshare(c, wanted)
    achieved["network"] = "netns" if "net" in achieved["namespaces"] else "audit-hook"
    achieved["cgroup"] = config["cgroups"]["describe"] if config.get("cgroups") else "none"
    if "user" in achieved["namespaces"] and iso["pidns"]:
        _become_pid_init(c)
    return achieved


def _become_pid_init(c: Any) -> None:
    """Continue as the init of a PID namespace that our user namespace owns.

    Re-arming a fresh PID namespace per candidate (`setns` back to our own) needs CAP_SYS_ADMIN over
    the namespace we live in, which a user namespace grants only for namespaces it owns. The process
    the parent started stays behind, waits for us, and dies with us (and we with it).
    """
    if c.unshare(jail.CLONE_NEWPID) != 0:
        return
    pid = os.fork()
    if pid == 0:
        jail.prctl(c, jail.PR_SET_PDEATHSIG, signal.SIGKILL)
        return
    os.closerange(3, 1 << 16)  # keep nothing: the control socket must close when the zygote dies
    os.waitpid(pid, 0)
    os._exit(0)


class _Spares:
    """Forks the next candidate's process ahead of time, each the init of a fresh PID namespace."""

    def __init__(self, c: Any, base: dict[str, Any], config: dict[str, Any], ctrl: socket.socket) -> None:
        self.c, self.base, self.config, self.ctrl = c, base, config, ctrl
        self.pidns = jail.PidNamespaces(c) if config["isolation"]["pidns"] else None
        self.budgets = cgroup.Budgets(config["cgroups"]) if config.get("cgroups") else None
        self.ready: tuple[int, socket.socket, bool, int] | None = None
        self.error = ""

    def make(self) -> None:
        if self.ready is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        armed = self.pidns is not None and self.pidns.arm()
        try:
            pid = os.fork()
        except OSError as exc:
            self.error = f"fork failed: {exc}"
            pid = -1
        if pid == 0:
            self.ctrl.close()
            ours.close()
            _spare(theirs, self.c, {**self.base, "pid": "pidns" if armed else "session",
                                    "namespaces": self.base["namespaces"] + (["pid"] if armed else [])},
                   self.config)
        if armed:
            self.pidns.disarm()  # type: ignore[union-attr]
        theirs.close()
        if pid < 0:
            ours.close()
            return
        group = -1
        if self.budgets is not None:
            try:
                group = self.budgets.join(pid)
            except OSError as exc:  # the process runs without its group: it must not run at all
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                ours.close()
                self.error = f"cannot put the candidate's process in its cgroup: {exc}"
                return
        self.ready = (pid, ours, armed, group)

    def take(self, fds: list[int], memory_mb: int, nproc: int) -> tuple[int, bool, int]:
        """Hand a job's descriptors to the waiting process, its group limited to the job's memory and
        tasks; returns its pid, whether it has a PID ns and its group (-1: none)."""
        self.make()
        if self.ready is None:
            raise OSError(self.error or "no process to run the candidate in")
        pid, sock, armed, group = self.ready
        self.ready = None
        try:
            if self.budgets is not None:
                self.budgets.limit(group, memory_mb, nproc)
            socket.send_fds(sock, [b"J"], fds)
        except OSError as exc:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise OSError(f"the prepared child died before its job: {exc}") from None
        finally:
            sock.close()
        return pid, armed, group


def _warm(config: dict[str, Any]) -> None:
    """Run the code each candidate's process runs per instance (the result channel, the wire format,
    one instance's call and report, the pre-filter's policy) on sample values, here, once.

    The interpreter specialises a function's bytecode in place after a few calls: done in each
    candidate's process, that writes to (and so copies) the pages of every code object involved and
    repeats the specialising work, about 0.3 ms per candidate of four instances. Done here, before
    `gc.freeze` and the forks, the children inherit the specialised code. Nothing of a candidate or an
    instance is involved, and nothing this leaves behind is reachable from one.
    """
    import numpy as np

    sample = (np.arange(8, dtype=np.int64), np.arange(8, dtype=np.int64), [1, 2.5, "x", None, True])
    frame = b"N" + wire.encode(list(sample))
    plain = wire.encode_plain({"code": "x", "limits": {"max_output_mb": 1}, "counts": [4]})
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        send, _send_raw, receive = _channel(theirs.fileno())
        chan = _RETIRED.pop()  # its dup of `theirs`, closed below: the zygote keeps no descriptor of this
        pristine = {"len": len, "sorted": sorted}
        shared = dict(pristine)

        def failure(event: dict[str, Any], exc: BaseException) -> dict[str, Any]:
            return {**event, "status": "crash", "error": ""}

        for i in range(16):
            ours.send(frame)
            args = receive()
            _run_instance(i, args[:2], lambda p, d: sorted(range(len(p))), None, send, failure, wire.tree,
                          shared, pristine, time.perf_counter_ns, 1, 0, 1 << 20, False)
            ours.recv(1 << 16)
            header_len, _ = wire.HEADER.unpack_from(plain)
            wire.decode(plain[wire.HEADER.size:], header_len, writable=False)
            wire.count_items(plain)
        chan.close()
    finally:
        ours.close()
        theirs.close()
    verdict = guard.make_verdict(config.get("root_dir") or os.getcwd())
    for _ in range(16):
        for event, args in (("open", ("data.txt", "r", 0)), ("import", ("numpy",)), ("exec", (None,)),
                            ("compile", (None, "candidate.py")), ("object.__getattr__", (None, "x"))):
            verdict(event, args)


def zygote(ctrl_fd: int, preload: list[str], config: dict[str, Any]) -> None:
    # Imported once here so every candidate starts warm; they are all a candidate can import.
    import gc
    import importlib

    for name in (*preload, "encodings.idna"):  # idna: socket calls then fail as `forbidden`, not LookupError
        try:
            importlib.import_module(name)
        except ImportError as exc:
            sys.stderr.write(f"evolve sandbox: cannot preload {name}: {exc}\n")
    c = jail.libc()
    jail.bind_functions(c)
    jail.one_arena(c)
    if config.get("cpu") is not None:  # inherited by every process it forks (Isolation.pin_cpu)
        try:
            os.sched_setaffinity(0, (int(config["cpu"]),))
        except OSError as exc:
            sys.stderr.write(f"evolve sandbox: cannot keep to CPU {config['cpu']}: {exc}\n")
    config["bpf"] = jail.prepare_filter(bytes.fromhex(config["bpf"])) if config.get("bpf") else None
    if config.get("zygote_uid") is not None and jail.is_privileged():
        jail.drop_uid(int(config["zygote_uid"]), int(config["zygote_uid"]))  # as a non-root user would run
        jail.own_proc_files(c)
    jail.prctl(c, jail.PR_SET_CHILD_SUBREAPER, 1)
    jail.prctl(c, jail.PR_SET_PDEATHSIG, signal.SIGKILL)
    sock = socket.socket(fileno=ctrl_fd)
    spares = _Spares(c, _zygote_namespaces(c, config), config, sock)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    _warm(config)
    gc.collect()
    gc.freeze()  # the children's collections then skip (and do not copy-on-write) what we imported
    spares.make()
    _send(sock, {"ready": True, "isolation": spares.base})
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 64, 8)
        except OSError:
            return
        if msg[:1] != b"J" or len(fds) != JOB_FDS:
            for fd in fds:
                os.close(fd)
            return
        memory_mb, nproc = (int(v) for v in msg[1:].split(b","))  # the job's, from the trusted parent
        try:
            pid, armed, group = spares.take(fds, memory_mb, nproc)
        except OSError as exc:
            _send(sock, {"error": str(exc)})
            continue
        finally:
            for fd in fds:
                os.close(fd)
        _send(sock, {"pid": pid})
        spares.make()  # the next candidate's process gets ready while this one runs
        _, status, usage = os.wait4(pid, 0)
        if not armed:  # without a PID namespace, whatever the candidate started may still run
            _sweep(pid, config.get("uid"))
        _reap()
        oom = group >= 0 and spares.budgets is not None and os.WIFSIGNALED(status) \
            and os.WTERMSIG(status) == signal.SIGKILL and spares.budgets.oom_killed(group)
        _send(sock, {"pid": pid, "wait_status": status, "cpu_s": usage.ru_utime + usage.ru_stime,
                     "maxrss_kb": usage.ru_maxrss, "oom": oom})


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--zygote":
        sys.path.append(sys.argv[3])
        zygote(int(sys.argv[2]), [m for m in sys.argv[4].split(",") if m], json.loads(sys.argv[5]))
    else:
        sys.stderr.write("usage: child.py --zygote FD LIBDIR MODULE,MODULE… CONFIG-JSON\n")
        sys.exit(2)
