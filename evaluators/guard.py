"""The audit-hook pre-filter: names a candidate's attempt to reach outside the sandbox so it is `forbidden`.

Not the boundary (namespaces, the uid, rlimits and the syscall filter are; native code can bypass any audit
hook), but it turns an attempt into a clear classification instead of an obscure crash.

The hook is out of the candidate's reach from Python: it is a closure over values bound when it is made
(the C functions and builtins it calls, the working directory), so patching a module, a class or the
builtins changes nothing it uses; it has no switch (no "trusted" section: the harness's own work after
the candidate starts raises no event it refuses); and it reports each refusal to the parent at once
(`report`), so that wiping a recorded reason, or catching the PermissionError, hides nothing.
Stdlib only: the zygote imports it before forking.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

FORBIDDEN_MARK = "evolve-sandbox: forbidden:"

NETWORK = frozenset({"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
                     "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg"})
PROCESSES = frozenset({"os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn", "os.system",
                       "os.startfile", "subprocess.Popen", "pty.spawn"})
NATIVE = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle"})
#: modules that start processes without an audit event of their own: the harness hides them from the
#: candidate, and an import of one is named here rather than left as a bare ModuleNotFoundError
PROCESS_MODULES = frozenset({"subprocess", "_posixsubprocess"})
#: the ways to reach objects of the harness: other threads' frames (the harness waits in the main
#: thread while the candidate runs in a thread of its own) and the collector's lists of all objects
INTROSPECTION = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
                           "sys._current_exceptions"})
#: events whose arguments start with one or two paths that the candidate changes
MUTATIONS = frozenset({"os.mkdir", "os.rmdir", "os.remove", "os.rename", "os.symlink", "os.link",
                       "os.chmod", "os.chown", "os.truncate", "os.utime", "os.chflags", "os.lchflags",
                       "os.mkfifo", "os.mknod", "shutil.rmtree", "shutil.move", "shutil.copyfile",
                       "shutil.copytree", "os.setxattr", "os.removexattr"})
LISTING = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.listxattr", "os.getxattr"})
#: files outside the working directory that a candidate may read
READABLE = frozenset({"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: symbolic links followed while resolving one path (the kernel's own limit)
MAX_LINKS = 40


def make_verdict(workdir: str) -> Callable[[str, tuple[Any, ...]], str | None]:
    """The policy: `verdict(event, args)` says why `event` is forbidden, or None when it is allowed.

    Every name the closure uses is bound here, so nothing the candidate patches later reaches it.
    """
    readlink, getcwd, fsencoding = os.readlink, os.getcwd, sys.getfilesystemencoding()
    is_a, str_, bytes_, int_, bool_, any_ = isinstance, str, bytes, int, bool, any
    os_error, value_error, path_like = OSError, ValueError, os.PathLike
    fspath, write_flags = os.fspath, _WRITE_FLAGS
    network, processes, native, introspection = NETWORK, PROCESSES, NATIVE, INTROSPECTION
    process_modules = PROCESS_MODULES
    mutations, listing, readable, max_links = MUTATIONS, LISTING, READABLE, MAX_LINKS

    def text(path: Any) -> str | None:
        if is_a(path, path_like) and not is_a(path, (str_, bytes_)):
            return None  # an object of the candidate's: its __fspath__ would run here
        if is_a(path, bytes_):
            return bytes_.decode(path, fsencoding, "surrogateescape")
        return str_.__str__(path) if is_a(path, str_) else None

    def resolve(path: str) -> str:
        """The path with `.`, `..` and symbolic links resolved (os.path.realpath, from bound functions)."""
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        done: list[str] = []
        pending = path.split("/")
        pending.reverse()
        links = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            here = "/" + "/".join([*done, part])
            try:
                target = readlink(here)
            except (os_error, value_error):
                done.append(part)
                continue
            links += 1
            if links > max_links:
                return here
            if target.startswith("/"):
                done = []
            more = target.split("/")
            more.reverse()
            pending.extend(more)
        return "/" + "/".join(done)

    root = resolve(fspath(workdir))

    def inside(path: Any) -> bool:
        if path is None or (is_a(path, int_) and not is_a(path, bool_)):
            return True  # an already open descriptor, or the current directory
        name = text(path)
        if name is None:
            return False
        real = resolve(name)
        return real == root or real.startswith(root + "/")

    def verdict(event: str, args: tuple[Any, ...]) -> str | None:
        if event == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writing = (is_a(flags, int_) and flags & write_flags) or (
                is_a(mode, str_) and any_(ch in mode for ch in "wax+"))
            if inside(path):
                return None
            name = text(path)
            if not writing and name in readable:
                return None
            return f"{'writing' if writing else 'reading'} {name!r} outside the sandbox's working directory"
        if event == "import":
            return f"starting a process (import {args[0]})" if args and args[0] in process_modules else None
        if event in network:
            return f"network access ({event})"
        if event in processes:
            return f"starting a process ({event})"
        if event in native:
            return f"loading native code ({event})"
        if event in introspection:
            return f"walking the interpreter's objects ({event})"
        if event in mutations:
            for p in args[:2]:
                if is_a(p, (str_, bytes_, path_like)) and not inside(p):
                    return f"changing {text(p)!r} outside the sandbox's working directory ({event})"
            return None
        if event in listing:
            if args and not inside(args[0]):
                return f"listing {text(args[0])!r} outside the sandbox's working directory"
            return None
        return None

    return verdict


def make_hook(verdict: Callable[[str, tuple[Any, ...]], str | None],
              report: Callable[[str], None]) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook: refuses what `verdict` names, reporting each refusal through `report` first."""
    refusal = PermissionError

    def hook(event: str, args: tuple[Any, ...]) -> None:
        reason = verdict(event, args)
        if reason is not None:
            report(reason)
            raise refusal(f"{FORBIDDEN_MARK} {reason} is not allowed in the sandbox")

    return hook


def install(workdir: str, report: Callable[[str], None]) -> None:
    """Install the pre-filter; nothing keeps a reference to it but the interpreter's list of hooks."""
    sys.addaudithook(make_hook(make_verdict(workdir), report))
