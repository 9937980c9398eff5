"""The online bin-packing problem: the parent checks the driver's packing and counts the bins itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from evolve.problem import Harness, Instance, InvalidOutput, Problem, options_from_mapping
from problems.binpack.generator import generate, lower_bound
from problems.binpack.validate import validate_packing

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BinPackingOptions:
    """Items per instance, instances and seed of each split, and the bin capacity."""

    quick_n: int = 100
    quick_count: int = 2
    quick_seed: int = 11
    train_n: int = 500
    train_count: int = 5
    train_seed: int = 12
    holdout_n: int = 1000
    holdout_count: int = 5
    holdout_seed: int = 13
    capacity: int = 100
    problem_name: ClassVar[str] = "binpack"

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < (0 if f.name.endswith("_seed") else 1):
                raise ValueError(f"binpack option {f.name}={getattr(self, f.name)}: must be positive")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> BinPackingOptions:
        return options_from_mapping(cls, options, _integer)


def _integer(key: str, kind: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("must be an integer") from None


class BinPacking(Problem):
    """Online bin packing (Weibull item sizes): `priority(item, bins)` scores the bins an item fits in."""

    name = "binpack"
    entry = "priority"
    package_dir = HERE
    harness = Harness(driver="driver.py", timeout_s=10.0, split_timeout_s=60.0)
    summary_metrics = ("score", "excess_pct", "bins")

    def __init__(self, options: BinPackingOptions | None = None) -> None:
        self.options = options or BinPackingOptions()
        self._cache: dict[str, list[Instance]] = {}

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in self._cache:
            if split not in ("quick", "train", "holdout"):
                raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
            o = self.options
            n, count, seed = getattr(o, f"{split}_n"), getattr(o, f"{split}_count"), getattr(o, f"{split}_seed")
            if split == "holdout":  # drawn from the run's secret; its seed is named nowhere
                seed = self.holdout_seed(seed)
            out = []
            for index in range(count):
                raw = generate(seed, index, n, o.capacity)
                shown = "" if split == "holdout" else f"-s{seed}"
                out.append(Instance(id=f"{split}/weibull-n{n}{shown}-{index}", args=(raw.items, raw.capacity),
                                    meta={"n": n, "index": index, "distribution": "weibull(3, 45)",
                                          **({} if split == "holdout" else {"seed": seed})},
                                    reference=float(lower_bound(raw.items, raw.capacity)),
                                    reference_kind="lower_bound"))
            self._cache[split] = out
        return self._cache[split]

    def check_output(self, instance: Instance, output: Any) -> None:
        items, capacity = instance.args
        validate_packing(output, items, capacity)

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        items, capacity = instance.args
        used = validate_packing(output, items, capacity)
        return {"bins": float(used), "lower_bound": float(instance.reference or 0.0)}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        used = sum(m["bins"] for m in metrics)
        bound = sum(m["lower_bound"] for m in metrics)
        excess = 100.0 * (used - bound) / max(bound, 1.0)  # a ratio of sums over the split
        return {"score": -excess, "excess_pct": excess, "bins": used / len(metrics),
                "lower_bound": bound / len(metrics)}

    def reference_score(self, split: str) -> float | None:
        return 0.0  # reaching the L1 bound on every instance

    def describe_metrics(self) -> dict[str, str]:
        return {"score": "−excess_pct (higher is better; 0 reaches the lower bound)",
                "excess_pct": "100·(Σbins − Σlower_bound)/Σlower_bound over the split's instances",
                "bins": "mean number of bins used per instance",
                "lower_bound": "mean L1 lower bound ⌈Σsize/capacity⌉ per instance"}
