"""Hostile candidates: each ends classified, leaves no process and no file behind, and the next candidate on
the same sandbox evaluates normally (`assert_clean`). `sandbox` has every mechanism; `bare` lacks the
audit-hook pre-filter, to show what the kernel boundary holds on its own; `fallback` has no namespaces.
"""

from __future__ import annotations

import os
import textwrap
import time

import numpy as np
import pytest
from sandbox_helpers import FAST, REPO, assert_clean, make_sandbox, run

from evaluators.sandbox import Limits, Sandbox

PROBLEM_FILE = REPO / "problems" / "smtt" / "problem.py"
#: a checkout under /tmp shares its path prefix with the candidate's private /tmp: the audit hook then sees
#: an allowed path and the kernel answers "no such file" (hidden, not refused), so the classification differs
REPO_UNDER_TMP = str(REPO).startswith("/tmp/")


def assert_refused_or_hidden(res, verb: str) -> None:  # type: ignore[no-untyped-def]
    """The access failed: `forbidden` by the hook, or (repo under /tmp) the path does not exist in the jail."""
    if REPO_UNDER_TMP:
        assert res.status in ("forbidden", "crash"), res.error
        assert "forbidden" in res.status or "No such file" in (res.error or ""), res.error
    else:
        assert res.status == "forbidden", res.error
        assert verb in (res.error or "")


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip()


def mechanisms(sb: Sandbox) -> dict[str, object]:
    res = run(sb, "def f(x):\n    return 0\n")
    return res.isolation


def needs(sb: Sandbox, key: str, value: str) -> None:
    if not str(mechanisms(sb).get(key, "")).startswith(value):
        pytest.skip(f"this machine gives no {value} ({key})")


# -- time -------------------------------------------------------------------------------------------
def test_infinite_loop_times_out(sandbox: Sandbox) -> None:
    # FAST's CPU budget equals its split wall clock: a parent thread scheduled a few ms late then lost the
    # race to RLIMIT_CPU on a loaded machine. The CPU-limit path has its own test below.
    lim = Limits(**{**FAST.__dict__, "cpu_s": 4 * FAST.split_wall_s})
    res = run(sandbox, "def f(x):\n    while True:\n        pass\n", limits=lim)
    assert res.status == "timeout"
    assert "wall-clock" in (res.error or "")
    assert_clean(sandbox)


def test_busy_loop_inside_a_c_call_times_out(sandbox: Sandbox) -> None:
    # catastrophic backtracking runs inside the regex engine's C loop, which never checks for signals
    res = run(sandbox, src("""
        import re
        def f(x):
            return re.match(r"(a*)*b", "a" * 64)
    """))
    assert res.status == "timeout"
    assert_clean(sandbox)


def test_sleeping_past_the_limit_times_out(sandbox: Sandbox) -> None:
    start = time.monotonic()
    res = run(sandbox, "import time\ndef f(x):\n    time.sleep(60)\n")
    assert res.status == "timeout"
    assert time.monotonic() - start < FAST.instance_wall_s + 2.0
    assert_clean(sandbox)


def test_cpu_limit_ends_a_busy_candidate_as_timeout(sandbox: Sandbox) -> None:
    lim = Limits(split_wall_s=30.0, instance_wall_s=30.0, cpu_s=1.0)  # wall clocks generous: shared CPUs
    res = run(sandbox, "def f(x):\n    while True:\n        pass\n", limits=lim)
    assert res.status == "timeout"
    assert "CPU-time limit" in (res.error or "")
    assert_clean(sandbox)


def test_a_candidate_cannot_install_signal_handlers(sandbox: Sandbox) -> None:
    # it runs outside the main thread, whose frames (the harness's) a handler would receive
    res = run(sandbox, src("""
        import signal
        def f(x):
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGALRM, signal.SIGHUP):
                signal.signal(s, signal.SIG_IGN)
            while True:
                pass
    """))
    assert res.status == "crash"
    assert "signal only works in main thread" in (res.error or "")
    assert_clean(sandbox)


