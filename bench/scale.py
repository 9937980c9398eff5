"""Dispatch overhead: evaluations per second on loky worker processes vs a Dask LocalCluster, same cores.

    python bench/scale.py [--workers 2] [--work-ms 150] [--evals 40] [--rounds 3] [--backends loky dask]
                          [--extra-in-flight 0] [--no-queue-ahead]

Backends are evaluator names: loky (one worker process each, as Dask's workers are), dask, ray, and local
(worker threads in this process).

Each evaluation is a real one (the SMTT seed in the sandbox, quick + train splits, scored in the
worker) made heavy by a fixed amount of CPU work in the candidate, calibrated here to about --work-ms
per evaluation; every task carries different code. Each backend keeps --workers evaluations in flight
plus the ones its executor asks to queue ahead on its workers (`queue_ahead`: one per worker for Dask,
none for loky, whose pool queues one call itself), as the loop does. After a warm-up (problem built and
zygote started once per worker) rounds alternate between the backends, so drift in the load of a shared
machine hits both alike. Prints each round's evaluations per second, the medians and their ratio (the
target: Dask within 10% of loky for evaluations of 100 ms or more), and, less sensitive to a noisy
machine: how long a worker sat idle per evaluation (its share of the worker's time is the dispatch
overhead), the round trip seen by the submitter minus the time inside the worker, and the CPU time per
evaluation that the dispatch machinery itself used (this process: client, scheduler, pool threads; the
worker processes, without the sandboxes and candidates).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from evaluators.dispatch import make_executor
from evaluators.sandbox import Isolation, Limits
from evolve.plugins import load_problem
from evolve.worker import EvalTask, ProblemSpec, run_task

SPLITS = ("quick", "train")
BURN = """

def _burn():
    x = 0
    for i in range({iters}):
        x += i * i
    return x
"""


def _burn_seconds(iters: int) -> float:
    t0 = time.process_time()
    x = 0
    for i in range(iters):
        x += i * i
    return time.process_time() - t0


def calibrate(work_ms: float, calls: int) -> int:
    """Loop iterations per entry-function call so that `calls` calls cost about work_ms of CPU."""
    probe = 200_000
    per_iter = min(_burn_seconds(probe) for _ in range(3)) / probe
    return max(1, int(work_ms / 1000 / calls / per_iter))


def heavy_code(seed_code: str, iters: int, variant: int) -> str:
    code = seed_code.replace("def schedule(p, d):\n", "def schedule(p, d):\n    _burn()\n", 1)
    return code + BURN.format(iters=iters) + f"\n# variant {variant}\n"


def timed_run_task(task: EvalTask) -> tuple[Any, float]:
    """run_task, and how long it took inside the worker."""
    t0 = time.perf_counter()
    out = run_task(task)
    return out, time.perf_counter() - t0


@dataclass
class Round:
    """One backend's measurements over one batch of evaluations."""

    rate: float  # evaluations per second
    idle_s: float  # worker time not spent evaluating, per evaluation
    inside: list[float] = field(default_factory=list)  # per evaluation: seconds inside the worker
    round_trip: list[float] = field(default_factory=list)  # per evaluation: round trip here minus inside
    cpu_here_s: float | None = None  # CPU per evaluation of this process (client, scheduler, pool threads)
    cpu_workers_s: float | None = None  # CPU per evaluation of the worker processes (no sandboxes)


def throughput(ex: cf.Executor, tasks: list[EvalTask], in_flight: int, workers: int) -> Round:
    """Evaluate `tasks` keeping `in_flight` of them outstanding, as the loop does."""
    todo = list(tasks)
    running: dict[cf.Future[Any], float] = {}
    inside: list[float] = []
    round_trip: list[float] = []
    cpu0 = _dispatch_cpu()
    t0 = time.perf_counter()
    while todo or running:
        while todo and len(running) < in_flight:
            running[ex.submit(timed_run_task, todo.pop())] = time.perf_counter()
        done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        now = time.perf_counter()
        for fut in done:
            out, worker_s = fut.result()
            if out.status != "ok":
                raise SystemExit(f"an evaluation failed ({out.status}): {out.error}")
            inside.append(worker_s)
            round_trip.append(now - running.pop(fut) - worker_s)
    elapsed = time.perf_counter() - t0
    cpu1 = _dispatch_cpu()
    n = len(tasks)
    result = Round(n / elapsed, max(0.0, workers * elapsed - sum(inside)) / n, inside, round_trip)
    if cpu0 is not None and cpu1 is not None:
        result.cpu_here_s = (cpu1[0] - cpu0[0]) / n
        result.cpu_workers_s = sum(cpu1[1][pid] - cpu0[1][pid] for pid in cpu1[1] if pid in cpu0[1]) / n
    return result


