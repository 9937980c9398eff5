"""The `prism` problem: place models on GPUs to minimise the worst KV-cache pressure (ADRS leaderboard)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from evolve.problem import Harness, Instance, InvalidOutput, Problem
from problems.prism import kvpr

HERE = Path(__file__).resolve().parent
CANDIDATE_IMPORTS = ("numpy", "math", "random", "heapq", "bisect", "itertools", "functools", "collections",
                     "operator", "statistics", "copy", "dataclasses", "typing", "re", "fractions", "decimal",
                     "array", "time")
SPLITS = ("quick", "train", "holdout")


@dataclass(frozen=True)
class PrismOptions:
    """`problem.options` of prism. The hold-out seed 42 reproduces the leaderboard's own 50 cases."""

    quick_n: int = 5
    train_n: int = 50
    holdout_n: int = 50
    quick_seed: int = 1
    train_seed: int = 2
    holdout_seed: int = 42

    problem_name: ClassVar[str] = "prism"

    def __post_init__(self) -> None:
        for key in ("quick_n", "train_n", "holdout_n"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be ≥ 1")
        if len({self.quick_seed, self.train_seed, self.holdout_seed}) < 3:
            raise ValueError("quick_seed, train_seed and holdout_seed must differ (splits share no case)")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown {cls.problem_name} option(s) {sorted(unknown)}; known: {sorted(known)}")
        try:
            return cls(**{k: int(v) for k, v in options.items()})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{cls.problem_name} options {dict(options)}: {exc}") from None


def holdout_seed(options: PrismOptions) -> int:
    """The seed of the hold-out split (one place to change when hold-out seeds become secret)."""
    return options.holdout_seed


class Prism(Problem):
    """Model placement on GPUs (PRISM, the ADRS leaderboard's `prism`): `place(...) -> GPU id per model`."""

    name = "prism"
    entry = "place"
    package_dir = HERE
    harness = Harness(timeout_s=10.0, split_timeout_s=120.0)
    summary_metrics = ("score", "avg_kvpr", "baseline_kvpr", "optimal_kvpr")
    allowed_imports = CANDIDATE_IMPORTS
    public_holdout = ("the hold-out is the leaderboard's own 50 test cases (its generator with seed 42), so that a "
                      "score here reads beside the published ones; train and quick are this plugin's own cases")

    def __init__(self, options: PrismOptions | None = None) -> None:
        self.options = options or PrismOptions()
        self._instances: dict[str, list[Instance]] = {}

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
        if split not in self._instances:
            o = self.options
            seed = {"quick": o.quick_seed, "train": o.train_seed, "holdout": holdout_seed(o)}[split]
            out = []
            for i, case in enumerate(kvpr.generate_cases(seed, getattr(o, f"{split}_n"))):
                for a in (case.sizes, case.rates, case.slos):
                    a.flags.writeable = False
                base = kvpr.max_kvpr(case, kvpr.round_robin(case))
                bound = kvpr.optimal_bound(case)
                out.append(Instance(id=f"{split}/{i:03d}-g{case.gpu_num}", args=(case.gpu_num, case.sizes,
                                    case.rates, case.slos), meta={"seed": seed, "index": i, "gpu_num": case.gpu_num,
                                    "baseline_kvpr": base, "optimal_kvpr": bound},
                                    reference=bound, reference_kind="lower_bound", private={"case": case}))
            self._instances[split] = out
        return self._instances[split]

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        case: kvpr.Case = instance.private["case"]
        value = kvpr.max_kvpr(case, kvpr.validate(output, case))
        base, bound = float(instance.meta["baseline_kvpr"]), float(instance.meta["optimal_kvpr"])
        return {"kvpr": value, "baseline_kvpr": base, "optimal_kvpr": bound,
                "case_score": kvpr.case_score(base, bound, value)}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        n = float(len(metrics))
        return {"score": sum(m["case_score"] for m in metrics) / n,
                "avg_kvpr": sum(m["kvpr"] for m in metrics) / n,
                "baseline_kvpr": sum(m["baseline_kvpr"] for m in metrics) / n,
                "optimal_kvpr": sum(m["optimal_kvpr"] for m in metrics) / n,
                "gap_to_bound_pct": 100.0 * (sum(m["kvpr"] for m in metrics) / sum(m["optimal_kvpr"] for m in metrics)
                                             - 1.0)}

    def reference_score(self, split: str) -> float | None:
        return 100.0

    def describe_metrics(self) -> dict[str, str]:
        return {"score": "mean over cases of 100·sqrt(clamp((RR − kvpr)/(RR − bound), 0, 1)) (the leaderboard's)",
                "avg_kvpr": "mean max-KVPR of the placements", "baseline_kvpr": "mean max-KVPR of round-robin",
                "optimal_kvpr": "mean perfect-balance bound", "gap_to_bound_pct": "Σkvpr / Σbound − 1, in %"}
