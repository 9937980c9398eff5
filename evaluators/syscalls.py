"""The syscall filter (seccomp-bpf) of a candidate's process: the second wall behind the namespaces.

The audit hook only names attempts made through Python; native code (ctypes, reachable through numpy)
calls the kernel directly. The filter decides in the kernel: a candidate's process cannot start another
process (threads only), enter or make namespaces, mount, trace, load kernel code or keys, open io_uring
or userfaultfd, make memfds (memory no limit counts) or open sockets beyond the allowed families (none by
default). A refused call kills the process with SIGSYS, which the parent classifies as `forbidden`.

The program is built once per parent process with libseccomp (through pyseccomp, whose API is that of
libseccomp's own binding) and handed to the zygote as raw BPF; each candidate's process installs it with
one prctl before any candidate code runs. Where pyseccomp or libseccomp is missing, `program` says why
and the sandbox runs without the filter (`evolve doctor` reports it).
"""

from __future__ import annotations

import functools
import os

#: calls that kill the candidate's process: other processes, namespaces and mounts, tracing and reading
#: other processes, kernel objects that outlive or bypass the process (keys, BPF, io_uring, userfaultfd,
#: perf events, modules), and memfds, whose pages no rlimit counts
KILLED = ("fork", "vfork", "execve", "execveat", "unshare", "setns", "mount", "umount2", "pivot_root",
          "chroot", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
          "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "keyctl", "add_key",
          "request_key", "bpf", "userfaultfd", "perf_event_open", "io_uring_setup", "io_uring_enter",
          "io_uring_register", "kexec_load", "kexec_file_load", "init_module", "finit_module",
          "delete_module", "reboot", "swapon", "swapoff", "acct", "syslog", "quotactl",
          "open_by_handle_at", "name_to_handle_at", "memfd_create", "memfd_secret", "iopl", "ioperm")
CLONE_THREAD = 0x00010000
#: socket address families are small integers (AF_MAX is 46 on Linux 6.x); every one up to this bound
#: not allowed is refused one by one, and everything from it on at once
FAMILY_BOUND = 64
ENOSYS = 38


@functools.lru_cache(maxsize=8)
def program(socket_families: tuple[int, ...] = ()) -> tuple[bytes | None, str]:
    """The raw BPF program and a one-line description, or (None, why it is unavailable)."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError, AttributeError) as exc:  # the package, or libseccomp.so, is missing
        return None, f"unavailable: pyseccomp/libseccomp cannot be loaded ({exc})"
    try:
        f = sc.SyscallFilter(sc.ALLOW)
        skipped = []
        for name in KILLED:
            try:
                f.add_rule(sc.KILL_PROCESS, name)
            except (OSError, ValueError, RuntimeError):
                skipped.append(name)  # not a call of this architecture or of this libseccomp
        # a new process is a clone without CLONE_THREAD; clone3 passes its flags in memory, which a
        # filter cannot read, so it answers "not implemented" and the C library falls back to clone
        f.add_rule(sc.KILL_PROCESS, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
        f.add_rule(sc.ERRNO(ENOSYS), "clone3")
        if not socket_families:
            f.add_rule(sc.KILL_PROCESS, "socket")
        else:
            for family in range(FAMILY_BOUND):
                if family not in socket_families:
                    f.add_rule(sc.KILL_PROCESS, "socket", sc.Arg(0, sc.EQ, family))
            f.add_rule(sc.KILL_PROCESS, "socket", sc.Arg(0, sc.GE, FAMILY_BOUND))
        try:  # a binary tree of syscall numbers instead of a list: fewer instructions per call
            f.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
        except (OSError, ValueError, RuntimeError):
            pass
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        with os.fdopen(fd, "w+b") as fh:
            f.export_bpf(fh)
            fh.seek(0)
            bpf = fh.read()
    except (OSError, ValueError, RuntimeError) as exc:
        return None, f"unavailable: libseccomp refused the filter ({exc})"
    families = ", ".join(str(f) for f in socket_families) or "none"
    note = f"; not on this architecture: {', '.join(skipped)}" if skipped else ""
    return bpf, f"seccomp-bpf: no processes, namespaces, mounts, tracing, memfds; socket families: {families}{note}"
