"""Benchmark of the sandbox: per-candidate overhead and throughput.

    python bench/sandbox.py [--candidates 100] [--jobs 6] [--work-ms 300] [--rounds 3]

Prints, in one run:
- the per-candidate overhead of the sandbox (a trivial entry function, wall time per `Sandbox.run` minus the
  in-process call) against a bare `python -c pass` spawn and against the in-process call, as ratios, and
  the CPU time the sandbox spends per candidate (parent, zygote and child together);
- evaluations per second of a CPU-bound candidate at 1 worker and at all workers, and the efficiency
  (all-workers throughput / (workers x single-worker throughput)); the same work in plain worker
  processes shows what the machine's free cores allow at that moment.
- the CPU per candidate with and without the walls that can be switched off (seccomp, cgroup).
Targets: overhead below 1/5 of a fresh interpreter start; efficiency at least 0.9; the switchable walls
(seccomp, cgroup) cost at most +0.5 ms of CPU per candidate.
The machine is often shared, so each figure is the best of `--rounds` rounds (and the load is printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evaluators.sandbox import Isolation, Job, Limits, Sandbox  # noqa: E402

TRIVIAL = "def f(x):\n    return x\n"
CPU_BOUND = """
def f(n):
    total = 0
    for i in range(n):
        total = (total + i * i) % 1000003
    return total
