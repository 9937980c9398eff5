"""Which batches make up each split: workloads, batch sizes, batches per workload and the split's seed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from problems.txn.workloads import WORKLOADS, Workload, generate


@dataclass(frozen=True)
class SplitSpec:
    """The batches of one split: every workload × every size × `per_workload` seeds."""

    seed: int
    sizes: tuple[int, ...]
    per_workload: int
    workloads: tuple[str, ...]


@dataclass(frozen=True)
class TxnOptions:
    """Problem options of `txn` (`problem.options.*`); unknown keys are an error."""

    workloads: tuple[str, ...] = WORKLOADS
    quick_n: tuple[int, ...] = (100,)
    quick_per_workload: int = 1
    quick_seed: int = 1
    train_n: tuple[int, ...] = (100,)
    train_per_workload: int = 2
    train_seed: int = 2
    holdout_n: tuple[int, ...] = (100, 500)
    holdout_per_workload: int = 1
    holdout_seed: int = 3

    problem_name: ClassVar[str] = "txn"

    def __post_init__(self) -> None:
        unknown = [w for w in self.workloads if w not in WORKLOADS]
        if unknown or not self.workloads:
            raise ValueError(f"workloads must be a non-empty list drawn from {list(WORKLOADS)}, got "
                             f"{list(self.workloads)}")
        for split in ("quick", "train", "holdout"):
            sizes, per = getattr(self, f"{split}_n"), getattr(self, f"{split}_per_workload")
            if not sizes or any(n < 1 for n in sizes) or per < 1:
                raise ValueError(f"{split}_n needs positive batch sizes and {split}_per_workload ≥ 1")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Self:
        """Options as Hydra hands them over (lists for tuples); names the offending key on error."""
        types = {f.name: f.type for f in fields(cls)}
        unknown = set(options) - set(types)
        if unknown:
            raise ValueError(f"unknown {cls.problem_name} option(s) {sorted(unknown)}; known: {sorted(types)}")
        kw: dict[str, Any] = {}
        for key, value in options.items():
            kind = str(types[key])
            try:
                if key == "workloads":
                    kw[key] = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
                elif kind.startswith("tuple"):
                    kw[key] = (int(value),) if isinstance(value, (int, float)) else tuple(int(v) for v in value)
                elif kind == "float":
                    kw[key] = float(value)
                else:
                    kw[key] = int(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{cls.problem_name} option {key}={value!r}: {exc}") from None
        return cls(**kw)

    def split(self, name: str) -> SplitSpec:
        if name not in ("quick", "train", "holdout"):
            raise ValueError(f"unknown split {name!r}; use quick, train or holdout")
        return SplitSpec(seed=getattr(self, f"{name}_seed"), sizes=getattr(self, f"{name}_n"),
                         per_workload=getattr(self, f"{name}_per_workload"), workloads=self.workloads)


def instance_seed(split_seed: int, n: int, workload: str, rep: int) -> int:
    """The recorded seed of the rep-th batch of `workload` with n transactions in a split."""
    return split_seed * 10_000_000 + n * 1000 + WORKLOADS.index(workload) * 100 + rep


def build_split(spec: SplitSpec) -> list[Workload]:
    """The split's batches, in a fixed order (size, workload, rep)."""
    return [generate(w, n, instance_seed(spec.seed, n, w, rep))
            for n in spec.sizes for w in spec.workloads for rep in range(spec.per_workload)]
