"""The SMWTT problem: order n weighted jobs on one machine to minimise Σ w_j·T_j (OR-Library data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.problem import Harness, Instance, Problem
from problems.smtt import tardiness
from problems.smtt.metrics import DESCRIPTIONS, gap_metrics
from problems.smtt.problem import CANDIDATE_IMPORTS, class_key, instance_metrics
from problems.smwtt import orlib

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class SmwttOptions:
    """Which OR-Library instances make up each split.

    quick: the instances of `train_set` numbered `quick_numbers` (1-based); train: the rest of
    `train_set`; holdout: every instance of `holdout_sets`.
    """

    quick_numbers: tuple[int, ...] = (13, 38, 63, 88, 113)
    train_set: str = "wt40"
    holdout_sets: tuple[str, ...] = ("wt50", "wt100")

    def __post_init__(self) -> None:
        for name in (self.train_set, *self.holdout_sets):
            if name not in orlib.SETS:
                raise ValueError(f"unknown OR-Library set {name!r}; use one of {sorted(orlib.SETS)}")
        if self.train_set in self.holdout_sets:
            raise ValueError(f"train_set {self.train_set!r} is also a hold-out set; keep them apart")
        bad = [k for k in self.quick_numbers if not 1 <= k <= orlib.PER_SET]
        if bad or not self.quick_numbers or len(set(self.quick_numbers)) == orlib.PER_SET:
            raise ValueError(f"quick_numbers must be 1..{orlib.PER_SET} and leave instances for training")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> SmwttOptions:
        known = set(cls.__dataclass_fields__)
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown smwtt option(s) {sorted(unknown)}; known: {sorted(known)}")
        kw: dict[str, Any] = {}
        for k, v in options.items():
            if k == "quick_numbers":
                kw[k] = tuple(int(x) for x in v)
            elif k == "holdout_sets":
                kw[k] = (str(v),) if isinstance(v, str) else tuple(str(x) for x in v)
            else:
                kw[k] = str(v)
        return cls(**kw)


def make_instance(split: str, raw: orlib.WtInstance) -> Instance:
    """The Instance of one OR-Library problem, its published value as the reference."""
    return Instance(id=f"{split}/{raw.key}", args=(raw.p, raw.d, raw.w),
                    meta={"set": raw.set, "number": raw.number, "n": len(raw.p), "tf": raw.tf, "rdd": raw.rdd,
                          "class": class_key(raw.tf, raw.rdd)},
                    reference=float(raw.value), reference_kind=raw.kind)


class Smwtt(Problem):
    """Single-machine total weighted tardiness (1||Σw_jT_j) with a dispatching-rule seed (EDD)."""

    name = "smwtt"
    entry = "schedule"
    package_dir = HERE
    harness = Harness(timeout_s=10.0, split_timeout_s=120.0)
    summary_metrics = ("score", "gap_pct", "optimal_pct", "total_tardiness")
    public_holdout = ("the hold-out is OR-Library's wt50/wt100 sets, whose optima are published: a benchmark to "
                      "compare with the literature, which a program that memorised them would also pass")

    def reference_score(self, split: str) -> float | None:
        """Matching the reference on every instance is a gap of 0, i.e. a score of 0."""
        return 0.0
    allowed_imports = CANDIDATE_IMPORTS

    def __init__(self, options: SmwttOptions | None = None) -> None:
        self.options = options or SmwttOptions()
        self._instances: dict[str, list[Instance]] = {}

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in self._instances:
            o = self.options
            quick = set(o.quick_numbers)
            train = orlib.read_set(o.train_set)
            if split == "quick":
                raws = [r for r in train if r.number in quick]
            elif split == "train":
                raws = [r for r in train if r.number not in quick]
            elif split == "holdout":
                raws = [r for name in o.holdout_sets for r in orlib.read_set(name)]
            else:
                raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
            self._instances[split] = [make_instance(split, r) for r in raws]
        return self._instances[split]

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        p, d, w = instance.args
        order = tardiness.validate_permutation(output, len(p))
        return instance_metrics(instance, tardiness.total_tardiness(order, p, d, w))

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        return gap_metrics(metrics)

    def describe_metrics(self) -> dict[str, str]:
        return dict(DESCRIPTIONS)
