"""`evolve doctor`: which isolation mechanisms the sandbox achieves on this machine, verified from inside.

Each mechanism is checked the only way that can be trusted: by running probe candidates in a real
sandbox and looking at what they could and could not do. The same achieved mechanisms come back with
every evaluation (`SandboxResult.isolation`) and are stored in the run's metadata.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from evaluators.sandbox import DEFAULT_PACKAGES, DEFAULT_PRELOAD, Isolation, Job, Limits, Sandbox

REPO = Path(__file__).resolve().parents[1]
ENETUNREACH, ECONNREFUSED = 101, 111
PROBE = """
import os, resource, socket
def probe(repo):
    seen = {"pid": os.getpid(), "uid": os.getuid(), "root": sorted(os.listdir("/")),
            "repo_visible": os.path.exists(repo), "cwd": os.getcwd(),
            "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0]}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", 9))
        seen["loopback"] = "connected"
    except OSError as exc:
        seen["loopback"] = exc.errno
    finally:
        s.close()
    return seen
"""
HOOKED = "import socket\ndef probe(repo):\n    socket.socket()\n"
TRIVIAL = "def probe(repo):\n    return 0\n"
#: a process of its own: what the syscall filter refuses (and kills the candidate for)
FORKS = "import os\ndef probe(repo):\n    return os.fork()\n"
#: 96 MB more in the private /tmp than the memory budget: only a per-candidate cgroup counts these pages
FILLS = """
def probe(repo):
    chunk = b"x" * (1 << 20)
    with open("/tmp/fill", "wb") as fh:
        for _ in range(MB):
            fh.write(chunk)
    return MB
