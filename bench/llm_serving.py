"""Simulated requests per second of wall time for `llm_serving`: the child's episode (driver + scheduler)
and the parent's replay, on the train split, for the seed and the Sarathi-Serve baseline.

    python bench/llm_serving.py [--repeats 3]

The train split must evaluate in well under a second: the last column is one whole split (episode +
replay), without the sandbox's fixed cost per candidate (bench/sandbox.py measures that).
"""

from __future__ import annotations

import argparse
import time

from problems.llm_serving import make
from problems.llm_serving.driver import drive
from problems.llm_serving.replay import replay


def load(code: str):
    ns: dict = {}
    exec(compile(code, "program.py", "exec"), ns)
    return ns["schedule"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    problem = make()
    instances = problem.instances("train")
    requests = sum(len(i.private["trace"]["arrival_s"]) for i in instances)
    programs = {"seed": problem.initial_program, "sarathi_chunked": problem.baselines()["sarathi_chunked"]}
    print(f"train split: {len(instances)} traces, {requests} requests")
    print(f"{'program':18s} {'episode req/s':>14s} {'replay req/s':>13s} {'iterations':>11s} {'split s':>8s}")
    for name, code in programs.items():
        schedule = load(code)
        best_drive = best_replay = float("inf")
        iterations = 0
        for _ in range(args.repeats):
            t_drive = t_replay = 0.0
            iterations = 0
            for inst in instances:
                t0 = time.perf_counter()
                out = drive(schedule, *inst.args)
                t1 = time.perf_counter()
                replay(out, inst.private["trace"], problem.config, inst.private["max_iterations"])
                t2 = time.perf_counter()
                t_drive += t1 - t0
                t_replay += t2 - t1
                iterations += out["iterations"]
            best_drive, best_replay = min(best_drive, t_drive), min(best_replay, t_replay)
        print(f"{name:18s} {requests / best_drive:14.0f} {requests / best_replay:13.0f} {iterations:11d} "
              f"{best_drive + best_replay:8.3f}")


if __name__ == "__main__":
    main()
