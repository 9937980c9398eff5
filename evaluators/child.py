"""The sandbox child harness: a warm zygote that forks one fresh process per candidate.

Run as a script (`python -I -S child.py --zygote FD LIBDIR MODULES`), never imported by the candidate. The zygote
has numpy imported already, so a candidate pays a fork, not an interpreter start. Each forked child
applies its limits and isolation *before* it runs any candidate code (this is the trampoline: trusted
code first, then the untrusted module), returns raw outputs on a dedicated pipe in the wire format, and
never serves a second candidate.

Protocol on the control socket (zygote <-> parent, both trusted): the parent sends a frame with a job and
the result pipe's write end as an SCM_RIGHTS fd; the zygote answers {"pid": …} after forking and
{"pid": …, "wait_status": …} once the child has exited and its leftovers were swept.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import wire  # noqa: E402  (the sibling module)

CLONE_NEWNET = 0x40000000
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
FORBIDDEN_MARK = "evolve-sandbox: forbidden:"
MAX_JOB_BYTES = 1 << 30


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("control socket closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _send(sock: socket.socket, value: Any) -> None:
    sock.sendall(wire.encode(value))


def _libc() -> Any:
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


# --------------------------------------------------------------------------------------------------
# inside the forked child: isolation first, candidate second
# --------------------------------------------------------------------------------------------------
def _isolate(job: dict[str, Any], libc: Any) -> dict[str, Any]:
    """Apply limits and isolation to this process; return what was actually achieved."""
    import resource

    achieved: dict[str, Any] = {"network": "none", "uid": os.getuid()}
    os.setsid()
    if libc is not None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.chdir(job["workdir"])
    if job.get("netns") and libc is not None:
        if libc.unshare(CLONE_NEWNET) == 0:
            achieved["network"] = "netns"
    uid = job.get("uid")
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        achieved["uid"] = uid
    lim = job["limits"]
    mb = 1 << 20
    pairs = [
        (resource.RLIMIT_CPU, int(lim["cpu_s"]) + 1),
        (resource.RLIMIT_AS, int(lim["memory_mb"]) * mb),
        (resource.RLIMIT_FSIZE, int(lim["fsize_mb"]) * mb),
        (resource.RLIMIT_NOFILE, int(lim["nofile"])),
        (resource.RLIMIT_CORE, 0),
    ]
    if os.geteuid() != 0:  # RLIMIT_NPROC is not enforced for root
        pairs.append((resource.RLIMIT_NPROC, int(lim["nproc"])))
        achieved["nproc"] = int(lim["nproc"])
    for which, value in pairs:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(which)
            if hard == resource.RLIM_INFINITY or value < hard:
                resource.setrlimit(which, (min(value, hard) if hard != resource.RLIM_INFINITY else value,
                                           hard))
    # the namespace is the boundary; the hook names the attempt so it is classified `forbidden`
    sys.addaudithook(_deny_network)
    if achieved["network"] == "none":
        achieved["network"] = "audit-hook"
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead of dying
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    return achieved


def _deny_network(event: str, args: tuple[Any, ...]) -> None:
    if event in ("socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
                 "socket.sendto", "socket.sendmsg"):
        raise PermissionError(f"{FORBIDDEN_MARK} network access ({event}) is not allowed in the sandbox")


def _error_text(exc: BaseException, limit: int = 4000) -> str:
    """The exception and the candidate's own frames (the harness's frames are noise to the LLM)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__][-8:]
    text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(type(exc), exc))
    return text[-limit:]


