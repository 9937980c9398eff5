"""Fixtures for the sandbox tests: sandboxes on slots of their own, and checks that nothing was left behind."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluators.sandbox import Isolation, Job, Limits, Sandbox, SandboxResult

REPO = Path(__file__).resolve().parents[2]
#: quick limits so that hostile programs end fast
FAST = Limits(split_wall_s=3.0, instance_wall_s=1.5, cpu_s=3.0, memory_mb=1024, fsize_mb=4, nproc=32)
CANARY = ("import numpy as np\n"
          "def f(x):\n"
          "    return sorted(np.asarray(x).tolist(), reverse=True)[:3] + [len(x)]\n")
_locks: list[Any] = []


def claim_slot(start: int = 500) -> int:
    """A sandbox slot (uid offset) no other process on this machine uses (same lock files as dispatch)."""
    folder = Path(tempfile.gettempdir()) / "evolve-slots"
    folder.mkdir(mode=0o755, exist_ok=True)
    for slot in range(start, start + 1000):
        fh = open(folder / f"{slot}.lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        _locks.append(fh)
        return slot
    raise RuntimeError("no free sandbox slot")


def make_sandbox(**isolation: Any) -> Sandbox:
    return Sandbox(slot=claim_slot(), isolation=Isolation(**isolation))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A fully isolated sandbox shared by a module's tests (the canary checks it still works)."""
    with make_sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def bare() -> Iterator[Sandbox]:
    """The same kernel isolation without the audit-hook pre-filter: what the boundary alone holds."""
    with make_sandbox(audit=False) as sb:
        yield sb


@pytest.fixture(scope="module")
def fallback() -> Iterator[Sandbox]:
    """No namespaces at all: the uid, rlimits, the process-group sweep and the audit hook."""
    with make_sandbox(filesystem=False, pidns=False, netns=False, ipc=False) as sb:
        yield sb


def run(sb: Sandbox, code: str, inputs: tuple[tuple[Any, ...], ...] = (([5, 1, 4],),),
        limits: Limits = FAST, **job: Any) -> SandboxResult:
    return sb.run(Job(code=code, entry=job.pop("entry", "f"), inputs=inputs, limits=limits, **job))


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
        assert processes_of(uid) == []
        roots = tuple(p for p in (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), REPO) if p.is_dir())
        assert files_of(uid, roots) == []
    assert [p.name for p in sb._tmp_root.iterdir() if p.name.startswith("job-")] == []
    res = run(sb, CANARY, inputs=(([3, 9, 1, 7],),))
    assert res.status == "ok", res.error
    assert res.runs[0].output == [9, 7, 3, 4]
