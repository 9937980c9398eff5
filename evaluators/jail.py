"""Confining one process with kernel mechanisms: namespaces, a minimal root, an unprivileged uid, rlimits.

Linux only; stdlib and ctypes only, because the sandbox zygote imports it before it forks (a candidate's
process cannot read the interpreter's files). Every function reports what it achieved instead of
failing: the caller records the achieved mechanisms, and falls back where the kernel refuses.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = {"mount": CLONE_NEWNS, "pid": CLONE_NEWPID, "net": CLONE_NEWNET, "ipc": CLONE_NEWIPC,
              "uts": CLONE_NEWUTS}

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
#: pivot_root has no glibc wrapper; its syscall number per architecture
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "loongarch64": 41, "ppc64le": 203,
                  "ppc64": 203, "s390x": 217, "i686": 217, "i386": 217, "armv7l": 218, "armv6l": 218}
#: seccomp has no glibc wrapper either
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "riscv64": 277, "loongarch64": 277, "ppc64le": 358,
               "ppc64": 358, "s390x": 348, "i686": 354, "i386": 354, "armv7l": 383, "armv6l": 383}
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4
#: device nodes a candidate may open inside the minimal root
DEVICES = ("null", "zero", "full", "random", "urandom")
_CAP_VERSION_3 = 0x20080522
#: the C library's functions the jail calls
LIBC_FUNCTIONS = ("unshare", "setns", "mount", "umount2", "syscall", "prctl", "capset")
#: mallopt(3) parameter: the most malloc arenas the process creates (glibc)
M_ARENA_MAX = -8


class JailError(OSError):
    """A confinement step the kernel refused."""


def libc() -> Any:
    """The C library with errno tracking (needed for unshare, mount, prctl).

    The interpreter is linked against it, so the symbols the process already has are tried first:
    `ctypes.util.find_library` runs `ldconfig -p` in a subprocess, which cost the zygote a fork of a
    process holding numpy and an exec at every start (see docs/sandbox.md, "Cost").
    """
    own = ctypes.CDLL(None, use_errno=True)
    if all(hasattr(own, name) for name in LIBC_FUNCTIONS):
        return own
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise JailError(err, f"{what}: {os.strerror(err)}")


def bind_functions(c: Any) -> None:
    """Resolve every libc symbol now: after the audit hook is installed a lookup would be refused."""
    for name in LIBC_FUNCTIONS:
        getattr(c, name)


def one_arena(c: Any) -> bool:
    """Let every thread allocate from the main malloc arena (glibc): a candidate runs in a thread of its
    own, and its first allocation would otherwise make a new arena (a 128 MB reservation, trimmed, and
    fresh pages) in every candidate's process. Single-threaded candidates lose nothing by it."""
    mallopt = getattr(c, "mallopt", None)
    return mallopt is not None and mallopt(M_ARENA_MAX, 1) == 1


def prctl(c: Any, option: int, arg: int) -> bool:
    return bool(c.prctl(option, arg, 0, 0, 0) == 0)


def unshare(c: Any, names: list[str]) -> list[str]:
    """Enter new namespaces of the given kinds; all at once, else one by one. Returns those entered."""
    flags = 0
    for name in names:
        flags |= NAMESPACES[name]
    if not names:
        return []
    if c.unshare(flags) == 0:
        return list(names)
    got = []
    for name in names:
        if c.unshare(NAMESPACES[name]) == 0:
            got.append(name)
    return got


class PidNamespaces:
    """Makes each next fork the init of a fresh PID namespace, while this process stays where it is.

    `unshare(CLONE_NEWPID)` affects only the children created afterwards, and only once; joining our own
    namespace again with `setns` after the fork re-arms it for the next child.
    """

    def __init__(self, c: Any) -> None:
        self.c = c
        try:
            self.own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.own = -1
        if self.own >= 0 and c.setns(self.own, CLONE_NEWPID) != 0:  # re-arming would fail: never arm
            os.close(self.own)
            self.own = -1

    def arm(self) -> bool:
        """Put the next fork in a new PID namespace; False when the kernel refuses."""
        return self.own >= 0 and self.c.unshare(CLONE_NEWPID) == 0

    def disarm(self) -> None:
        """Back to our own namespace for later children (call in the parent after the fork)."""
        _check(self.c.setns(self.own, CLONE_NEWPID), "setns back to our PID namespace")


