"""Hostile candidates against the sandbox's walls: no instance sees another's inputs, the pre-filter is
out of reach, the syscall filter, one memory budget per candidate, bounded decoding, honest statuses.

`sandbox` has every wall; `bare` has the namespaces alone (no audit hook, no syscall filter), to show what
the protocol holds without the pre-filter; `filtered` has the syscall filter without the audit hook, to
show what native code meets.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from sandbox_helpers import FAST, assert_clean, run

from evaluators.sandbox import Limits, Sandbox

MARKED = tuple((f"marker-{i}-of-this-split",) for i in range(4))


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


# -- no instance sees another's inputs ----------------------------------------------------------------
#: walks every frame above the candidate's call (through an exception's traceback) and looks for the
#: next instance's marker in their locals and globals
FRAME_WALK = src("""
    def holds(value, wanted, depth=0):
        if isinstance(value, str):
            return wanted in value
        if depth < 4 and isinstance(value, (list, tuple)):
            return any(holds(v, wanted, depth + 1) for v in value)
        if depth < 4 and isinstance(value, dict):
            return any(holds(v, wanted, depth + 1) for v in list(value.values()))
        return False

    def f(marker):
        wanted = marker.replace(marker.split("-")[1], str(int(marker.split("-")[1]) + 1), 1)
        try:
            raise ValueError
        except ValueError as exc:
            frame = exc.__traceback__.tb_frame.f_back  # the frames above this call
        while frame is not None:
            for scope in (frame.f_locals, frame.f_globals):
                if any(holds(v, wanted) for v in list(scope.values())):
                    return "found " + wanted
            frame = frame.f_back
        return "not found"
""")


def test_frames_above_the_call_hold_no_later_instance(bare: Sandbox) -> None:
    res = run(bare, FRAME_WALK, inputs=MARKED)
    assert res.status == "ok", res.error
    assert [r.output for r in res.runs] == ["not found"] * len(MARKED)
    assert_clean(bare)


def test_the_collector_finds_no_later_instance_in_the_process(bare: Sandbox) -> None:
    res = run(bare, src("""
        import gc
        def later(v, marker):
            return isinstance(v, str) and v.startswith("marker-") and v.endswith("-of-this-split") and v > marker

        def f(marker):
            for obj in gc.get_objects():
                values = list(obj) if isinstance(obj, (list, tuple)) else \
                    list(obj.values()) if isinstance(obj, dict) else []
                for v in values:
                    if later(v, marker):
                        return "found " + v
            return "not found"
    """), inputs=MARKED)
    assert res.status == "ok", res.error
    assert [r.output for r in res.runs] == ["not found"] * len(MARKED)
    assert_clean(bare)


def test_the_mapping_behind_an_input_array_holds_only_its_instance(bare: Sandbox) -> None:
    # EPLB's instance i+1 is the window instance i is scored on: its bytes must not be mapped yet
    inputs = tuple((np.full(64, 1000.0 + i),) for i in range(3))
    res = run(bare, src("""
        import numpy as np
        def f(x):
            base = x
            while getattr(base, "base", None) is not None:
                base = base.base
            if isinstance(base, memoryview):
                base = base.obj  # the mapping of the descriptor the inputs came in
            raw = bytes(memoryview(base).cast("B"))
            later = np.full(64, float(x[0]) + 1.0).tobytes()
            return later in raw
    """), inputs=inputs)
    assert res.status == "ok", res.error
    assert [r.output for r in res.runs] == [False, False, False]
    assert_clean(bare)


# -- the pre-filter is out of the candidate's reach ----------------------------------------------------
#: finds the harness's guard object in the frames above the call (an attack on the pre-filter)
FIND_GUARD = """
    def guard_objects():
        try:
            raise ValueError
        except ValueError as exc:
            frame = exc.__traceback__.tb_frame
        found = []
        while frame is not None:
            found += [v for v in list(frame.f_locals.values()) if type(v).__name__ == "Guard"]
            frame = frame.f_back
        return found