def test_an_alarm_does_not_escape_the_wall_clock(sandbox: Sandbox) -> None:
    # the candidate's process is a PID namespace's init: the kernel drops signals it has no handler for
    res = run(sandbox, src("""
        import signal
        def f(x):
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            while True:
                pass
    """))
    assert res.status == "timeout"
    assert_clean(sandbox)


# -- memory and size --------------------------------------------------------------------------------
def test_fifty_gigabyte_allocation_is_a_memory_failure(sandbox: Sandbox) -> None:
    res = run(sandbox, "import numpy as np\ndef f(x):\n    return np.ones(50 << 30, dtype=np.uint8).sum()\n")
    assert res.status == "memory"
    assert_clean(sandbox)


def test_deep_recursion_crashes(sandbox: Sandbox) -> None:
    res = run(sandbox, "def f(x):\n    return f(x) + 1\n")
    assert res.status == "crash"
    assert "RecursionError" in (res.error or "")
    assert_clean(sandbox)


def test_gigantic_returned_array_is_invalid(sandbox: Sandbox) -> None:
    lim = Limits(**{**FAST.__dict__, "max_output_mb": 8})
    res = run(sandbox, "import numpy as np\ndef f(x):\n    return np.zeros(64 << 20, dtype=np.uint8)\n",
              limits=lim)
    assert res.status == "invalid"
    assert "larger than the sandbox accepts" in (res.error or "")
    assert_clean(sandbox)


def test_filling_the_working_directory_hits_its_size_limit(sandbox: Sandbox) -> None:
    lim = Limits(**{**FAST.__dict__, "disk_mb": 8, "fsize_mb": 4})
    res = run(sandbox, src("""
        def f(x):
            for i in range(100):
                with open(f"fill{i}", "wb") as fh:
                    fh.write(b"x" * (3 << 20))
    """), limits=lim)
    assert res.status == "crash"
    assert "No space left" in (res.error or "") or "File too large" in (res.error or "")
    assert_clean(sandbox)


# -- processes --------------------------------------------------------------------------------------
def test_fork_bomb_is_forbidden(sandbox: Sandbox) -> None:
    res = run(sandbox, "import os\ndef f(x):\n    while True:\n        os.fork()\n")
    assert res.status == "forbidden"
    assert "os.fork" in (res.error or "")
    assert_clean(sandbox)


NATIVE_FORK_BOMB = src("""
    import ctypes
    def f(x):
        libc = ctypes.CDLL(None, use_errno=True)
        n = 0
        while n < 10000:
            pid = libc.fork()
            if pid == 0:
                while True:
                    libc.pause()
            if pid < 0:
                return [n, ctypes.get_errno()]
            n += 1
        return [n, 0]
""")
EAGAIN = 11


def test_native_fork_bomb_is_held_by_the_process_limit(bare: Sandbox) -> None:
    res = run(bare, NATIVE_FORK_BOMB)
    if res.isolation.get("nproc") is None:
        pytest.skip("RLIMIT_NPROC is not enforced here (no dedicated uid)")
    assert res.status == "ok", res.error
    forks, err = res.runs[0].output
    assert err == EAGAIN and 0 < forks < FAST.nproc
    assert_clean(bare)  # the paused children died with the namespace's init


def test_thread_bomb_is_forbidden(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import threading, time
        def f(x):
            while True:
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    """))
    assert res.status == "forbidden"
    assert "thread" in (res.error or "")
    assert_clean(sandbox)


def test_daemon_child_is_forbidden(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import os, time
        def f(x):
            if os.fork() == 0:
                os.setsid()
                time.sleep(60)
            return 1
    """))
    assert res.status == "forbidden"
    assert_clean(sandbox)


def test_native_daemon_child_dies_with_the_candidate(bare: Sandbox) -> None:
    res = run(bare, src("""
        import ctypes, os, time
        def f(x):
            libc = ctypes.CDLL(None)
            if libc.fork() == 0:
                libc.setsid()
                while True:
                    time.sleep(0.01)
            return 1
    """))
    assert res.status == "ok"
    assert_clean(bare)


