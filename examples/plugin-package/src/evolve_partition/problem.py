"""Two-way number partitioning: assign each number to side 0 or 1 so that the two sums are close.

The imbalance of a partition is |sum(side 0) − sum(side 1)|; no partition does better than the parity of
the total (0 or 1), which is the reference (a lower bound). All of this runs in the trusted parent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from evolve.problem import Harness, Instance, InvalidOutput, Problem

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Options:
    """Instances per split: how many numbers (n), how many instances (count) and the split's seed."""

    quick_n: int = 20
    quick_count: int = 3
    quick_seed: int = 11
    train_n: int = 50
    train_count: int = 8
    train_seed: int = 12
    holdout_n: int = 100
    holdout_count: int = 8
    holdout_seed: int = 13
    max_value: int = 1_000_000

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Options:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown partition option(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: int(v) for k, v in options.items()})


def generate(seed: int, index: int, n: int, max_value: int) -> np.ndarray:
    """n integers drawn uniformly from 1..max_value, seeded by (split seed, instance index)."""
    return np.random.default_rng([seed, index]).integers(1, max_value + 1, size=n).astype(np.int64)


def validate_sides(output: Any, n: int) -> np.ndarray:
    """`output` as a 0/1 int64 array of length n, or InvalidOutput saying what is wrong."""
    if isinstance(output, np.ndarray):
        if output.ndim != 1 or output.dtype.kind not in "iub":
            raise InvalidOutput(f"expected a 1-D integer array, got dtype {output.dtype} shape {output.shape}")
        sides = output.astype(np.int64)
    elif isinstance(output, (list, tuple)):
        bad = [x for x in output if type(x) not in (int, bool)]
        if bad:
            raise InvalidOutput(f"expected integers 0 or 1, found {type(bad[0]).__name__} {bad[0]!r:.40}")
        sides = np.array([int(x) for x in output], dtype=np.int64)
    else:
        raise InvalidOutput(f"expected a list of n={n} sides (0 or 1), got {type(output).__name__}")
    if sides.shape[0] != n:
        raise InvalidOutput(f"expected {n} sides, one per number, got {sides.shape[0]}")
    if n and (sides.min() < 0 or sides.max() > 1):
        raise InvalidOutput("every side must be 0 or 1")
    return sides


class Partition(Problem):
    """Two-way number partitioning with a greedy seed (largest number first, to the lighter side)."""

    name = "partition"
    entry = "partition"
    package_dir = HERE
    harness = Harness(timeout_s=2.0, split_timeout_s=20.0)
    summary_metrics = ("score", "imbalance_ppm")

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()
        self._cache: dict[str, list[Instance]] = {}

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in self._cache:
            if split not in ("quick", "train", "holdout"):
                raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
            o = self.options
            n, count, seed = getattr(o, f"{split}_n"), getattr(o, f"{split}_count"), getattr(o, f"{split}_seed")
            if split == "holdout":  # drawn from the run's secret: public seeds can be memorised
                seed = self.holdout_seed(seed)
            self._cache[split] = [
                Instance(id=f"{split}/n{n}-s{seed}-{i}", args=(numbers,), meta={"n": n, "seed": seed, "index": i},
                         reference=float(int(numbers.sum()) % 2), reference_kind="lower_bound")
                for i, numbers in ((i, generate(seed, i, n, o.max_value)) for i in range(count))]
        return self._cache[split]

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        (numbers,) = instance.args
        sides = validate_sides(output, len(numbers))
        one = int(numbers[sides == 1].sum())
        total = int(numbers.sum())
        return {"imbalance": float(abs(total - 2 * one)), "total": float(total)}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        imbalance = sum(m["imbalance"] for m in metrics)
        ppm = 1e6 * imbalance / max(sum(m["total"] for m in metrics), 1.0)  # a ratio of sums
        return {"score": -ppm, "imbalance_ppm": ppm, "imbalance": imbalance / len(metrics)}

    def describe_metrics(self) -> dict[str, str]:
        return {"score": "−imbalance_ppm (higher is better)",
                "imbalance_ppm": "10⁶·Σ|sum(side 0) − sum(side 1)| / Σ total, over the split",
                "imbalance": "mean |sum(side 0) − sum(side 1)| per instance"}
