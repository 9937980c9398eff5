"""Interactive episodes: decisions per second over the sandbox's round trip, against the same calls in the child.

    python bench/sessions.py [--steps 20000] [--rounds 3]

`interactive`: one episode of `--steps` steps, the parent's session sending each observation (a dict of a
dozen numbers, as cant_be_late's) and reading each decision (one word). `in child`: the same policy called
`--steps` times by a loop inside one call in the child (how cant_be_late ran before its episodes moved to the
parent), the baseline of the same run. Also: a cant_be_late train split through `evolve.evaluation.evaluate`
(the seed policy), its steps and its steps per second. Medians of `--rounds`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluators.sandbox import Job, Limits, Sandbox
from evaluators.session import Interactive, StepLimits

POLICY = '''
def f(obs):
    return "spot" if obs["has_spot"] else "none"


def many(n):
    obs = {"tick": 0, "has_spot": True, "elapsed_seconds": 0.0, "work_done_seconds": 0.0, "gap_seconds": 600.0,
           "deadline_seconds": 1.0, "task_duration_seconds": 1.0, "restart_overhead_seconds": 1.0,
           "remaining_restart_overhead_seconds": 0.0, "cluster": "none", "last_cluster": "none", "region": 0,
           "num_regions": 1}
    out = []
    for t in range(n):
        obs = dict(obs, tick=t, has_spot=bool(t % 3))
        out.append(f(obs))
    return len(out)
'''


class Ticks:
    """A session of `n` steps whose observations look like cant_be_late's."""

    def __init__(self, n: int) -> None:
        self.n, self.t, self.spot = n, 0, 0

    def _obs(self) -> tuple[Any, ...]:
        return ({"tick": self.t, "has_spot": bool(self.t % 3), "elapsed_seconds": 600.0 * self.t,
                 "work_done_seconds": 0.0, "gap_seconds": 600.0, "deadline_seconds": 1.0,
                 "task_duration_seconds": 1.0, "restart_overhead_seconds": 1.0,
                 "remaining_restart_overhead_seconds": 0.0, "cluster": "none", "last_cluster": "none",
                 "region": 0, "num_regions": 1},)

    def begin(self) -> tuple[Any, ...]:
        return self._obs()

    def step(self, decision: Any) -> tuple[Any, ...] | None:
        self.spot += decision == "spot"
        self.t += 1
        return None if self.t >= self.n else self._obs()

    def result(self) -> int:
        return self.spot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    limits = Limits(split_wall_s=120.0, instance_wall_s=120.0, cpu_s=120.0)
    interactive = Job(POLICY, "f", ((),), limits=limits,
                      interactive=Interactive(lambda i: Ticks(args.steps), StepLimits(max_steps=args.steps + 1)))
    in_child = Job(POLICY, "many", ((args.steps,),), limits=limits)
    times: dict[str, list[float]] = {"interactive": [], "in child": []}
    cpu: dict[str, list[float]] = {"interactive": [], "in child": []}  # parent + child CPU seconds
    with Sandbox() as sb:
        sb.run(in_child)  # warm the zygote
        for _ in range(args.rounds):
            for name, job in (("interactive", interactive), ("in child", in_child)):
                t0, c0 = time.perf_counter(), time.process_time()
                res = sb.run(job)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0 + (res.cpu_s or 0.0))
                assert res.status == "ok", res.error
        rates = {k: args.steps / statistics.median(v) for k, v in times.items()}
        print(f"{args.steps} steps, median of {args.rounds}")
        for k, r in rates.items():
            print(f"  {k:12s} {r:10.0f} steps/s  ({statistics.median(times[k]) * 1e3:.0f} ms wall, "
                  f"{statistics.median(cpu[k]) / args.steps * 1e6:.1f} µs of CPU per step, parent and child)")
        print(f"  round trip costs {1e6 / rates['interactive'] - 1e6 / rates['in child']:.1f} µs per step "
              f"(x{rates['in child'] / rates['interactive']:.1f} the in-child loop)")

        from evolve.evaluation import evaluate
        from problems.cant_be_late import make

        p = make({})
        played = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            out = evaluate(p, sb, p.initial_program, ["train"], Limits())
            played.append(time.perf_counter() - t0)
            assert out.status == "ok", out.error
        from problems.cant_be_late.driver import run_episode

        ns: dict[str, Any] = {}
        exec(p.initial_program, ns)
        steps = sum(len(run_episode(ns["decide"], *i.args)[0]) for i in p.instances("train"))
        wall = statistics.median(played)
        print(f"cant_be_late train split (seed policy): {len(p.instances('train'))} episodes, {steps} steps, "
              f"{wall * 1e3:.0f} ms per evaluation, {steps / wall:.0f} steps/s (scoring included)")


if __name__ == "__main__":
    main()