def test_daemon_child_is_swept_without_namespaces(fallback: Sandbox) -> None:
    lim = Limits(**{**FAST.__dict__, "nproc": 256})
    fallback_bare = make_sandbox(filesystem=False, pidns=False, netns=False, ipc=False, audit=False,
                                 seccomp=False)
    with fallback_bare:
        res = run(fallback_bare, src("""
            import ctypes, time
            def f(x):
                libc = ctypes.CDLL(None)
                if libc.fork() == 0:
                    libc.setsid()
                    while True:
                        time.sleep(0.01)
                return 1
        """), limits=lim)
        assert res.status == "ok"
        assert res.isolation["pid"] == "session"
        assert_clean(fallback_bare)


def test_native_fork_bomb_is_held_and_swept_without_namespaces() -> None:
    with make_sandbox(filesystem=False, pidns=False, netns=False, ipc=False, audit=False,
                      seccomp=False) as sb:
        res = run(sb, NATIVE_FORK_BOMB)
        if res.isolation.get("nproc") is None:
            pytest.skip("RLIMIT_NPROC is not enforced here (no dedicated uid)")
        assert res.status == "ok", res.error
        forks, err = res.runs[0].output
        assert err == EAGAIN and 0 < forks < FAST.nproc
        assert_clean(sb)  # the zygote killed every process of the sandbox uid


def test_os_exit_before_returning_crashes(sandbox: Sandbox) -> None:
    res = run(sandbox, "import os\ndef f(x):\n    os._exit(0)\n")
    assert res.status == "crash"
    assert "before returning a result" in (res.error or "")
    assert_clean(sandbox)


def test_sys_exit_crashes(sandbox: Sandbox) -> None:
    res = run(sandbox, "import sys\ndef f(x):\n    sys.exit(0)\n")
    assert res.status == "crash"
    assert "SystemExit" in (res.error or "")
    assert_clean(sandbox)


def test_raising_keyboard_interrupt_crashes(sandbox: Sandbox) -> None:
    res = run(sandbox, "def f(x):\n    raise KeyboardInterrupt\n")
    assert res.status == "crash"
    assert "KeyboardInterrupt" in (res.error or "")
    assert_clean(sandbox)


def test_raising_a_bare_base_exception_with_a_lying_message_crashes(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        class Lie(BaseException):
            def __str__(self):
                raise RuntimeError("no message for you")
        def f(x):
            raise Lie()
    """))
    assert res.status == "crash"
    assert "Lie" in (res.error or "")
    assert_clean(sandbox)


# -- output channel ---------------------------------------------------------------------------------
def test_printed_fake_result_is_only_stdout(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import json, sys
        def f(x):
            print(json.dumps({"event": "result", "i": 0, "status": "ok", "output": [0, 1, 2]}))
            print('{"event": "done"}')
            sys.stderr.write("score: 1e9\\n")
            return [4]
    """))
    assert res.status == "ok"
    assert res.runs[0].output == [4]
    assert '"event": "result"' in res.stdout
    assert "score: 1e9" in res.stderr
    assert_clean(sandbox)


def test_huge_stdout_is_truncated_not_fatal(sandbox: Sandbox) -> None:
    start = time.monotonic()
    res = run(sandbox, src("""
        import sys
        def f(x):
            chunk = "y" * (1 << 20)
            for _ in range(200):
                sys.stdout.write(chunk)
            print("the end")
            return 1
    """))
    assert res.status == "ok"
    assert res.runs[0].output == 1
    assert len(res.stdout) < FAST.capture_bytes + 200
    assert "bytes cut" in res.stdout
    assert time.monotonic() - start < 5.0
    assert_clean(sandbox)