"""


def test_raising_the_guards_trusted_counter_does_not_switch_it_off(sandbox: Sandbox) -> None:
    res = run(sandbox, src(FIND_GUARD + """
    import socket
    def f(x):
        for g in guard_objects():
            g.trusted = 10 ** 6
        try:
            socket.socket().close()
        except OSError:
            pass
        return "slipped through"
    """))
    assert res.status == "forbidden", res.error
    assert "network" in (res.error or "")
    assert_clean(sandbox)


def test_wiping_the_recorded_reason_does_not_hide_the_attempt(sandbox: Sandbox) -> None:
    res = run(sandbox, src(FIND_GUARD + """
    def f(x):
        try:
            open("/etc/passwd").read()
        except OSError:
            pass
        for g in guard_objects():
            g.reason = None
        return "clean"
    """))
    assert res.status == "forbidden", res.error
    assert "/etc/passwd" in (res.error or "")
    assert_clean(sandbox)


def test_patching_the_pre_filters_module_does_not_switch_it_off(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import os, sys
        def f(x):
            for name, module in list(sys.modules.items()):
                cls = getattr(module, "Guard", None)
                if cls is not None:
                    cls.verdict = lambda *args: None
            os.path.realpath = lambda path: "/tmp"
            try:
                open("/etc/passwd").read()
            except OSError:
                pass
            return "clean"
    """))
    assert res.status == "forbidden", res.error
    assert_clean(sandbox)


def test_the_harness_and_process_handles_cannot_be_imported(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import importlib, sys
        def f(x):
            got = [name for name in ("jail", "guard", "wire", "_posixsubprocess", "subprocess")
                   if name in sys.modules]
            main = sys.modules.get("__main__")
            if main is not None and hasattr(main, "_candidate"):
                got.append("__main__ (the harness)")
            return got
    """))
    assert res.status == "ok", res.error
    assert res.runs[0].output == []
    assert_clean(sandbox)


def test_an_exceptions_own_text_never_runs_with_trust(sandbox: Sandbox) -> None:
    # a harness that formatted the message inside its trusted section would let __str__ open a socket
    res = run(sandbox, src("""
        import socket
        class Sly(Exception):
            def __str__(self):
                try:
                    socket.socket().close()
                    return "a socket opened while the harness trusted me"
                except OSError:
                    return "refused"
        def f(x):
            raise Sly("plain")
    """))
    assert res.status == "crash", res.error
    assert "Sly: plain" in (res.error or "")
    assert "socket opened" not in (res.error or "") and "refused" not in (res.error or "")
    assert_clean(sandbox)


# -- the syscall filter ---------------------------------------------------------------------------------
def test_a_new_user_namespace_is_refused_by_the_kernel(filtered: Sandbox) -> None:
    res = run(filtered, src("""
        import ctypes
        def f(x):
            return ctypes.CDLL(None).unshare(0x10000000)
    """))
    assert res.status == "forbidden", (res.error, res.runs)
    assert "syscall filter" in (res.error or "")
    assert_clean(filtered)


def test_a_packet_socket_is_refused_by_the_kernel(filtered: Sandbox) -> None:
    res = run(filtered, src("""
        import ctypes
        def f(x):
            return ctypes.CDLL(None).socket(17, 3, 0)  # AF_PACKET, SOCK_RAW
    """))
    assert res.status == "forbidden", (res.error, res.runs)
    assert "syscall filter" in (res.error or "")
    assert_clean(filtered)


def test_a_native_fork_is_refused_by_the_kernel(filtered: Sandbox) -> None:
    res = run(filtered, src("""
        import ctypes, os
        def f(x):
            pid = ctypes.CDLL(None).fork()
            if pid == 0:
                os._exit(0)
            return pid
    """))
    assert res.status == "forbidden", (res.error, res.runs)
    assert_clean(filtered)


def test_a_memfd_no_limit_counts_is_refused_by_the_kernel(filtered: Sandbox) -> None:
    res = run(filtered, src("""
        import os
        def f(x):
            fd = os.memfd_create("hoard")
            os.write(fd, b"x" * (1 << 20))
            return fd
    """))
    assert res.status == "forbidden", (res.error, res.runs)
    assert_clean(filtered)


def test_threads_still_run_under_the_filter(filtered: Sandbox) -> None:
    res = run(filtered, src("""
        import threading
        def f(x):
            out = []
            workers = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            return sorted(out)
    """))
    assert res.status == "ok", res.error
    assert res.runs[0].output == [0, 1, 2, 3]


# -- one memory budget per candidate --------------------------------------------------------------------
def test_pages_of_the_private_tmp_count_toward_the_memory_budget(sandbox: Sandbox) -> None:
    lim = Limits(**{**FAST.__dict__, "memory_mb": 384, "disk_mb": 768, "fsize_mb": 768,
                    "split_wall_s": 20.0, "instance_wall_s": 20.0, "cpu_s": 20.0})
    res = run(sandbox, src("""
        def f(x):
            chunk = b"x" * (1 << 20)
            with open("/tmp/hoard", "wb") as fh:
                for _ in range(512):
                    fh.write(chunk)
            return "held 512 MB"
    """), limits=lim)
    if res.isolation.get("cgroup") == "none":
        pytest.skip("no per-candidate cgroup on this machine (not root, or no delegation)")
    assert res.status == "memory", (res.error, res.runs)
    assert_clean(sandbox)


THREAD_BOMB = src("""
    import _thread, time
    def f(x):
        started, err = 0, None
        try:
            for _ in range(10000):
                _thread.start_new_thread(time.sleep, (5,))
                started += 1
        except RuntimeError as exc:
            err = str(exc)
        return [started, err]
""")


def test_a_thread_bomb_is_held_to_the_task_budget_with_every_wall(sandbox: Sandbox) -> None:
    """With a uid of its own under the syscall filter, the candidate's tasks are capped by RLIMIT_NPROC
    (threads are all it may start), so on cgroup v1 the sandbox makes no `pids` group to move each
    process into; the cap still holds."""
    res = run(sandbox, THREAD_BOMB)
    if res.isolation.get("nproc") is None or not res.isolation.get("seccomp"):
        pytest.skip("no dedicated uid or no syscall filter here")
    assert res.status == "ok", res.error
    started, err = res.runs[0].output
    assert err is not None and 0 < started < FAST.nproc
    if str(res.isolation.get("cgroup")).startswith("cgroup v1"):
        assert res.isolation["cgroup"] == "cgroup v1 (memory)"
    assert_clean(sandbox)


# -- the parent's decoding is bounded -------------------------------------------------------------------
def test_a_forged_frame_of_millions_of_values_is_invalid(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import os, struct
        def f(x):
            body = b'{"v":{"event":"result","i":0,"status":"ok","output":[' + b"0," * 3_000_000 + b'0]},"b":[]}'
            frame = struct.pack(">II", len(body), 0) + body
            for k in range(0, len(frame), 1 << 16):
                os.write(3, frame[k:k + (1 << 16)])
            return 0
    """))
    assert res.status == "invalid", res.error
    assert "max_output_items" in (res.error or "")
    assert_clean(sandbox)


