"""The SMTT problem: schedule n jobs on one machine to minimise total tardiness ΣT_j."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from evolve.problem import Harness, Instance, InvalidOutput, Problem
from problems.smtt import tardiness
from problems.smtt.generator import SmttInstance, generate_split

HERE = Path(__file__).resolve().parent
REFERENCE_FILE = HERE / "data" / "references.json"


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
        kw = {k: tuple(int(x) for x in v) if k.endswith("_n") else int(v) for k, v in options.items()}
        return cls(**kw)


def instance_key(raw: SmttInstance) -> str:
    return f"n{raw.n}-tf{raw.tf}-rdd{raw.rdd}-s{raw.seed}"


class Smtt(Problem):
    """Single-machine total tardiness (1||ΣT_j) with a dispatching-rule seed (EDD)."""

    name = "smtt"
    entry = "schedule"
    package_dir = HERE
    harness = Harness(timeout_s=5.0, split_timeout_s=60.0)

    def __init__(self, options: SmttOptions | None = None) -> None:
        self.options = options or SmttOptions()
        self._instances: dict[str, list[Instance]] = {}

    @cached_property
    def _known_references(self) -> dict[str, dict[str, Any]]:
        if REFERENCE_FILE.is_file():
            return json.loads(REFERENCE_FILE.read_text())
        return {}

    def reference(self, raw: SmttInstance) -> tuple[float, str]:
        """Best reference objective for `raw`: a cached optimum or best-known value, else computed now."""
        known = self._known_references.get(instance_key(raw))
        if known is not None:
            return float(known["value"]), str(known["kind"])
        return float(compute_reference(raw.p, raw.d)), "best_known"

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in self._instances:
            o = self.options
            spec = {"quick": (o.quick_seed, o.quick_n, o.quick_per_class),
                    "train": (o.train_seed, o.train_n, o.train_per_class),
                    "holdout": (o.holdout_seed, o.holdout_n, o.holdout_per_class)}
            if split not in spec:
                raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
            seed, sizes, per_class = spec[split]
            out = []
            for raw in generate_split(seed, sizes, per_class):
                ref, kind = self.reference(raw)
                out.append(Instance(
                    id=f"{split}/{instance_key(raw)}", args=(raw.p, raw.d),
                    meta={"n": raw.n, "tf": raw.tf, "rdd": raw.rdd, "seed": raw.seed},
                    reference=ref, reference_kind=kind))
            self._instances[split] = out
        return self._instances[split]

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        p, d = instance.args
        order = tardiness.validate_permutation(output, len(p))
        return {"total_tardiness": float(tardiness.total_tardiness(order, p, d)),
                "reference": float(instance.reference or 0.0)}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        total = sum(m["total_tardiness"] for m in metrics)
        ref = sum(m["reference"] for m in metrics)
        gap = 100.0 * (total - ref) / max(ref, 1.0)
        return {"score": -gap, "gap_pct": gap, "total_tardiness": total / len(metrics),
                "reference_tardiness": ref / len(metrics), "instances": float(len(metrics))}

    def describe_metrics(self) -> dict[str, str]:
        return {
            "score": "−gap_pct (higher is better)",
            "gap_pct": "ratio-of-sums gap to the reference, 100·(ΣT − ΣT_ref)/ΣT_ref",
            "total_tardiness": "mean total tardiness per instance",
            "reference_tardiness": "mean reference total tardiness per instance",
        }


def compute_reference(p: np.ndarray, d: np.ndarray) -> int:
    """Best known value: the best of EDD, SPT and MDD, improved by interchange and insertion descent."""
    starts = [tardiness.edd(p, d), tardiness.spt(p, d), tardiness.mdd(p, d)]
    best = min(starts, key=lambda o: tardiness.total_tardiness(o, p, d))
    improved = tardiness.local_search(best, p, d)
    return tardiness.total_tardiness(improved, p, d)


def write_reference_file(problem: Smtt | None = None) -> int:
    """Recompute the references of the default splits into data/references.json (a maintainer's tool)."""
    problem = problem or Smtt()
    o = problem.options
    table: dict[str, dict[str, Any]] = dict(problem._known_references)
    for seed, sizes, per_class in ((o.quick_seed, o.quick_n, o.quick_per_class),
                                   (o.train_seed, o.train_n, o.train_per_class),
                                   (o.holdout_seed, o.holdout_n, o.holdout_per_class)):
        for raw in generate_split(seed, sizes, per_class):
            key = instance_key(raw)
            if key not in table:
                table[key] = {"value": compute_reference(raw.p, raw.d), "kind": "best_known"}
    REFERENCE_FILE.parent.mkdir(exist_ok=True)
    REFERENCE_FILE.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")
    return len(table)


if __name__ == "__main__":
    print(f"wrote {write_reference_file()} references to {REFERENCE_FILE}")