def enter_user_namespace(c: Any) -> bool:
    """Unprivileged path: a user namespace (mapping our own ids) grants the rights to build the rest."""
    uid, gid = os.geteuid(), os.getegid()
    if c.unshare(CLONE_NEWUSER) != 0:
        return False
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError:
        return False
    return True


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _mount(c: Any, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(c.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)), f"mount {target}")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def minimal_root(c: Any, root: str, uid: int, gid: int, disk_mb: int) -> str:
    """Replace this mount namespace's filesystem by an empty read-only root holding only a private
    writable /tmp (tmpfs of `disk_mb`, owned by `uid`) and a few device nodes. Returns how the old root
    was discarded ("pivot_root" or "chroot"). Must run in a fresh mount namespace, with CAP_SYS_ADMIN.
    """
    _mount(c, None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates to the host
    _mount(c, "evolve-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=64,mode=755")
    os.mkdir(f"{root}/tmp", 0o700)
    os.mkdir(f"{root}/dev", 0o755)
    _mount(c, "evolve-tmp", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={max(1, int(disk_mb))}m,nr_inodes=4096,mode=700,uid={uid},gid={gid}")
    for name in DEVICES:
        node = f"{root}/dev/{name}"
        os.close(os.open(node, os.O_CREAT | os.O_WRONLY, 0o666))
        _mount(c, f"/dev/{name}", node, None, MS_BIND)
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    how = "chroot"
    if number is not None and c.syscall(number, b".", b".") == 0:
        _check(c.umount2(b".", MNT_DETACH), "detach the old root")
        how = "pivot_root"
    else:
        os.chroot(".")
    os.chdir("/")
    _mount(c, None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return how


def resize_tmp(c: Any, disk_mb: int) -> None:
    """Give the minimal root's /tmp another size (before the candidate runs, while still privileged)."""
    _mount(c, None, "/tmp", None, MS_REMOUNT | MS_NOSUID | MS_NODEV, f"size={max(1, int(disk_mb))}m")


def drop_uid(uid: int, gid: int) -> None:
    """Become `uid`/`gid` for good (real, effective and saved ids), with no supplementary groups."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def own_proc_files(c: Any) -> bool:
    """After a uid change /proc/self belongs to root; make it ours again (to write our uid map)."""
    return prctl(c, PR_SET_DUMPABLE, 1)


def drop_capabilities(c: Any) -> bool:
    """Clear every capability of this process (after a user namespace gave us all of them)."""
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    return bool(c.capset(header, data) == 0)


def set_limits(lim: dict[str, Any], nproc: bool) -> dict[str, int]:
    """Apply the candidate's rlimits (soft = the limit, hard = the kill point); returns what was set."""
    mb = 1 << 20
    cpu = max(1, int(lim["cpu_s"]))
    wanted = {
        # soft = hard: the kernel sends SIGKILL at the limit (a PID namespace's init ignores SIGXCPU)
        "cpu": (resource.RLIMIT_CPU, cpu, cpu),
        "as": (resource.RLIMIT_AS, int(lim["memory_mb"]) * mb, int(lim["memory_mb"]) * mb),
        "fsize": (resource.RLIMIT_FSIZE, int(lim["fsize_mb"]) * mb, int(lim["fsize_mb"]) * mb),
        "nofile": (resource.RLIMIT_NOFILE, int(lim["nofile"]), int(lim["nofile"])),
        "core": (resource.RLIMIT_CORE, 0, 0),
    }
    if nproc:
        wanted["nproc"] = (resource.RLIMIT_NPROC, int(lim["nproc"]), int(lim["nproc"]))
    done = {}
    for name, (which, soft, hard) in wanted.items():
        _, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:
            hard = min(hard, old_hard)
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
            done[name] = soft
        except (ValueError, OSError):
            pass
    return done


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def prepare_filter(program: bytes) -> Any:
    """The `struct sock_fprog` of a seccomp-bpf program (raw `struct sock_filter` entries, 8 bytes each),
    made once in the zygote so that each candidate's process only makes the one call."""
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    return (buf, prog, ctypes.byref(prog), SYS_SECCOMP.get(os.uname().machine))


def load_filter(c: Any, prepared: Any) -> bool:
    """Install a prepared seccomp-bpf program for this process and every thread it starts from now on; it
    cannot be removed. Needs no_new_privs (or CAP_SYS_ADMIN).

    Through seccomp(2) with SECCOMP_FILTER_FLAG_SPEC_ALLOW where the call's number is known: by default
    the kernel also turns on its speculative-store-bypass mitigation for a filtered process, which slows
    the candidate's own code (and so the timings a problem scores) and protects nothing here, where the
    process holds only what the candidate may read.
    """
    ref, number = prepared[2], prepared[3]
    if number is not None and c.syscall(number, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, ref) == 0:
        return True
    return bool(c.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ref, 0, 0) == 0)


def is_privileged() -> bool:
    return os.geteuid() == 0
