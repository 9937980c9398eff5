"""Simulated requests per second of wall time for `llm_serving` and `llm_serving_cluster`: the child's
episode (driver + program) and the parent's replay, on the train split, for the seed and one baseline.

    python bench/llm_serving.py [--repeats 3]

The train split must evaluate in well under a second: the last column is one whole split (episode +
replay), without the sandbox's fixed cost per candidate (bench/sandbox.py measures that). Times are CPU
seconds of this process (best of the repeats), so that a shared, busy machine does not inflate them.
"""

from __future__ import annotations

import argparse
import time

import problems.llm_serving_cluster.driver as cluster_driver
import problems.llm_serving_cluster.replay as cluster_replay
from problems import llm_serving, llm_serving_cluster
from problems.llm_serving.driver import drive
from problems.llm_serving.replay import replay


def load(code: str, entry: str):
    ns: dict = {}
    exec(compile(code, "program.py", "exec"), ns)
    return ns[entry]


def measure(name: str, problem, program, episode, check, repeats: int) -> None:
    instances = problem.instances("train")
    requests = sum(len(i.private["trace"]["arrival_s"]) for i in instances)
    best_drive = best_replay = float("inf")
    for _ in range(repeats):
        t_drive = t_replay = 0.0
        for inst in instances:
            t0 = time.process_time()
            out = episode(program, *inst.args)
            t1 = time.process_time()
            check(out, inst)
            t2 = time.process_time()
            t_drive += t1 - t0
            t_replay += t2 - t1
        best_drive, best_replay = min(best_drive, t_drive), min(best_replay, t_replay)
    print(f"{name:38s} {requests:9d} {requests / best_drive:14.0f} {requests / best_replay:13.0f} "
          f"{best_drive + best_replay:11.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'problem / program (train split)':38s} {'requests':>9s} {'episode req/s':>14s} {'replay req/s':>13s} "
          f"{'split cpu s':>11s}")
    single = llm_serving.make()
    for name, code in {"seed": single.initial_program, "sarathi_chunked": single.baselines()["sarathi_chunked"]}.items():
        measure(f"llm_serving / {name}", single, load(code, "schedule"), drive,
                lambda out, inst, p=single: replay(out, inst.private["trace"], p.config,
                                                   inst.private["max_iterations"]), args.repeats)
    multi = llm_serving_cluster.make()
    for name, code in {"seed": multi.initial_program, "llumnix": multi.baselines()["llumnix"]}.items():
        measure(f"llm_serving_cluster / {name}", multi, load(code, "dispatch"), cluster_driver.drive,
                lambda out, inst, p=multi: cluster_replay.replay(out, inst.private["trace"], p.config,
                                                                 p.options.instances, inst.private["max_iterations"]),
                args.repeats)


if __name__ == "__main__":
    main()