"""
LIMITS = Limits(split_wall_s=20.0, instance_wall_s=10.0)
BUDGET_MB = 384
FILL_LIMITS = Limits(split_wall_s=20.0, instance_wall_s=10.0, memory_mb=BUDGET_MB, disk_mb=BUDGET_MB + 128,
                     fsize_mb=BUDGET_MB + 128)


def _walls(slot: int) -> dict[str, Any]:
    """Whether the syscall filter refuses a new process, and whether the candidate's memory budget counts
    the pages of its private /tmp (verified by candidates that try)."""
    with Sandbox(slot=slot, isolation=Isolation(audit=False), disk_mb=FILL_LIMITS.disk_mb) as sb:
        forks = sb.run(Job(FORKS, "probe", (("",),), limits=LIMITS))
        fills = sb.run(Job(FILLS.replace("MB", str(BUDGET_MB + 96)), "probe", (("",),), limits=FILL_LIMITS))
    return {"fork": forks.status, "fork_error": forks.error, "seccomp": forks.isolation.get("seccomp"),
            "fill": fills.status, "fill_error": fills.error, "cgroup": fills.isolation.get("cgroup")}


def _probe(isolation: Isolation, slot: int) -> dict[str, Any]:
    """What a candidate sees under `isolation`, from inside, and how long a trivial candidate takes."""
    with Sandbox(slot=slot, isolation=isolation) as sb:
        res = sb.run(Job(PROBE, "probe", ((str(REPO),),), limits=LIMITS))
        seen = res.runs[0].output if res.status == "ok" and res.runs else {}
        times = []
        for _ in range(5):
            start = time.perf_counter()
            sb.run(Job(TRIVIAL, "probe", (("",),), limits=LIMITS))
            times.append((time.perf_counter() - start) * 1e3)
        hooked = sb.run(Job(HOOKED, "probe", (("",),), limits=LIMITS)) if isolation.audit else None
    return {"status": res.status, "error": res.error, "isolation": res.isolation, "seen": seen,
            "candidate_ms": sorted(times)[len(times) // 2],
            "audit_hook_status": hooked.status if hooked is not None else None}


def _mechanisms(p: dict[str, Any], hooked: str | None,
                walls: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    iso, seen = p["isolation"], p["seen"] or {}
    names = set(iso.get("namespaces", []))
    loop = seen.get("loopback")
    root = seen.get("root")

    def row(ok: bool | None, detail: str) -> dict[str, Any]:
        return {"ok": None if ok is None else bool(ok), "detail": detail}

    return {
        "network namespace": row("net" in names and loop == ENETUNREACH,
                                 f"connect to 127.0.0.1 -> {_errno(loop)}"),
        "mount namespace (empty root)": row(str(iso.get("filesystem", "")).startswith("minimal-root")
                                            and not seen.get("repo_visible", True),
                                            f"{iso.get('filesystem')}; / holds {root}; repo visible: "
                                            f"{seen.get('repo_visible')}"),
        "PID namespace": row(iso.get("pid") == "pidns" and seen.get("pid") == 1,
                             f"candidate pid {seen.get('pid')}"),
        "IPC + UTS namespaces": row({"ipc", "uts"} <= names, ", ".join(sorted(names & {"ipc", "uts"})) or "-"),
        "user namespace": row(True if "user" in names else None if os.geteuid() == 0 else False,
                              "used (not root)" if "user" in names else
                              "not needed (root)" if os.geteuid() == 0 else "unavailable"),
        "unprivileged uid": row(seen.get("uid", 0) != 0, f"candidate uid {seen.get('uid')}"),
        "rlimits": row(bool(iso.get("rlimits")), ", ".join(f"{k}={v}" for k, v in
                                                          sorted((iso.get("rlimits") or {}).items()))),
        "RLIMIT_NPROC enforced": row(iso.get("nproc") is not None, f"nproc {iso.get('nproc')}"),
        "no_new_privs": row(bool(iso.get("no_new_privs")), str(iso.get("no_new_privs"))),
        "audit-hook pre-filter": row(None if hooked is None else hooked == "forbidden",
                                     f"socket() -> {hooked}"),
        **({} if walls is None else {
            "syscall filter (seccomp)": row(
                walls["fork"] == "forbidden" and "syscall filter" in str(walls["fork_error"]),
                f"fork() -> {walls['fork']}" + ("" if walls["seccomp"] else
                                                 " (fallback: no filter; pyseccomp/libseccomp missing)")),
            "memory budget per candidate (cgroup)": row(
                walls["fill"] == "memory",
                f"{BUDGET_MB + 96} MB into /tmp under a {BUDGET_MB} MB budget -> {walls['fill']}; "
                f"{walls['cgroup']}" + ("" if walls["fill"] == "memory" else
                                         " (fallback: RLIMIT_AS per process; the filter refuses new "
                                         "processes and memfds)")),
        }),
    }


def _errno(value: Any) -> str:
    return {ENETUNREACH: "ENETUNREACH", ECONNREFUSED: "ECONNREFUSED"}.get(value, str(value))


def report(slot: int = 4095) -> dict[str, Any]:
    """Which isolation mechanisms work here (verified by probe candidates), plus Python and the preload list.

    `slot` picks the sandbox uid (uid_base + slot) the probes run as; keep it clear of running workers.
    """
    full = _probe(Isolation(audit=False, seccomp=False), slot)  # the namespaces' own probe uses sockets
    hooked = _probe(Isolation(), slot)["audit_hook_status"]
    walls = _walls(slot)
    out: dict[str, Any] = {
        "python": {"executable": sys.executable, "version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "system": {"kernel": platform.release(), "machine": platform.machine(), "root": os.geteuid() == 0},
        "packages": list(DEFAULT_PACKAGES),
        "preload": list(DEFAULT_PRELOAD),
        "probe_status": full["status"],
        "probe_error": full["error"],
        "isolation": full["isolation"],
        "mechanisms": _mechanisms(full, hooked, walls),
        "candidate_ms": round(full["candidate_ms"], 2),
    }
    if os.geteuid() == 0:  # what a non-root user of this machine would get
        rootless = _probe(Isolation(audit=False, seccomp=False, rootless=True), slot)
        out["rootless"] = {"status": rootless["status"], "isolation": rootless["isolation"],
                           "mechanisms": _mechanisms(rootless, None)}
    return out


def main(argv: list[str]) -> int:
    """Print the report (`--json` for machine-readable output); 1 when no candidate could run.

    "n/a" marks a mechanism that is not needed (a user namespace when root) or not probed.
    """
    if any(a in ("-h", "--help") for a in argv):
        print("usage: evolve doctor [--json]\n\nRuns probe candidates in the sandbox and reports which "
              "isolation mechanisms work on this machine.")
        return 0
    unknown = [a for a in argv if a != "--json"]
    if unknown:
        print(f"evolve doctor: unknown argument {unknown[0]!r}; usage: evolve doctor [--json]", file=sys.stderr)
        return 2
    rep = report()
    if "--json" in argv:
        print(json.dumps(rep, indent=2, default=str))
    else:
        _print(rep)
    return 0 if rep["probe_status"] == "ok" else 1


def _print(rep: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    py, sysinfo = rep["python"], rep["system"]
    console.print(f"[bold]Python[/] {py['version']} ({py['executable']})  [bold]kernel[/] "
                  f"{sysinfo['kernel']} {sysinfo['machine']}  [bold]running as[/] "
                  f"{'root' if sysinfo['root'] else 'uid ' + str(os.geteuid())}")
    if rep["probe_status"] != "ok":
        console.print(f"[bold red]the probe candidate did not run:[/] {rep['probe_error']}")
    columns = [("sandbox", rep["mechanisms"])]
    if "rootless" in rep:
        columns.append(("as a non-root user", rep["rootless"]["mechanisms"]))
    table = Table(title="sandbox isolation on this machine", show_lines=False)
    table.add_column("mechanism")
    for name, _ in columns:
        table.add_column(name)
    table.add_column("detail (sandbox)", overflow="fold")
    for mech, row in rep["mechanisms"].items():
        cells = []
        for _, mechs in columns:
            ok = mechs.get(mech, {"ok": None})["ok"]
            cells.append("[green]yes[/]" if ok else "[dim]n/a[/]" if ok is None else "[red]no[/]")
        table.add_row(mech, *cells, row["detail"])
    console.print(table)
    console.print(f"per-candidate wall time (trivial entry): {rep['candidate_ms']:.1f} ms")
    console.print(f"[bold]candidates can import:[/] {', '.join(rep['preload'])} "
                  f"(third-party packages: {', '.join(rep['packages'])})")
    console.print("what each mechanism means and the fallbacks: docs/sandbox.md")
