"""The sandbox's contract with its callers: instances, drivers, repeats, timings, captures, lifecycle."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from sandbox_helpers import FAST, REPO, make_sandbox, proc_status, processes_of, run, zygote_pid

from evaluators.sandbox import InstanceRun, Job, Limits, Sandbox, libs_dir, timing_error


def test_instances_run_in_order_with_their_outputs(sandbox: Sandbox) -> None:
    res = run(sandbox, "def f(a, b):\n    return a * b\n", inputs=((2, 3), (4, 5), (6, 7)))
    assert res.status == "ok"
    assert [r.output for r in res.runs] == [6, 20, 42]
    assert [r.index for r in res.runs] == [0, 1, 2]


def test_outputs_keep_their_types(sandbox: Sandbox) -> None:
    code = ("import numpy as np\n"
            "def f(x):\n    return {'t': (1, 2), 'a': np.arange(3, dtype=np.int32), 'n': float('nan')}\n")
    out = run(sandbox, code).runs[0].output
    assert out["t"] == (1, 2) and out["a"].dtype == np.int32 and math.isnan(out["n"])


def test_a_driver_wraps_the_entry_function(sandbox: Sandbox) -> None:
    driver = "def drive(entry, x):\n    return entry(x) + 100\n"
    res = run(sandbox, "def f(x):\n    return len(x)\n", driver=driver)
    assert res.runs[0].output == 103


def test_repeats_and_warmups_are_each_timed(sandbox: Sandbox) -> None:
    res = run(sandbox, "import time\ndef f(x):\n    time.sleep(0.01)\n    return 1\n", repeats=3, warmup=2)
    assert res.status == "ok", res.error
    run0 = res.runs[0]
    assert len(run0.times_ms) == 3 and len(run0.warmup_ms) == 2
    assert all(t >= 9.0 for t in run0.times_ms + run0.warmup_ms)


def test_parent_clock_covers_the_reported_calls(sandbox: Sandbox) -> None:
    res = run(sandbox, "import time\ndef f(x):\n    time.sleep(0.05)\n    return 1\n",
              inputs=((1,), (2,)), repeats=2)
    assert res.status == "ok", res.error
    for r, seen in zip(res.runs, res.parent_ms):
        assert sum(r.times_ms) <= seen + 1.0
        assert seen < sum(r.times_ms) + 50.0


def test_timing_error_flags_time_nobody_accounts_for() -> None:
    honest = [InstanceRun(0, "ok", None, (10.0, 10.0), None, (10.0,))]
    assert timing_error(honest, [31.0]) is None
    cheat = [InstanceRun(0, "ok", None, (0.01, 0.01), None, ())]
    assert "do not account" in (timing_error(cheat, [300.0]) or "")


def test_stdout_and_stderr_are_captured(sandbox: Sandbox) -> None:
    res = run(sandbox, "import sys\ndef f(x):\n    print('hello')\n    sys.stderr.write('oops')\n    return 1\n")
    assert res.stdout == "hello\n" and res.stderr == "oops"


def test_a_syntax_error_fails_to_load(sandbox: Sandbox) -> None:
    res = run(sandbox, "def f(x):\n    return (\n")
    assert res.status == "crash"
    assert "failed to load" in (res.error or "") and "SyntaxError" in (res.error or "")


def test_a_missing_entry_function_fails_to_load(sandbox: Sandbox) -> None:
    res = run(sandbox, "def g(x):\n    return 1\n")
    assert res.status == "crash" and "no function named 'f'" in (res.error or "")


def test_an_exception_reports_the_failing_instance_and_keeps_earlier_results(sandbox: Sandbox) -> None:
    res = run(sandbox, "def f(x):\n    return 10 // x\n", inputs=((5,), (0,), (1,)))
    assert res.status == "crash"
    assert [r.status for r in res.runs] == ["ok", "crash"]
    assert "ZeroDivisionError" in (res.error or "") and res.error.startswith("instance 1")  # type: ignore[union-attr]


def test_inputs_are_reused_across_jobs_with_the_same_key(sandbox: Sandbox) -> None:
    big = np.arange(100000, dtype=np.float64)
    a = run(sandbox, "def f(x):\n    return float(x.sum())\n", inputs=((big,),), key="same")
    b = run(sandbox, "def f(x):\n    return int(x.size)\n", inputs=((big,),), key="same")
    assert a.runs[0].output == float(big.sum()) and b.runs[0].output == big.size


def test_kernel_accounting_comes_back(sandbox: Sandbox) -> None:
    res = run(sandbox, "def f(x):\n    return sum(i * i for i in range(200000))\n")
    assert res.exit == "exited with code 0"
    assert res.cpu_s is not None and res.cpu_s > 0
    assert res.maxrss_kb is not None and res.maxrss_kb > 0


def test_achieved_isolation_is_reported(sandbox: Sandbox) -> None:
    iso = run(sandbox, "def f(x):\n    return 0\n").isolation
    for key in ("network", "filesystem", "pid", "uid", "rlimits", "audit_hook", "namespaces"):
        assert key in iso
    if os.geteuid() == 0:
        assert iso["uid"] == sandbox.uid and iso["nproc"] == FAST.nproc


def test_a_killed_zygote_is_restarted(sandbox: Sandbox) -> None:
    pid = zygote_pid(sandbox)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0  # dead (a zombie until the sandbox reaps it) before the next job
    while not proc_status(str(pid)).get("State", "Z").startswith("Z") and time.monotonic() < deadline:
        time.sleep(0.01)
    res = run(sandbox, "def f(x):\n    return 1\n")
    assert res.status == "ok"


@pytest.mark.parametrize("rootless", [False, True])
def test_close_stops_the_zygote_and_its_spare_and_removes_its_folder(rootless: bool) -> None:
    if rootless and os.geteuid() != 0:
        pytest.skip("rootless is the default path when not root")
    sb = make_sandbox(rootless=rootless)
    assert run(sb, "def f(x):\n    return 1\n").status == "ok"
    pid, folder, uid = zygote_pid(sb), sb.tmp_root, sb.uid
    sb.close()
    assert pid is not None and not os.path.exists(f"/proc/{pid}")  # stopped and reaped
    assert not folder.exists()

    def survivors() -> list[str]:  # the zygote, its spare and candidates carry the folder in their argv
        found = [p for p in processes_of(uid)] if uid is not None else []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if str(folder).encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                    found.append(pid)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 5.0
    while survivors() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors() == []


def test_a_candidate_pays_milliseconds_not_an_interpreter_start(sandbox: Sandbox) -> None:
    job = Job("def f(x):\n    return x\n", "f", ((1,),), limits=FAST)
    sandbox.run(job)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        sandbox.run(job)
        times.append(time.perf_counter() - start)
    assert min(times) < 0.15  # a fresh interpreter importing numpy takes 0.25 s or more


def test_rootless_zygote_runs_candidates_in_a_user_namespace() -> None:
    if os.geteuid() != 0:
        pytest.skip("rootless is the default path when not root")
    with make_sandbox(rootless=True) as sb:
        res = run(sb, "import os\ndef f(x):\n    return [os.getpid(), os.getuid()]\n",
                  limits=Limits(**{**FAST.__dict__, "instance_wall_s": 5.0}))
        assert res.status == "ok", res.error
        if "user" not in res.isolation.get("namespaces", []):
            pytest.skip("user namespaces are not available here")
        assert res.runs[0].output == [1, sb.uid]
        assert res.isolation["capabilities"] == "dropped"
        assert res.isolation["filesystem"].startswith("minimal-root")


def test_libs_dir_is_shared_when_trusted_and_private_when_planted(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = libs_dir()
    assert libs_dir() == shared and os.path.isdir(os.path.join(shared, "numpy"))
    os.symlink("/nonexistent", os.path.join(shared, "evil"))  # someone plants a module next to numpy
    private = libs_dir()
    assert private != shared and "evil" not in os.listdir(private)


def test_control_messages_are_read_whole_however_they_arrive() -> None:
    """The zygote's messages can arrive together, or a part at a time across a timeout: each read
    returns exactly one message and keeps the rest for the next."""
    import socket

    from evaluators import wire

    # seam: the zygote's end of the control socket is replaced by one the test writes to, to deliver
    # messages coalesced, split inside a length prefix and cut by EOF; the kernel decides how a real
    # zygote's bytes arrive, so no public path chooses these splits
    sb = Sandbox()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sb._sock = ours
    try:
        theirs.sendall(wire.encode({"pid": 7}) + wire.encode({"pid": 7, "wait_status": 0}))
        assert sb._ctrl_read(timeout=5.0) == {"pid": 7}
        assert sb._ctrl_read(timeout=5.0) == {"pid": 7, "wait_status": 0}
        with pytest.raises(TimeoutError):
            sb._ctrl_read(timeout=0.05)
        frame = wire.encode({"pid": 8, "cpu_s": 0.5})
        theirs.sendall(frame[:6])  # a part of the length prefix, then nothing more for now
        with pytest.raises(TimeoutError):
            sb._ctrl_read(timeout=0.05)
        theirs.sendall(frame[6:])
        assert sb._ctrl_read(timeout=5.0) == {"pid": 8, "cpu_s": 0.5}
        theirs.sendall(frame[:20])
        theirs.close()
        with pytest.raises(EOFError):
            sb._ctrl_read(timeout=5.0)
    finally:
        sb.close_zygote()
    try:  # a restarted zygote does not inherit the dead one's unread bytes: its first message reads whole
        assert run(sb, "def f(x):\n    return 1\n").status == "ok"
    finally:
        sb.close()


@pytest.mark.parametrize("field, value", [
    ("cpu_s", math.inf), ("split_wall_s", 0.0), ("instance_wall_s", math.nan), ("fsize_mb", -1), ("nofile", -1),
    ("nproc", -1), ("memory_mb", -1), ("max_output_mb", -1), ("disk_mb", -1), ("capture_bytes", -1),
])
def test_limits_the_sandbox_cannot_enforce_are_refused_when_made(field: str, value: float) -> None:
    """A negative count would reach setrlimit as "unlimited" (the candidate then ran with no file-size,
    file or process limit); an infinite time cannot be sent to the child. Both fail here, by name."""
    with pytest.raises(ValueError, match=f"Limits.{field} must be"):
        Limits(**{field: value})  # type: ignore[arg-type]
    assert Limits(**{field: 0 if field in ("fsize_mb", "nofile", "nproc", "max_output_mb", "disk_mb") else 1})


def test_the_c_library_is_found_without_running_ldconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    """`find_library` forks `ldconfig -p`; the zygote (a process holding numpy) must not pay that at start."""
    import ctypes.util

    from evaluators import jail

    def refuse(_name: str) -> str:
        raise AssertionError("find_library runs ldconfig in a subprocess")

    monkeypatch.setattr(ctypes.util, "find_library", refuse)
    c = jail.libc()
    jail.bind_functions(c)
    assert c.prctl(jail.PR_SET_DUMPABLE, 1, 0, 0, 0) == 0  # a real call through the symbol found


AFFINITY = "import os\ndef f(x):\n    return sorted(os.sched_getaffinity(0))\n"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to pin to")
def test_a_candidate_shares_one_cpu_with_the_thread_that_runs_it(sandbox: Sandbox) -> None:
    """Each instance's inputs are a round trip between the calling thread and the candidate; on one CPU
    it is a context switch, not an interrupt to another CPU. The caller's own affinity comes back."""
    before = os.sched_getaffinity(0)
    res = sandbox.run(Job(AFFINITY, "f", ((0,), (1,)), limits=FAST))
    assert res.status == "ok", res.error
    assert sandbox.cpu is not None and [r.output for r in res.runs] == [[sandbox.cpu]] * 2
    assert os.sched_getaffinity(0) == before