def _classify(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "memory"
    if FORBIDDEN_MARK in str(exc):
        return "forbidden"
    return "crash"


def _run_candidate(job: dict[str, Any], inputs: list[Any], out_fd: int, achieved: dict[str, Any]) -> None:
    clock = time.perf_counter_ns  # bound before the candidate can patch the time module
    write = os.write
    encode = wire.encode

    def emit(value: Any) -> None:
        data = encode(value)
        view = memoryview(data)
        while view:
            n = write(out_fd, view)
            view = view[n:]

    emit({"event": "start", "isolation": achieved})
    namespace: dict[str, Any] = {"__name__": "candidate", "__file__": "candidate.py"}
    try:
        code = compile(job["code"], "candidate.py", "exec")
        exec(code, namespace)
        entry = namespace.get(job["entry"])
        if not callable(entry):
            raise NameError(f"the program defines no function named {job['entry']!r}")
        call = entry
        if job.get("driver"):
            driver_ns: dict[str, Any] = {"__name__": "evolve_driver"}
            exec(compile(job["driver"], "driver.py", "exec"), driver_ns)
            drive = driver_ns["drive"]

            def call(*args: Any, _entry: Any = entry, _drive: Any = drive) -> Any:
                return _drive(_entry, *args)
    except BaseException as exc:
        emit({"event": "load", "status": _classify(exc), "error": _error_text(exc)})
        return
    repeats, warmup = max(1, int(job.get("repeats", 1))), max(0, int(job.get("warmup", 0)))
    for i, args in enumerate(inputs):
        emit({"event": "begin", "i": i})
        try:
            for _ in range(warmup):
                call(*args)
            times = []
            out = None
            for _ in range(repeats):
                t0 = clock()
                out = call(*args)
                times.append((clock() - t0) / 1e6)
            try:
                emit({"event": "result", "i": i, "status": "ok", "output": out, "times_ms": times})
            except wire.WireError as exc:
                emit({"event": "result", "i": i, "status": "invalid", "error": str(exc)})
                return
        except BaseException as exc:
            emit({"event": "result", "i": i, "status": _classify(exc), "error": _error_text(exc)})
            return
    emit({"event": "done"})


def _child_main(job: dict[str, Any], inputs: list[Any], out_fd: int, libc: Any) -> None:
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        os.dup2(os.open(os.path.join(job["workdir"], "stdout.txt"), flags, 0o600), 1)
        os.dup2(os.open(os.path.join(job["workdir"], "stderr.txt"), flags, 0o600), 2)
        keep = os.dup2(out_fd, 3) if out_fd != 3 else 3
        os.closerange(4, 65536)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        achieved = _isolate(job, libc)
        sys.path[:] = [p for p in sys.path if os.path.abspath(p) != os.path.dirname(os.path.abspath(__file__))]
        _run_candidate(job, inputs, keep, achieved)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(0)


# --------------------------------------------------------------------------------------------------
# the zygote
# --------------------------------------------------------------------------------------------------
def _sweep(pid: int, uid: int | None, libc: Any) -> None:
    """Kill everything the candidate left behind: its process group, and every process of its uid."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if uid is not None and os.geteuid() == 0:
        reaper = os.fork()
        if reaper == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                for _ in range(3):
                    try:
                        os.kill(-1, signal.SIGKILL)
                    except OSError:
                        break
            finally:
                os._exit(0)
        os.waitpid(reaper, 0)
    # reap orphans re-parented to us (we are a subreaper)
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if done == 0:
            time.sleep(0.001)
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if done == 0:
                break


def zygote(ctrl_fd: int, preload: list[str]) -> None:
    # Imported once here so every candidate starts warm. Where the interpreter's files are not readable
    # by the sandbox uid, these are also the only modules a candidate can import.
    import importlib

    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            sys.stderr.write(f"evolve sandbox: cannot preload {name}: {exc}\n")

    libc = None
    try:
        libc = _libc()
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        libc = None
    sock = socket.socket(fileno=ctrl_fd)
    cache: dict[str, list[Any]] = {}
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 8, 1)
        except OSError:
            return
        if len(msg) < 8:
            return
        (job_len,) = struct.unpack(">Q", msg)
        if job_len > MAX_JOB_BYTES or not fds:
            return
        out_fd = fds[0]
        job = wire.read_frame(lambda n: _recv_exact(sock, n), MAX_JOB_BYTES, writable=False)
        key = job["inputs_key"]
        if job.get("inputs") is not None:
            cache[key] = job["inputs"]
            while len(cache) > 16:
                cache.pop(next(iter(cache)))
        inputs = cache.get(key)
        if inputs is None:
            os.close(out_fd)
            _send(sock, {"error": f"inputs {key!r} are not cached in this zygote"})
            continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child_main(job, inputs, out_fd, libc)
        os.close(out_fd)
        _send(sock, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        _sweep(pid, job.get("uid"), libc)
        _send(sock, {"pid": pid, "wait_status": status})


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--zygote":
        sys.path.append(sys.argv[3])
        zygote(int(sys.argv[2]), [m for m in sys.argv[4].split(",") if m])
    else:
        sys.stderr.write("usage: child.py --zygote FD LIBDIR MODULE,MODULE…\n")
        sys.exit(2)