def test_forged_result_frames_cannot_fake_fast_timings(sandbox: Sandbox) -> None:
    # the candidate computes slowly, then writes its own frames claiming microsecond calls
    code = src("""
        import json, os, struct, time
        def frame(value):
            head = json.dumps({"v": value, "b": []}).encode()
            return struct.pack(">II", len(head), 0) + head
        def f(x):
            time.sleep(0.3)
            os.write(3, frame({"event": "result", "i": 0, "status": "ok", "output": x,
                               "times_ms": [0.001] * 5, "warmup_ms": []}))
            os.write(3, frame({"event": "done"}))
            time.sleep(1.0)
            return x
    """)
    res = run(sandbox, code, repeats=5)
    assert res.status == "invalid"
    assert "parent's clock" in (res.error or "")
    assert_clean(sandbox)


def test_lazy_output_cannot_hide_work_from_the_timer(sandbox: Sandbox) -> None:
    # an output that would do the real work when iterated is sent through list's own iterator
    res = run(sandbox, src("""
        import time
        class Lazy(list):
            def __iter__(self):
                time.sleep(0.5)
                return iter([1, 2, 3])
        def f(x):
            return Lazy([9])
    """), repeats=3)
    assert res.status == "ok"
    assert res.runs[0].output == [9]
    assert max(res.runs[0].times_ms) < 100
    assert_clean(sandbox)


# -- lying values -----------------------------------------------------------------------------------
def test_numpy_subclass_arrives_as_a_plain_array(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import numpy as np
        class Liar(np.ndarray):
            def __eq__(self, other):
                return True
            def __len__(self):
                return 0
            def view(self, *a, **k):
                raise RuntimeError("no view")
        def f(x):
            return np.arange(4).view(Liar)
    """))
    assert res.status == "ok"
    out = res.runs[0].output
    assert type(out) is np.ndarray
    assert out.tolist() == [0, 1, 2, 3]
    assert_clean(sandbox)


def test_object_with_lying_eq_and_len_is_invalid(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        class Anything:
            def __eq__(self, other):
                return True
            def __len__(self):
                return 3
            def __iter__(self):
                return iter([0, 1, 2])
        def f(x):
            return Anything()
    """))
    assert res.status == "invalid"
    assert "cannot cross the sandbox boundary" in (res.error or "")
    assert_clean(sandbox)


def test_int_subclass_lying_about_its_value_is_sent_as_its_value(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        class Seven(int):
            def __int__(self):
                return 0
            def __index__(self):
                return 0
            def __eq__(self, other):
                return True
        def f(x):
            return [Seven(7), {"k": Seven(8)}]
    """))
    assert res.status == "ok"
    assert res.runs[0].output == [7, {"k": 8}]
    assert [type(v) for v in res.runs[0].output] == [int, dict]
    assert_clean(sandbox)


def test_patched_builtins_and_numpy_do_not_reach_the_parent_or_the_next_candidate(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import builtins
        import numpy as np
        def f(x):
            builtins.sorted = lambda *a, **k: [0, 1, 2]
            builtins.len = lambda *a: 3
            np.array_equal = lambda *a, **k: True
            np.unique = lambda a, *r, **k: np.arange(3)
            return [7, 7, 7]
    """))
    assert res.status == "ok"
    out = res.runs[0].output
    assert sorted(out) != [0, 1, 2]  # the parent's validator runs with the parent's builtins
    assert not np.array_equal(np.unique(out), np.arange(3))
    assert_clean(sandbox)  # the canary uses sorted, len and numpy in a fresh process