"""
LIMITS = Limits(split_wall_s=120.0, instance_wall_s=60.0, cpu_s=120.0)
BASE_SLOT = 3900  # sandbox uids 61000+3900…: clear of the slots workers claim from 0 upwards


def _timed_ms(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds of a process and of the children it has waited for (utime, stime, cutime, cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def overhead(candidates: int, spawns: int) -> dict[str, float]:
    """Medians of each way to run a trivial function; interleaved, so that all see the same machine load."""
    ns: dict[str, Any] = {}
    exec(TRIVIAL, ns)
    call = ns["f"]
    start = time.perf_counter()
    for _ in range(100000):
        call(1)
    inproc_ms = (time.perf_counter() - start) / 100000 * 1e3
    py = sys.executable
    spawn = {"python_c_pass_ms": [py, "-c", "pass"], "python_isolated_pass_ms": [py, "-I", "-S", "-c", "pass"],
             "python_import_numpy_ms": [py, "-c", "import numpy"]}
    times: dict[str, list[float]] = {k: [] for k in (*spawn, "sandbox_ms")}
    per_spawn = max(1, candidates // spawns)
    with Sandbox(slot=BASE_SLOT) as sb:
        job = Job(TRIVIAL, "f", ((1,),), limits=LIMITS)
        for _ in range(5):
            sb.run(job)
        assert sb._proc is not None
        zygote, cpu, parent = sb._proc.pid, 0.0, 0.0
        for i in range(spawns):
            for key, args in spawn.items():
                if key != "python_import_numpy_ms" or i % 3 == 0:
                    times[key].append(_timed_ms(lambda args=args: subprocess.run(args, check=True)))
            cpu0, parent0 = _proc_cpu_s(zygote), time.process_time()
            for _ in range(per_spawn):
                times["sandbox_ms"].append(_timed_ms(lambda: sb.run(job)))
            cpu += _proc_cpu_s(zygote) - cpu0
            parent += time.process_time() - parent0
    out = {k: statistics.median(v) for k, v in times.items()}
    out["inprocess_ms"] = inproc_ms
    out["sandbox_p10_ms"] = sorted(times["sandbox_ms"])[len(times["sandbox_ms"]) // 10]
    out["sandbox_cpu_ms"] = (cpu + parent) / len(times["sandbox_ms"]) * 1e3
    out["overhead_ms"] = out["sandbox_ms"] - inproc_ms
    out["ratio"] = out["overhead_ms"] / out["python_c_pass_ms"]
    return out


#: the walls that can be switched off, to price them in the same run (the others - inputs one instance at
#: a time, the candidate's own thread, the closure hook - are priced against the code before them)
WALLS = {"all walls": Isolation(), "without seccomp and cgroup": Isolation(seccomp=False, cgroup=False)}


def walls(candidates: int, rounds: int) -> dict[str, dict[str, float]]:
    """CPU per candidate (parent + zygote + child) with and without the switchable walls, for a trivial
    candidate on 1 instance and on 8 instances (each instance's inputs then make a round trip)."""
    jobs = {"1 instance": Job(TRIVIAL, "f", ((1,),), limits=LIMITS),
            "8 instances": Job(TRIVIAL, "f", tuple((i,) for i in range(8)), limits=LIMITS)}
    cpu: dict[str, dict[str, list[float]]] = {w: {j: [] for j in jobs} for w in WALLS}
    boxes = {w: Sandbox(slot=BASE_SLOT + 20 + k, isolation=iso) for k, (w, iso) in enumerate(WALLS.items())}
    try:
        for sb in boxes.values():
            for job in jobs.values():
                for _ in range(5):
                    sb.run(job)
        for _ in range(rounds):  # interleaved, so that every variant sees the same load
            for w, sb in boxes.items():
                assert sb._proc is not None
                for j, job in jobs.items():
                    cpu0, parent0 = _proc_cpu_s(sb._proc.pid), time.process_time()
                    for _ in range(candidates):
                        res = sb.run(job)
                        assert res.status == "ok", res.error
                    used = _proc_cpu_s(sb._proc.pid) - cpu0 + time.process_time() - parent0
                    cpu[w][j].append(used / candidates * 1e3)
    finally:
        for sb in boxes.values():
            sb.close()
    return {w: {j: min(v) for j, v in per.items()} for w, per in cpu.items()}


#: the last commit before #25's walls (the inputs one instance at a time, the candidate's own thread, the
#: syscall filter, the cgroup, bounded decoding): the walls that cannot be switched off are priced against it
BEFORE_WALLS = "3e4aa1e"
#: run in a fresh interpreter with a source tree first on sys.path: the CPU per candidate of that tree's
#: sandbox (parent + zygote + children), for a trivial candidate on 1 and on 8 instances
MEASURE_TREE = """
import os, sys, time
tree, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree)
from evaluators.sandbox import Job, Limits, Sandbox
lim = Limits(split_wall_s=120.0, instance_wall_s=60.0, cpu_s=120.0)
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in f[11:15]) / os.sysconf("SC_CLK_TCK")
out = []
with Sandbox(slot=int(sys.argv[3])) as sb:
    for k in (1, 8):
        job = Job("def f(x):\\n    return x\\n", "f", tuple((i,) for i in range(k)), limits=lim, key=f"k{k}")
        for _ in range(10):
            sb.run(job)
        c0, p0 = cpu(sb._proc.pid), time.process_time()
        for _ in range(n):
            assert sb.run(job).status == "ok"
        out.append((cpu(sb._proc.pid) - c0 + time.process_time() - p0) / n * 1e3)
print(*out)
"""


def before_and_now(rev: str, candidates: int, rounds: int) -> dict[str, tuple[float, float]] | None:
    """CPU per candidate of the sandbox at `rev` (checked out in a temporary git worktree) and of this
    tree, in interleaved rounds of fresh processes; the best round of each. None when `rev` cannot be
    checked out here (not a git clone, or the commit is not in its history)."""
    with tempfile.TemporaryDirectory(prefix="evolve-bench-before-") as tmp:
        tree = Path(tmp) / "tree"
        made = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree), rev],
                              capture_output=True, text=True)
        if made.returncode != 0:
            print(f"  (cannot check out {rev}: {made.stderr.strip()[:200]})")
            return None
        try:
            best: dict[str, list[list[float]]] = {"before": [], "now": []}
            for r in range(rounds):
                order = (("before", tree), ("now", REPO)) if r % 2 == 0 else (("now", REPO), ("before", tree))
                for name, path in order:
                    res = subprocess.run([sys.executable, "-c", MEASURE_TREE, str(path), str(candidates),
                                          str(BASE_SLOT + 40)], capture_output=True, text=True, check=True,
                                         cwd=tmp, timeout=600)
                    best[name].append([float(v) for v in res.stdout.split()])
            return {name: (min(r[0] for r in rows), min(r[1] for r in rows)) for name, rows in best.items()}
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)


