"""The audit-hook pre-filter: names a candidate's attempt to reach outside the sandbox so it is `forbidden`.

Not the boundary (namespaces, the uid and rlimits are; native code can bypass any audit hook), but it
turns an attempt into a clear classification instead of an obscure crash. An attempt is sticky: catching
the PermissionError does not hide it, the harness reports the first one recorded.
Stdlib only: the zygote imports it before forking.
"""

from __future__ import annotations

import os
import sys
from typing import Any

FORBIDDEN_MARK = "evolve-sandbox: forbidden:"

NETWORK = frozenset({"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
                     "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg"})
PROCESSES = frozenset({"os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn", "os.system",
                       "os.startfile", "subprocess.Popen", "pty.spawn"})
NATIVE = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle"})
INTROSPECTION = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
#: events whose arguments start with one or two paths that the candidate changes
MUTATIONS = frozenset({"os.mkdir", "os.rmdir", "os.remove", "os.rename", "os.symlink", "os.link",
                       "os.chmod", "os.chown", "os.truncate", "os.utime", "os.chflags", "os.lchflags",
                       "os.mkfifo", "os.mknod", "shutil.rmtree", "shutil.move", "shutil.copyfile",
                       "shutil.copytree", "os.setxattr", "os.removexattr"})
LISTING = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.listxattr", "os.getxattr"})
#: files outside the working directory that a candidate may read
READABLE = frozenset({"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Guard:
    """The hook's state: the working directory it confines files to and the first attempt seen."""

    def __init__(self, workdir: str) -> None:
        self.workdir = os.path.realpath(workdir)
        self.reason: str | None = None
        self.trusted = 0  # > 0 while the harness itself formats a traceback

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def _inside(self, path: Any) -> bool:
        if isinstance(path, int) or path is None:
            return True  # an already open descriptor, or the current directory
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real == self.workdir or real.startswith(self.workdir + os.sep)

    def verdict(self, event: str, args: tuple[Any, ...]) -> str | None:
        """Why `event` is forbidden, or None when it is allowed."""
        if event == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writing = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
                isinstance(mode, str) and any(ch in mode for ch in "wax+"))
            if self._inside(path):
                return None
            if not writing and isinstance(path, (str, bytes)) and os.fsdecode(path) in READABLE:
                return None
            what = "writing" if writing else "reading"
            return f"{what} {os.fsdecode(path)!r} outside the sandbox's working directory"
        if event in NETWORK:
            return f"network access ({event})"
        if event in PROCESSES:
            return f"starting a process ({event})"
        if event in NATIVE:
            return f"loading native code ({event})"
        if event in INTROSPECTION:
            return f"walking the interpreter's objects ({event})"
        if event in MUTATIONS:
            paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
            for p in paths:
                if not self._inside(p):
                    return f"changing {os.fsdecode(p)!r} outside the sandbox's working directory ({event})"
            return None
        if event in LISTING:
            if args and not self._inside(args[0] if args[0] not in ("", b"") else None):
                return f"listing {os.fsdecode(args[0])!r} outside the sandbox's working directory"
            return None
        return None

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.trusted:
            return
        reason = self.verdict(event, args)
        if reason is not None:
            if self.reason is None:
                self.reason = reason
            raise PermissionError(f"{FORBIDDEN_MARK} {reason} is not allowed in the sandbox")