def _dispatch_cpu() -> tuple[float, dict[int, float]] | None:
    """CPU seconds so far of this process and of each descendant that is not a sandbox zygote or below one."""
    try:
        import psutil
    except ImportError:  # comes with the dask extra
        return None
    me = psutil.Process()
    sandboxed: set[int] = set()
    workers: dict[int, float] = {}
    for proc in me.children(recursive=True):
        try:
            if "--zygote" in proc.cmdline():
                sandboxed.update([proc.pid, *(c.pid for c in proc.children(recursive=True))])
        except psutil.Error:
            continue
    for proc in me.children(recursive=True):
        if proc.pid not in sandboxed:
            try:
                t = proc.cpu_times()
                workers[proc.pid] = t.user + t.system
            except psutil.Error:
                continue
    t = me.cpu_times()
    return t.user + t.system, workers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work-ms", type=float, default=150.0, help="CPU work per evaluation (default 150)")
    ap.add_argument("--evals", type=int, default=40, help="evaluations per round (default 40)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--extra-in-flight", type=int, default=0,
                    help="keep this many more evaluations in flight than workers (evaluator.workers above the "
                         "cluster's worker count: a queued task starts as soon as a worker is free); the "
                         "'dispatch' column then includes the time a task waits for a worker")
    ap.add_argument("--no-queue-ahead", action="store_true",
                    help="ignore the executors' queue_ahead: exactly --workers (+ --extra-in-flight) in flight")
    ap.add_argument("--backends", nargs="+", default=["loky", "dask"], choices=["loky", "dask", "ray", "local"])
    args = ap.parse_args(argv)
    problem = load_problem("smtt")
    calls = sum(len(problem.instances(s)) for s in SPLITS) * max(1, problem.harness.repeats)
    iters = calibrate(args.work_ms, calls)
    spec, limits, isolation = ProblemSpec("smtt"), Limits(), Isolation()
    variant = iter(range(10**9))

    def batch(n: int) -> list[EvalTask]:
        return [EvalTask(spec, heavy_code(problem.initial_program, iters, next(variant)), SPLITS, limits, isolation)
                for _ in range(n)]

    executors: dict[str, cf.Executor] = {}
    in_flight: dict[str, int] = {}
    rounds: dict[str, list[Round]] = {n: [] for n in args.backends}
    try:
        for name in args.backends:
            t0 = time.perf_counter()
            executors[name] = make_executor(name, args.workers)
            ahead = 0 if args.no_queue_ahead else int(getattr(executors[name], "queue_ahead", 0))
            in_flight[name] = args.workers + ahead + args.extra_in_flight
            throughput(executors[name], batch(2 * args.workers), in_flight[name], args.workers)  # warm up
            print(f"{name}: started and warmed in {time.perf_counter() - t0:.1f} s, {in_flight[name]} in flight",
                  flush=True)
        for r in range(args.rounds):
            order = args.backends if r % 2 == 0 else list(reversed(args.backends))
            for name in order:
                res = throughput(executors[name], batch(args.evals), in_flight[name], args.workers)
                rounds[name].append(res)
                print(f"round {r + 1} {name:>6}: {res.rate:6.2f} evaluations/s, evaluation in the worker "
                      f"{1000 * statistics.median(res.inside):5.0f} ms, worker idle {1000 * res.idle_s:5.1f} ms "
                      "per evaluation", flush=True)
    finally:
        for ex in executors.values():
            ex.shutdown(wait=False, cancel_futures=True)

    print(f"\n{args.workers} workers, {args.evals} evaluations per round, {args.rounds} rounds; candidate CPU "
          f"work calibrated to {args.work_ms:.0f} ms per evaluation")
    print(f"{'backend':>8} {'in flight':>9} {'eval/s':>7} {'in worker':>10} {'idle':>7} {'idle share':>10} "
          f"{'round trip':>10} {'CPU here':>9} {'CPU workers':>11}")
    for name in args.backends:
        rs = rounds[name]
        inside = statistics.median([x for r in rs for x in r.inside])
        idle = statistics.median([r.idle_s for r in rs])
        trip = statistics.median([x for r in rs for x in r.round_trip])
        cpu = [(r.cpu_here_s, r.cpu_workers_s) for r in rs if r.cpu_here_s is not None and r.cpu_workers_s is not None]
        here = f"{1000 * statistics.median(c[0] for c in cpu):7.1f}ms" if cpu else f"{'-':>9}"
        work = f"{1000 * statistics.median(c[1] for c in cpu):9.1f}ms" if cpu else f"{'-':>11}"
        print(f"{name:>8} {in_flight[name]:>9} {statistics.median(r.rate for r in rs):7.2f} {1000 * inside:8.0f}ms "
              f"{1000 * idle:5.1f}ms {100 * idle / (inside + idle):9.1f}% {1000 * trip:8.1f}ms {here} {work}")
    print("(medians over rounds; idle: worker time not spent evaluating, per evaluation; round trip: as seen by "
          "the submitter, minus the time inside the worker, and includes waiting in a queue when more are in "
          "flight than workers; CPU: per evaluation, of the dispatch machinery, sandboxes excluded)")
    first = "loky" if "loky" in rounds else args.backends[0]
    base = statistics.median(r.rate for r in rounds[first])
    for name in args.backends:
        if name != first:
            ratio = statistics.median(r.rate for r in rounds[name]) / base
            print(f"{name}/{first} throughput ratio: {ratio:.3f} (overhead {100 * (1 - ratio):+.1f}%; "
                  f"target under 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