def test_pinning_can_be_switched_off() -> None:
    with make_sandbox(pin_cpu=False) as sb:
        res = sb.run(Job(AFFINITY, "f", ((0,),), limits=FAST))
    assert res.status == "ok", res.error
    assert sb.cpu is None and res.runs[0].output == sorted(os.sched_getaffinity(0))


SPREAD = """
import os, sys
sys.path.insert(0, sys.argv[1])
from evaluators.sandbox import Sandbox
n = len(os.sched_getaffinity(0))
boxes = [Sandbox(slot=4000 + n * k) for k in range(n)]  # never started; the same slot CPU for all
got = sorted(b.cpu for b in boxes)
last = boxes.pop()
freed = last.cpu
last.close()
again = Sandbox(slot=4000)  # the one CPU none of this process's sandboxes uses now
print(got == sorted(os.sched_getaffinity(0)), again.cpu == freed)
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to pin to")
def test_the_workers_of_one_process_never_share_a_cpu_while_another_is_free() -> None:
    """Slots 4000 and 4002 would both take the first CPU of two (another process holding slot 4001, say):
    the second sandbox of the process takes the free CPU instead, and a closed sandbox gives its CPU back.
    In a process of its own, so that no other test's open sandbox counts."""
    out = subprocess.run([sys.executable, "-c", SPREAD, str(REPO)], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True"], out.stderr
