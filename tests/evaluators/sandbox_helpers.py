"""Fixtures for the sandbox tests: sandboxes on slots of their own, and checks that nothing was left behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluators.dispatch import claim_slot
from evaluators.sandbox import Isolation, Job, Limits, Sandbox, SandboxResult

REPO = Path(__file__).resolve().parents[2]
#: quick limits so that hostile programs end fast
FAST = Limits(split_wall_s=3.0, instance_wall_s=1.5, cpu_s=3.0, memory_mb=1024, fsize_mb=4, nproc=32)
CANARY = ("import numpy as np\n"
          "def f(x):\n"
          "    return sorted(np.asarray(x).tolist(), reverse=True)[:3] + [len(x)]\n")


def make_sandbox(**isolation: Any) -> Sandbox:
    return Sandbox(slot=claim_slot(500), isolation=Isolation(**isolation))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A fully isolated sandbox shared by a module's tests (the canary checks it still works)."""
    with make_sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def bare() -> Iterator[Sandbox]:
    """The namespaces, the uid and the rlimits alone, without the audit-hook pre-filter and the syscall
    filter: what holds against native code on a machine where libseccomp is missing."""
    with make_sandbox(audit=False, seccomp=False) as sb:
        yield sb


@pytest.fixture(scope="module")
def filtered() -> Iterator[Sandbox]:
    """The kernel walls with the syscall filter but without the audit hook: what native code meets."""
    pytest.importorskip("pyseccomp", reason="no syscall filter on this machine (pyseccomp missing)")
    with make_sandbox(audit=False) as sb:
        yield sb


@pytest.fixture(scope="module")
def rootless() -> Iterator[Sandbox]:
    """What a non-root user gets: the zygote runs unprivileged and takes its namespaces from a user
    namespace (no audit hook, to test the kernel mechanisms alone)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start an unprivileged zygote on a dedicated uid")
    with make_sandbox(rootless=True, audit=False, seccomp=False) as sb:
        probe = run(sb, "def f(x):\n    return 0\n")
        if "user" not in probe.isolation.get("namespaces", []):
            pytest.skip("user namespaces are not available here")
        yield sb


@pytest.fixture(scope="module")
def fallback() -> Iterator[Sandbox]:
    """No namespaces at all: the uid, rlimits, the process-group sweep and the audit hook."""
    with make_sandbox(filesystem=False, pidns=False, netns=False, ipc=False) as sb:
        yield sb


def run(sb: Sandbox, code: str, inputs: tuple[tuple[Any, ...], ...] = (([5, 1, 4],),),
        limits: Limits = FAST, **job: Any) -> SandboxResult:
    return sb.run(Job(code=code, entry=job.pop("entry", "f"), inputs=inputs, limits=limits, **job))


def proc_status(pid: str) -> dict[str, str]:
    """The fields of /proc/<pid>/status ({} once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def zygote_pid(sb: Sandbox) -> int | None:
    """The process `sb` started (its zygote, or the launcher when rootless), found as the user would: a
    child of this process whose working directory is the sandbox's folder."""
    me, folder = str(os.getpid()), str(sb.tmp_root)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if proc_status(pid).get("PPid") == me and os.readlink(f"/proc/{pid}/cwd") == folder:
                return int(pid)
        except OSError:
            pass
    return None


def leftovers(sb: Sandbox) -> list[str]:
    """Live processes of the sandbox uid other than the zygote and its one prepared spare.

    A zygote that runs as the sandbox uid itself (rootless) is the launcher, the zygote proper and a spare
    (depth 0, 1, 2 below the process the parent started); anything deeper, or a second process at depth
    2, is something a candidate left behind.
    """
    assert sb.uid is not None
    procs = {pid: proc_status(pid) for pid in os.listdir("/proc") if pid.isdigit()}
    root = str(zygote_pid(sb) or "")

    def depth(pid: str) -> int | None:
        for d in range(6):
            if pid == root:
                return d
            pid = procs.get(pid, {}).get("PPid", "0")
        return None

    mine = [p for p in processes_of(sb.uid) if p.split()[0] in procs]
    deep = {p: depth(p.split()[0]) for p in mine}
    spares = [p for p, d in deep.items() if d == 2]
    return [p for p, d in deep.items() if d is None or d > 2] + spares[1:]


def processes_of(uid: int) -> list[str]:
    """`pid name` of every live process whose real uid is `uid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and "Z" not in fields.get("State", ""):
            found.append(f"{entry} {fields.get('Name', '').strip()}")
    return found


def files_of(uid: int, roots: tuple[Path, ...]) -> list[str]:
    """Files and folders owned by `uid` under `roots` (the host's writable places and the repo)."""
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root, onerror=lambda _e: None):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in dirs + files:
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_uid == uid:
                        found.append(path)
                except OSError:
                    pass
    return found


def assert_clean(sb: Sandbox) -> None:
    """Nothing of the last candidate survives: no process, no file, no working directory; and the same
    sandbox evaluates the next candidate normally."""
    uid = sb.uid
    if uid is not None:
        assert leftovers(sb) == []
        roots = tuple(p for p in (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), REPO) if p.is_dir())
        # the empty mount point of the candidates' root belongs to the uid when the zygote does
        assert [f for f in files_of(uid, roots) if f != str(sb.tmp_root / "root")] == []
    assert [p.name for p in sb.tmp_root.iterdir() if p.name.startswith("job-")] == []
    res = run(sb, CANARY, inputs=(([3, 9, 1, 7],),))
    assert res.status == "ok", res.error
    assert res.runs[0].output == [9, 7, 3, 4]