def throughput(workers: int, jobs: int, n: int) -> float:
    """Evaluations per second with `workers` sandboxes each running `jobs` CPU-bound candidates."""
    sandboxes = [Sandbox(slot=BASE_SLOT + 1 + w) for w in range(workers)]
    try:
        for sb in sandboxes:  # start the zygotes outside the clock
            sb.run(Job(TRIVIAL, "f", ((1,),), limits=LIMITS))
        errors: list[str] = []

        def work(sb: Sandbox) -> None:
            for _ in range(jobs):
                res = sb.run(Job(CPU_BOUND, "f", ((n,),), limits=LIMITS))
                if res.status != "ok":
                    errors.append(f"{res.status}: {res.error}")

        threads = [threading.Thread(target=work, args=(sb,)) for sb in sandboxes]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        if errors:
            raise RuntimeError(errors[0])
        return workers * jobs / elapsed
    finally:
        for sb in sandboxes:
            sb.close()


def _cpu_bound(n: int) -> int:
    ns: dict[str, Any] = {}
    exec(CPU_BOUND, ns)
    return int(ns["f"](n))


def bare_throughput(workers: int, jobs: int, n: int) -> float:
    """The same evaluations in plain worker processes, no sandbox: what the machine gives right now."""
    # each in a session of its own, as sandboxed candidates are (with autogroup scheduling, a session is
    # what the kernel shares CPU time between)
    with ProcessPoolExecutor(max_workers=workers, initializer=os.setsid) as pool:
        list(pool.map(_cpu_bound, [1000] * workers))  # start the workers outside the clock
        start = time.perf_counter()
        list(pool.map(_cpu_bound, [n] * (workers * jobs)))
        return workers * jobs / (time.perf_counter() - start)


