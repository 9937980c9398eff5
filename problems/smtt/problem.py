"""The SMTT problem: schedule n jobs on one machine to minimise total tardiness ΣT_j."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from evolve.problem import Harness, Instance, Problem
from problems.smtt import references, tardiness
from problems.smtt.generator import SmttInstance, generate_split
from problems.smtt.metrics import DESCRIPTIONS, PROVING_KINDS, by_class, gap_metrics

HERE = Path(__file__).resolve().parent
REFERENCE_FILE = HERE / "data" / "references.json"
#: numpy and the standard-library modules the sandbox preloads (the only ones a candidate can import)
CANDIDATE_IMPORTS = ("numpy", "math", "random", "heapq", "bisect", "itertools", "functools", "collections",
                     "operator", "statistics", "copy", "dataclasses", "typing", "re", "fractions", "decimal",
                     "array", "time")


@dataclass(frozen=True)
class SmttOptions:
    """Which instances make up each split (sizes, instances per (TF, RDD) class, split seed)."""

    quick_n: tuple[int, ...] = (20,)
    quick_per_class: int = 1
    quick_seed: int = 1
    train_n: tuple[int, ...] = (50,)
    train_per_class: int = 2
    train_seed: int = 2
    holdout_n: tuple[int, ...] = (20, 100)
    holdout_per_class: int = 1
    holdout_seed: int = 3

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> SmttOptions:
        known = set(cls.__dataclass_fields__)
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown smtt option(s) {sorted(unknown)}; known: {sorted(known)}")
        kw: dict[str, Any] = {k: tuple(int(x) for x in v) if k.endswith("_n") else int(v)
                              for k, v in options.items()}
        return cls(**kw)


def instance_key(raw: SmttInstance) -> str:
    """The key of an instance in the reference tables: its generator parameters and seed."""
    return f"n{raw.n}-tf{raw.tf}-rdd{raw.rdd}-s{raw.seed}"


def class_key(tf: float, rdd: float) -> str:
    """The name of a due-date class, as used in per-class metrics."""
    return f"tf{tf}-rdd{rdd}"


def instance_metrics(instance: Instance, total: int) -> dict[str, float]:
    """Per-instance metrics of a schedule with objective `total` (what `gap_metrics` aggregates)."""
    p = instance.args[0]
    weight = float(np.mean(instance.args[2])) if len(instance.args) > 2 else 1.0
    ref = float(instance.reference or 0.0)
    return {"total_tardiness": float(total), "reference": ref, "gap_floor": float(np.sum(p)) * weight,
            "proven_optimal": float(instance.reference_kind in PROVING_KINDS and total <= ref)}


class Smtt(Problem):
    """Single-machine total tardiness (1||ΣT_j) with a dispatching-rule seed (EDD)."""

    name = "smtt"
    entry = "schedule"
    package_dir = HERE
    harness = Harness(timeout_s=5.0, split_timeout_s=60.0)
    summary_metrics = ("score", "gap_pct", "optimal_pct", "total_tardiness")

    def reference_score(self, split: str) -> float | None:
        """Matching the reference on every instance is a gap of 0, i.e. a score of 0."""
        return 0.0
    allowed_imports = CANDIDATE_IMPORTS

    def __init__(self, options: SmttOptions | None = None) -> None:
        self.options = options or SmttOptions()
        self._instances: dict[str, list[Instance]] = {}

    @cached_property
    def _known_references(self) -> dict[str, dict[str, Any]]:
        return references.load_table(REFERENCE_FILE)

    def reference(self, raw: SmttInstance) -> tuple[float, str]:
        """The instance's reference: the cached optimum, else solved now (a lower bound if intractable)."""
        known = self._known_references.get(instance_key(raw))
        if known is not None:
            return float(known["value"]), str(known["kind"])
        value, kind = references.optimum_or_bound(raw.p, raw.d)
        return float(value), kind

    def make_instance(self, split: str, raw: SmttInstance, reference: tuple[float, str] | None = None
                      ) -> Instance:
        """The Instance of one generated problem (its reference looked up or computed unless given)."""
        ref, kind = reference if reference is not None else self.reference(raw)
        return Instance(id=f"{split}/{instance_key(raw)}", args=(raw.p, raw.d),
                        meta={"n": raw.n, "tf": raw.tf, "rdd": raw.rdd, "seed": raw.seed,
                              "class": class_key(raw.tf, raw.rdd)},
                        reference=ref, reference_kind=kind)

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in self._instances:
            o = self.options
            spec = {"quick": (o.quick_seed, o.quick_n, o.quick_per_class),
                    "train": (o.train_seed, o.train_n, o.train_per_class),
                    "holdout": (self.holdout_seed(o.holdout_seed), o.holdout_n, o.holdout_per_class)}
            if split not in spec:
                raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
            seed, sizes, per_class = spec[split]
            self._instances[split] = [self.make_instance(split, raw)
                                      for raw in generate_split(seed, sizes, per_class)]
        return self._instances[split]

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        p, d = instance.args
        order = tardiness.validate_permutation(output, len(p))
        return instance_metrics(instance, tardiness.total_tardiness(order, p, d))

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        return gap_metrics(metrics)

    def describe_metrics(self) -> dict[str, str]:
        return dict(DESCRIPTIONS)

    def feedback(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]]) -> str | None:
        """The gap per (TF, RDD) due-date class, worst first: where the rule loses most."""
        classes = by_class([str(i.meta.get("class", "?")) for i in instances], metrics)
        if len(classes) < 2:
            return None
        ranked = sorted(classes.items(), key=lambda kv: kv[1]["gap_pct"], reverse=True)
        shown = ranked if len(ranked) <= 8 else [*ranked[:5], *ranked[-2:]]
        parts = [f"{key} {m['gap_pct']:.2f} %" for key, m in shown]
        if len(shown) < len(ranked):
            parts.insert(5, "…")
        return ("gap per due-date class (tf = tardiness factor, higher: more jobs late; rdd = due-date range, "
                "lower: due dates closer together), worst first: " + ", ".join(parts))


def write_reference_file(problem: Smtt | None = None) -> int:
    """Solve every instance of the splits exactly and cache the optima in data/references.json
    (a maintainer's tool: `python -m problems.smtt.problem`). Returns the number of entries."""
    problem = problem or Smtt()
    o = problem.options
    table: dict[str, dict[str, Any]] = {}
    for seed, sizes, per_class in ((o.quick_seed, o.quick_n, o.quick_per_class),
                                   (o.train_seed, o.train_n, o.train_per_class),
                                   (o.holdout_seed, o.holdout_n, o.holdout_per_class)):
        for raw in generate_split(seed, sizes, per_class):
            value, kind = references.optimum_or_bound(raw.p, raw.d)
            table[instance_key(raw)] = {"value": value, "kind": kind}
    references.save_table(REFERENCE_FILE, table)
    return len(table)


if __name__ == "__main__":
    print(f"wrote {write_reference_file()} references to {REFERENCE_FILE}")