# -- honest statuses ------------------------------------------------------------------------------------
def test_a_huge_noreserve_mapping_is_a_memory_failure(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import mmap
        def f(x):
            m = mmap.mmap(-1, 20 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000)
            return len(m)
    """))
    assert res.status == "memory", res.error
    assert_clean(sandbox)


def test_an_over_long_integer_is_invalid_with_the_reason(sandbox: Sandbox) -> None:
    res = run(sandbox, "def f(x):\n    return 10 ** 5000\n")
    assert res.status == "invalid", res.error
    assert "integer" in (res.error or "")
    assert_clean(sandbox)


def test_an_empty_message_is_a_protocol_error(bare: Sandbox) -> None:
    res = run(bare, src("""
        import socket
        def f(x):
            socket.socket(fileno=3).send(b"")
            return 0
    """))
    assert res.status == "invalid", res.error
    assert "empty message" in (res.error or "")
    assert_clean(bare)


def test_a_forged_done_frame_is_a_protocol_error(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import os, struct
        def f(x):
            body = b'{"v":{"event":"done"},"b":[]}'
            os.write(3, struct.pack(">II", len(body), 0) + body)
            return 0
    """), inputs=(([1],), ([2],)))
    assert res.status == "invalid", res.error
    assert "protocol error" in (res.error or "")
    assert_clean(sandbox)


def test_a_rootless_candidate_meets_the_syscall_filter_too() -> None:
    # what a non-root user gets: the filter needs no privilege (it follows no_new_privs)
    import os

    from sandbox_helpers import make_sandbox

    if os.geteuid() != 0:
        pytest.skip("needs root to start an unprivileged zygote on a dedicated uid")
    pytest.importorskip("pyseccomp", reason="no syscall filter on this machine (pyseccomp missing)")
    with make_sandbox(rootless=True, audit=False) as sb:
        res = run(sb, "import os\ndef f(x):\n    return os.fork()\n")
        assert res.status == "forbidden", res.error
        assert "syscall filter" in (res.error or "")
        assert run(sb, "def f(x):\n    return x\n").status == "ok"