# -- network ----------------------------------------------------------------------------------------
def test_socket_to_localhost_is_forbidden(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        import socket
        def f(x):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.connect(("127.0.0.1", 22))
    """))
    assert res.status == "forbidden"
    assert "network" in (res.error or "")
    assert_clean(sandbox)


def test_localhost_is_unreachable_even_without_the_audit_hook(bare: Sandbox) -> None:
    needs(bare, "network", "netns")
    res = run(bare, src("""
        import socket
        def f(x):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1)
            try:
                s.connect(("127.0.0.1", 22))
            except OSError as exc:
                return exc.errno
            return "connected"
    """))
    assert res.status == "ok"
    assert res.runs[0].output in (101, 111)  # ENETUNREACH (loopback down) or ECONNREFUSED
    assert_clean(bare)


# -- secrets and files ------------------------------------------------------------------------------
def test_environment_holds_no_keys_or_tokens(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-4242")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-canary-4242")
    with make_sandbox() as sb:  # started after the keys are set
        res = run(sb, "import os\ndef f(x):\n    return dict(os.environ)\n")
        assert res.status == "ok"
        env = res.runs[0].output
        assert not [k for k in env if any(w in k.upper() for w in ("KEY", "TOKEN", "SECRET", "PASS"))]
        assert "canary-4242" not in repr(env)
        assert_clean(sb)


def test_reading_the_problem_package_is_forbidden(sandbox: Sandbox) -> None:
    assert PROBLEM_FILE.is_file()
    res = run(sandbox, f"def f(x):\n    return open({str(PROBLEM_FILE)!r}).read()\n")
    assert_refused_or_hidden(res, "reading")
    assert_clean(sandbox)


def test_catching_the_refusal_does_not_hide_the_attempt(sandbox: Sandbox) -> None:
    res = run(sandbox, src(f"""
        def f(x):
            try:
                return open({str(PROBLEM_FILE)!r}).read()
            except Exception:
                return x
    """))
    if REPO_UNDER_TMP:  # hidden rather than refused: the candidate gets nothing but its own input back
        assert res.status in ("forbidden", "ok") and all(r.output != PROBLEM_FILE.read_text() for r in res.runs)
    else:
        assert res.status == "forbidden"
    assert_clean(sandbox)


def test_repo_holdout_and_runs_are_not_even_visible(bare: Sandbox) -> None:
    needs(bare, "filesystem", "minimal-root")
    paths = [str(REPO), str(PROBLEM_FILE), str(REPO / "runs"), "/work", "/root", "/etc/passwd", "/proc/1/environ"]
    res = run(bare, src(f"""
        import os
        def f(x):
            return [os.path.exists(p) for p in {paths!r}] + [sorted(os.listdir("/"))]
    """))
    assert res.status == "ok", res.error
    assert res.runs[0].output == [False] * len(paths) + [["dev", "tmp"]]
    assert_clean(bare)


def test_writing_into_the_repo_is_forbidden(sandbox: Sandbox) -> None:
    target = REPO / "pwned-by-candidate.txt"
    res = run(sandbox, f"def f(x):\n    open({str(target)!r}, 'w').write('x')\n    return 1\n")
    assert_refused_or_hidden(res, "writing")
    assert not target.exists()
    assert_clean(sandbox)


def test_writing_outside_the_working_directory_fails_without_the_audit_hook(bare: Sandbox) -> None:
    targets = [str(REPO / "pwned-by-candidate.txt"), "/tmp/pwned-by-candidate.txt", "/pwned", "../pwned"]
    res = run(bare, src(f"""
        def f(x):
            done = []
            for t in {targets!r}:
                try:
                    with open(t, "w") as fh:
                        fh.write("x")
                    done.append(t)
                except OSError:
                    pass
            return done
    """))
    assert res.status == "ok"
    written = res.runs[0].output
    # /tmp is the candidate's own private working directory, never the host's /tmp
    assert set(written) <= {"/tmp/pwned-by-candidate.txt"}
    assert not (REPO / "pwned-by-candidate.txt").exists()
    assert not os.path.exists("/tmp/pwned-by-candidate.txt")
    assert_clean(bare)


def test_files_in_the_working_directory_do_not_reach_the_next_candidate(sandbox: Sandbox) -> None:
    first = run(sandbox, "def f(x):\n    open('memo.txt', 'w').write('42')\n    return 1\n")
    assert first.status == "ok"
    second = run(sandbox, src("""
        import os
        def f(x):
            return os.listdir(".")
    """))
    assert second.status == "ok"
    assert second.runs[0].output == []
    assert_clean(sandbox)


def test_other_inputs_are_not_in_the_candidates_memory(bare: Sandbox) -> None:
    secret = np.full(7, 987654321.123, dtype=np.float64)
    first = run(bare, "def f(x):\n    return 0\n", inputs=((secret,),), key="holdout-like")
    assert first.status == "ok"
    needle = secret.tobytes()
    res = run(bare, src("""
        import gc
        import numpy as np
        def f(x):
            for obj in gc.get_objects():
                if isinstance(obj, np.ndarray) and obj.dtype == np.float64 and obj.size == 7:
                    return "found"
                if isinstance(obj, (bytes, bytearray)) and NEEDLE in obj:
                    return "found"
            return "clean"
    """).replace("NEEDLE", repr(needle)))
    assert res.status == "ok", res.error
    assert res.runs[0].output == "clean"
    assert_clean(bare)


def test_inputs_arrive_read_only(sandbox: Sandbox) -> None:
    res = run(sandbox, src("""
        def f(x):
            try:
                x[0] = 0
            except ValueError:
                pass
            try:
                x.setflags(write=True)
            except ValueError:
                return "read-only"
            return "writable"
    """), inputs=((np.arange(5),),))
    assert res.status == "ok"
    assert res.runs[0].output == "read-only"
    assert_clean(sandbox)


def test_writing_outside_is_forbidden_without_namespaces(fallback: Sandbox) -> None:
    target = REPO / "pwned-by-candidate.txt"
    res = run(fallback, f"def f(x):\n    open({str(target)!r}, 'w').write('x')\n    return 1\n")
    assert res.status == "forbidden"
    assert not target.exists()
    assert res.isolation["filesystem"].startswith("host")
    assert_clean(fallback)


# -- the same boundary for a non-root user (user namespace) ------------------------------------------
def test_rootless_native_daemon_child_dies_with_the_candidate(rootless: Sandbox) -> None:
    res = run(rootless, src("""
        import ctypes, time
        def f(x):
            libc = ctypes.CDLL(None)
            if libc.fork() == 0:
                libc.setsid()
                while True:
                    time.sleep(0.01)
            return 1
    """))
    assert res.status == "ok"
    assert_clean(rootless)


def test_rootless_native_fork_bomb_is_held_by_the_process_limit(rootless: Sandbox) -> None:
    res = run(rootless, NATIVE_FORK_BOMB)
    assert res.status == "ok", res.error
    forks, err = res.runs[0].output
    assert err == EAGAIN and 0 < forks < res.isolation["nproc"]
    assert_clean(rootless)


def test_rootless_candidate_sees_no_host_files_and_no_network(rootless: Sandbox) -> None:
    res = run(rootless, src(f"""
        import os, socket
        def f(x):
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", 22))
                net = "connected"
            except OSError as exc:
                net = exc.errno
            return [os.path.exists({str(REPO)!r}), sorted(os.listdir("/")), net]
    """))
    assert res.status == "ok", res.error
    assert res.runs[0].output == [False, ["dev", "tmp"], 101]
    assert_clean(rootless)


def test_inputs_cannot_be_changed_for_the_next_candidate(bare: Sandbox) -> None:
    data = np.arange(8, dtype=np.int64)
    res = run(bare, src("""
        import ctypes
        def f(x):
            libc = ctypes.CDLL(None, use_errno=True)
            page = x.ctypes.data & ~4095
            rc = libc.mprotect(ctypes.c_void_p(page), 4096, 3)  # PROT_READ | PROT_WRITE
            if rc == 0:
                ctypes.memset(x.ctypes.data, 0, x.nbytes)
            return [rc, ctypes.get_errno()]
    """), inputs=((data,),), key="shared-inputs")
    assert res.status == "ok", res.error
    assert res.runs[0].output[0] == -1  # the mapping of a write-sealed memfd cannot become writable
    after = run(bare, "def f(x):\n    return x.tolist()\n", inputs=((data,),), key="shared-inputs")
    assert after.runs[0].output == data.tolist()
    assert_clean(bare)
