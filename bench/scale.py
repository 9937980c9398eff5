"""Dispatch overhead: evaluations per second on loky (evaluator=local) vs a Dask LocalCluster, same cores.

    python bench/scale.py [--workers 2] [--work-ms 150] [--evals 40] [--rounds 3] [--backends local dask]
                          [--extra-in-flight 0]

Each evaluation is a real one (the SMTT seed in the sandbox, quick + train splits, scored in the
worker) made heavy by a fixed amount of CPU work in the candidate, calibrated here to about --work-ms
per evaluation; every task carries different code. Each backend keeps exactly --workers evaluations in
flight, as the loop does. After a warm-up (problem built and zygote started once per worker) rounds
alternate between the backends, so drift in the load of a shared machine hits both alike. Prints each
round's evaluations per second, the medians and their ratio (the target: Dask within 10% of loky for
evaluations of 100 ms or more), and, less sensitive to a noisy machine, the per-task dispatch overhead:
the round trip seen by the submitter minus the time the task spent inside the worker.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import sys
import time
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


def throughput(ex: cf.Executor, tasks: list[EvalTask], in_flight: int) -> tuple[float, list[float], list[float]]:
    """Evaluations per second with `in_flight` tasks outstanding; also, per evaluation, its time inside
    the worker and the dispatch overhead (round trip seen here minus the time inside the worker)."""
    todo = list(tasks)
    running: dict[cf.Future[Any], float] = {}
    inside: list[float] = []
    overhead: list[float] = []
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
            overhead.append(now - running.pop(fut) - worker_s)
    return len(tasks) / (time.perf_counter() - t0), inside, overhead


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
    ap.add_argument("--backends", nargs="+", default=["local", "dask"], choices=["local", "dask", "ray", "inline"])
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
    try:
        for name in args.backends:
            t0 = time.perf_counter()
            executors[name] = make_executor(name, args.workers)
            throughput(executors[name], batch(2 * args.workers), args.workers)  # warm every worker
            print(f"{name}: started and warmed in {time.perf_counter() - t0:.1f} s", flush=True)
        rates: dict[str, list[float]] = {n: [] for n in args.backends}
        inside: dict[str, list[float]] = {n: [] for n in args.backends}
        overhead: dict[str, list[float]] = {n: [] for n in args.backends}
        for r in range(args.rounds):
            order = args.backends if r % 2 == 0 else list(reversed(args.backends))
            for name in order:
                rate, ins, over = throughput(executors[name], batch(args.evals), args.workers + args.extra_in_flight)
                rates[name].append(rate)
                inside[name].extend(ins)
                overhead[name].extend(over)
                print(f"round {r + 1} {name:>6}: {rate:6.2f} evaluations/s, evaluation in the worker "
                      f"{1000 * statistics.median(ins):5.0f} ms, dispatch {1000 * statistics.median(over):5.1f} ms",
                      flush=True)
    finally:
        for ex in executors.values():
            ex.shutdown(wait=False, cancel_futures=True)

    print(f"\n{args.workers} workers, {args.workers + args.extra_in_flight} in flight, {args.evals} evaluations "
          f"per round, {args.rounds} rounds; "
          f"candidate CPU work calibrated to {args.work_ms:.0f} ms per evaluation")
    print(f"{'backend':>8} {'eval/s':>8} {'in worker ms':>13} {'dispatch ms':>12} {'dispatch share':>15}")
    for name in args.backends:
        in_worker, dispatch = statistics.median(inside[name]), statistics.median(overhead[name])
        print(f"{name:>8} {statistics.median(rates[name]):8.2f} {1000 * in_worker:13.0f} {1000 * dispatch:12.1f} "
              f"{100 * dispatch / (in_worker + dispatch):14.1f}%")
    print("(medians over all rounds; dispatch = round trip seen by the submitter minus the time inside the "
          "worker)")
    if "local" in rates:
        base = statistics.median(rates["local"])
        for name in args.backends:
            if name != "local":
                ratio = statistics.median(rates[name]) / base
                print(f"{name}/local throughput ratio: {ratio:.3f} (overhead {100 * (1 - ratio):+.1f}%; "
                      f"target under 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
