"""A deliberately tiny scheduling problem for framework-overhead benchmarks (bench/throughput.py).

Total tardiness of 4 fixed 8-job instances: evaluation costs microseconds, so what is measured is the
framework (proposal, parsing, dispatch, sandbox, storage), not the problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evolve.problem import Harness, Instance, InvalidOutput, Problem

HERE = Path(__file__).resolve().parent


def instances_data(seed: int = 12345, count: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        p = rng.integers(1, 101, size=8)
        d = rng.integers(0, int(p.sum()), size=8)
        out.append((p, d))
    return out


def tardiness(order: Sequence[int], p: np.ndarray, d: np.ndarray) -> int:
    if sorted(int(x) for x in order) != list(range(len(p))) or any(type(x) is not int for x in order):
        raise InvalidOutput("not a permutation of the job indices")
    c = np.cumsum(p[list(order)])
    return int(np.maximum(c - d[list(order)], 0).sum())


class TinySmtt(Problem):
    name = "tiny_smtt"
    entry = "schedule"
    package_dir = HERE
    harness = Harness(timeout_s=2.0, split_timeout_s=5.0)
    summary_metrics = ("score", "total_tardiness")

    def instances(self, split: str) -> Sequence[Instance]:
        data = {"quick": instances_data(1, 1), "train": instances_data(), "holdout": instances_data(7)}[split]
        return [Instance(id=f"{split}/{i}", args=(p, d)) for i, (p, d) in enumerate(data)]

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        if not isinstance(output, list):
            raise InvalidOutput("return a list of job indices")
        p, d = instance.args
        return {"total_tardiness": float(tardiness(output, p, d))}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        total = sum(m["total_tardiness"] for m in metrics)
        return {"score": -total, "total_tardiness": total}


def make(options: Mapping[str, Any] | None = None) -> TinySmtt:
    if options:
        raise ValueError(f"tiny_smtt takes no options, got {sorted(options)}")
    return TinySmtt()
