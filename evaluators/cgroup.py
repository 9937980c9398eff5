"""One memory and process budget per candidate: a pair of control groups per zygote.

RLIMIT_AS caps each process's address space, not what a candidate holds as a whole: pages of a memfd or
of its private /tmp are in no address space. A control group counts every page its processes charge
(heap, page cache, shmem and tmpfs) against `memory.max` and their tasks against `pids.max`.
The parent creates two groups per zygote (cgroup v2 where the memory and pids controllers can be
delegated to a child of ours, else the v1 `memory` and `pids` hierarchies), because the next candidate's
process is forked while the current one runs; the zygote puts each process it forks in the free one
and, when the job comes, sets its limits from the job's and reads its OOM-kill count before and after.
Where neither can be created (not root, no delegation, a read-only cgroupfs), `create` says why and the
candidate keeps the fallback walls: RLIMIT_AS and the syscall filter, which refuses new processes and
memfds (docs/sandbox.md).

Stdlib only: the zygote imports it before forking.
"""

from __future__ import annotations

import os
from typing import Any

MOUNT = "/sys/fs/cgroup"
#: tasks the harness adds to a candidate's own: the process's main thread, waiting, and the spare's setup
HARNESS_TASKS = 2


def _own(controller: str | None) -> str | None:
    """Our cgroup's path in the hierarchy of `controller` (None: the v2 unified hierarchy)."""
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, names, path = line.rstrip("\n").split(":", 2)
                if (controller is None and names == "") or (controller in names.split(",")):
                    return path
    except OSError:
        return None
    return None


def _unified_mount() -> str | None:
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] == "cgroup2":
                    return left.split(" ")[4]
    except OSError:
        return None
    return None


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _sweep(parent: str) -> None:
    """Remove the empty groups that processes no longer alive left under `parent` (a parent killed
    before it could close its sandboxes); a group whose process lives, or that is not empty, stays."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        parts = entry.split("-")
        if len(parts) >= 3 and parts[0] == "evolve" and parts[1].isdigit() \
                and not os.path.exists(f"/proc/{parts[1]}"):
            try:
                os.rmdir(os.path.join(parent, entry))
            except OSError:
                pass


def _make(parent: str, names: list[str]) -> list[str]:
    _sweep(parent)
    made = []
    try:
        for name in names:
            os.mkdir(os.path.join(parent, name), 0o755)
            made.append(os.path.join(parent, name))
    except OSError:
        remove({"dirs": made})
        raise
    return made


def create(name: str, pids: bool = True) -> tuple[dict[str, Any] | None, str]:
    """Two empty groups `<name>-a` and `<name>-b` for one zygote, and a description; (None, why) when
    this machine does not let us make them.

    With `pids=False` the task budget is left to the caller (on cgroup v1 no `pids` groups are made): a
    candidate that runs as a uid of its own under the syscall filter can start no process, and
    RLIMIT_NPROC caps its threads exactly, so a `pids` group would cap nothing more, while on v1 moving
    each process into it is a second migration (a write to `cgroup.procs`) per candidate.
    """
    names = [f"{name}-a", f"{name}-b"]
    why = []
    mount, own = _unified_mount(), _own(None)
    if mount is not None and own is not None:
        parent = os.path.join(mount, own.lstrip("/"))
        try:
            controllers = set(_read(os.path.join(parent, "cgroup.controllers")).split())
            if {"memory", "pids"} <= controllers:
                try:  # our own group must hand the controllers down (only allowed where it has no process)
                    _write(os.path.join(parent, "cgroup.subtree_control"), "+memory +pids")
                except OSError:
                    pass
                made = _make(parent, names)
                if {"memory", "pids"} <= set(_read(os.path.join(made[0], "cgroup.controllers")).split()):
                    what = f"cgroup v2 ({parent})"
                    return {"version": 2, "dirs": made, "memory": made, "pids": made, "describe": what}, what
                remove({"dirs": made})
                why.append("cgroup v2: the memory and pids controllers are not delegated to our group")
            else:
                why.append(f"cgroup v2: controllers here are {sorted(controllers) or 'none'}")
        except OSError as exc:
            why.append(f"cgroup v2: {exc.strerror or exc}")
    memory, own_pids = _own("memory"), _own("pids")
    if memory is not None and (own_pids is not None or not pids):
        try:
            mem = _make(os.path.join(MOUNT, "memory", memory.lstrip("/")), names)
            pid: list[str] = []
            if pids:
                try:
                    pid = _make(os.path.join(MOUNT, "pids", str(own_pids).lstrip("/")), names)
                except OSError:
                    remove({"dirs": mem})
                    raise
            what = "cgroup v1 (memory, pids)" if pids else "cgroup v1 (memory)"
            return {"version": 1, "dirs": mem + pid, "memory": mem, "pids": pid, "describe": what}, what
        except OSError as exc:
            why.append(f"cgroup v1: {exc.strerror or exc}")
    else:
        why.append("cgroup v1: no memory and pids hierarchies")
    return None, "; ".join(why)


def remove(groups: dict[str, Any] | None) -> None:
    """Remove the groups (each must be empty: its processes gone)."""
    for path in (groups or {}).get("dirs", []):
        try:
            os.rmdir(path)
        except OSError:
            pass


class Budgets:
    """The zygote's side: which group the next process goes to, its limits, its OOM kills."""

    def __init__(self, groups: dict[str, Any]) -> None:
        self.version = int(groups["version"])
        self.memory, self.pids = list(groups["memory"]), list(groups["pids"])
        self.limits: list[tuple[int, int] | None] = [None, None]
        self.next = 0
        self.kills = [self._oom_kills(0), self._oom_kills(1)]

    def join(self, pid: int) -> int:
        """Put a newly forked process in the free group; returns the group's index."""
        k, self.next = self.next, 1 - self.next
        for base in {self.memory[k], *self.pids[k:k + 1]}:
            _write(os.path.join(base, "cgroup.procs"), str(pid))
        return k

    def limit(self, k: int, memory_mb: int, nproc: int) -> None:
        """Group k's limits for the job it is about to run (written only when they change)."""
        if self.limits[k] == (memory_mb, nproc):
            return
        limit = str(max(1, memory_mb) << 20)
        if self.version == 2:
            _write(os.path.join(self.memory[k], "memory.max"), limit)
            _write(os.path.join(self.memory[k], "memory.swap.max"), "0")
        else:  # the memory+swap limit may never be below the memory limit: write them in a valid order
            mem, memsw = (os.path.join(self.memory[k], f"memory.{n}limit_in_bytes") for n in ("", "memsw."))
            for first, second in ((memsw, mem), (mem, memsw)):
                try:
                    _write(first, limit)
                    if os.path.exists(second):
                        _write(second, limit)
                    break
                except OSError:
                    continue
        if self.pids:
            _write(os.path.join(self.pids[k], "pids.max"), str(max(1, nproc) + HARNESS_TASKS))
        self.limits[k] = (memory_mb, nproc)

    def oom_killed(self, k: int) -> bool:
        """Whether the kernel killed a process of group k for memory since the last look (asked about a
        process killed by SIGKILL: every OOM kill is one, so no kill goes unasked)."""
        count = self._oom_kills(k)
        killed, self.kills[k] = count > self.kills[k], count
        return killed

    def _oom_kills(self, k: int) -> int:
        """How many processes of group k the kernel killed for memory, so far."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in _read(os.path.join(self.memory[k], name)).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0