def calibrate(work_ms: float) -> int:
    ns: dict[str, Any] = {}
    exec(CPU_BOUND, ns)
    n = 200000
    start = time.process_time()  # CPU time: the calibration does not depend on the machine's load
    ns["f"](n)
    per = (time.process_time() - start) / n
    return max(1000, int(work_ms / 1e3 / per))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=120, help="trivial candidates timed per round")
    ap.add_argument("--spawns", type=int, default=15, help="interpreter starts of each kind timed per round")
    ap.add_argument("--jobs", type=int, default=6, help="CPU-bound candidates per worker")
    ap.add_argument("--work-ms", type=float, default=300.0, help="CPU time of one CPU-bound candidate")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; the best of each figure is kept")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--walls-only", action="store_true", help="stop after the overhead and the walls' cost")
    ap.add_argument("--before", default=BEFORE_WALLS, metavar="REV",
                    help=f"the commit to price every wall against (default {BEFORE_WALLS}, the sandbox before "
                         "them); '' skips it")
    args = ap.parse_args(argv)

    print(f"python {sys.version.split()[0]}  cpus {len(os.sched_getaffinity(0))}  "
          f"load average at start {os.getloadavg()[0]:.2f}")
    rounds = [overhead(args.candidates, args.spawns) for _ in range(args.rounds)]
    o = min(rounds, key=lambda r: r["ratio"])
    print(f"\nper-candidate overhead (trivial entry function; medians of interleaved runs; the round with the "
          f"best ratio of {args.rounds})")
    print(f"  in-process call                {o['inprocess_ms'] * 1e3:10.2f} us")
    print(f"  python -c pass                 {o['python_c_pass_ms']:10.2f} ms")
    print(f"  python -I -S -c pass           {o['python_isolated_pass_ms']:10.2f} ms")
    print(f"  python -c 'import numpy'       {o['python_import_numpy_ms']:10.2f} ms")
    print(f"  sandbox run (median)           {o['sandbox_ms']:10.2f} ms   (p10 {o['sandbox_p10_ms']:.2f} ms)")
    print(f"  sandbox overhead               {o['overhead_ms']:10.2f} ms")
    print(f"  sandbox CPU per candidate      {o['sandbox_cpu_ms']:10.2f} ms   (parent + zygote + child)")
    print(f"  overhead / python -c pass      {o['ratio']:10.3f}     target < 0.200  "
          f"{'MET' if o['ratio'] < 0.2 else 'NOT MET'}   rounds: " + ", ".join(f"{r['ratio']:.3f}" for r in rounds))
    print(f"  overhead / python -I -S        {o['overhead_ms'] / o['python_isolated_pass_ms']:10.3f}")
    print(f"  overhead / python + numpy      {o['overhead_ms'] / o['python_import_numpy_ms']:10.3f}")
    print(f"  overhead / in-process call     {o['overhead_ms'] / o['inprocess_ms']:10.0f}x")

    cost = walls(args.candidates, args.rounds)
    print(f"\nCPU per candidate with and without the switchable walls (parent + zygote + child; best of "
          f"{args.rounds} interleaved rounds of {args.candidates}); target: at most +0.5 ms")
    for j in ("1 instance", "8 instances"):
        on, off = cost["all walls"][j], cost["without seccomp and cgroup"][j]
        print(f"  trivial candidate, {j:12s} {on:8.2f} ms with all walls, {off:8.2f} ms without seccomp and "
              f"cgroup: {on - off:+.2f} ms")
    if args.before:
        print(f"\nCPU per candidate before the walls ({args.before}, a temporary git worktree) and now (parent "
              f"+ zygote + child; best of {args.rounds} interleaved rounds of {args.candidates}, fresh processes); "
              "target: at most +0.5 ms")
        both = before_and_now(args.before, args.candidates, args.rounds)
        if both is not None:
            for j, label in enumerate(("1 instance", "8 instances")):
                b, n_ = both["before"][j], both["now"][j]
                print(f"  trivial candidate, {label:12s} {b:8.2f} ms before the walls, {n_:8.2f} ms now: "
                      f"{n_ - b:+.2f} ms")
    if args.walls_only:
        return 0

    n = calibrate(args.work_ms)
    rows: dict[str, list[float]] = {"sandbox 1": [], "sandbox all": [], "bare 1": [], "bare all": []}
    for _ in range(args.rounds):  # interleaved, so that sandbox and bare runs see the same load
        rows["sandbox 1"].append(throughput(1, args.jobs, n))
        rows["sandbox all"].append(throughput(args.workers, args.jobs, n))
        rows["bare 1"].append(bare_throughput(1, args.jobs, n))
        rows["bare all"].append(bare_throughput(args.workers, args.jobs, n))
    best = {k: max(v) for k, v in rows.items()}
    eff = best["sandbox all"] / (args.workers * best["sandbox 1"])
    machine = best["bare all"] / (args.workers * best["bare 1"])
    print(f"\nthroughput, CPU-bound candidate of ~{args.work_ms:.0f} ms CPU (best of {args.rounds} rounds)")
    for key, label in (("sandbox 1", "1 worker"), ("sandbox all", f"{args.workers} workers"),
                       ("bare 1", "1 plain process"), ("bare all", f"{args.workers} plain processes")):
        print(f"  {label:30s} {best[key]:10.2f} evaluations/s   rounds: " + ", ".join(f"{v:.2f}" for v in rows[key]))
    print(f"  efficiency (sandbox)           {eff:10.3f}     target >= 0.900  {'MET' if eff >= 0.9 else 'NOT MET'}")
    print(f"  efficiency (plain processes)   {machine:10.3f}     what the machine's free cores allow now")
    print(f"  sandbox / plain at {args.workers} workers     {best['sandbox all'] / best['bare all']:10.3f}")
    print(f"\nload average at end {os.getloadavg()[0]:.2f} (other processes share these cpus)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
