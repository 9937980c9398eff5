"""The `cant_be_late_multi` problem: the same job, with spot traces in several zones and region moves.

It reuses `cant_be_late`'s simulator (one driver file for both), its episodes played in the parent one
observation at a time, and its replay; what differs is the data (the leaderboard's nine zones and six scenarios) and the aggregation
(the mean over scenarios of each scenario's mean cost, as the leaderboard averages).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from evolve.problem import Harness, Instance, InvalidOutput, options_from_mapping
from problems.cant_be_late import traces
from problems.cant_be_late.problem import CantBeLate, Job, summarise
from problems.cant_be_late_multi import regions

HERE = Path(__file__).resolve().parent
SHARED_DRIVER = Path(traces.__file__).resolve().parent / "driver.py"


@dataclass(frozen=True)
class MultiOptions:
    """`problem.options` of cant_be_late_multi; unknown keys are an error."""

    duration_hours: float = 48.0
    deadline_hours: float = 52.0
    overhead_hours: float = 0.2
    gap_seconds: float = 600.0
    train_traces: int = 2  # per scenario (at most the scenario's leaderboard count)
    quick_seed: int = 1
    train_seed: int = 2
    holdout_seed: int = 3
    #: a folder laid out as the leaderboard's `converted_multi_region_aligned` (<zone>/<i>.json); when set,
    #: the hold-out split is the leaderboard's stage-2 evaluation on it
    traces: str = ""

    problem_name: ClassVar[str] = "cant_be_late_multi"

    def __post_init__(self) -> None:
        if self.duration_hours + self.overhead_hours > self.deadline_hours:
            raise ValueError("the deadline must leave room for the job plus one restart overhead")
        if not self.gap_seconds > 0 or self.train_traces < 1 or self.overhead_hours < 0:
            raise ValueError("gap_seconds and train_traces must be positive, overhead_hours non-negative")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Self:
        return options_from_mapping(cls, options)


def holdout_seed(options: MultiOptions) -> int:
    """The public seed of the hold-out split; the problem mixes the run's secret into it (`Problem.holdout_seed`)."""
    return options.holdout_seed


class CantBeLateMulti(CantBeLate):
    """Multi-region spot scheduling under a deadline (the ADRS leaderboard's `cant_be_late_multi`)."""

    name = "cant_be_late_multi"
    entry = "decide"
    package_dir = HERE
    harness = Harness(driver="driver.py", timeout_s=20.0, split_timeout_s=240.0)
    summary_metrics = ("score", "avg_cost", "savings_vs_on_demand_pct", "late_pct")

    def __init__(self, options: MultiOptions | None = None) -> None:
        self.multi = options or MultiOptions()
        self._instances: dict[str, list[Instance]] = {}

    def driver_source(self) -> str | None:
        return SHARED_DRIVER.read_text(encoding="utf-8")

    def _jobs(self, split: str) -> list[tuple[str, int, Job]]:
        o = self.multi
        ticks = math.ceil((o.deadline_hours + 12.0) * 3600.0 / o.gap_seconds)
        chosen = [(regions.SCENARIOS[0], 1)] if split == "quick" else \
            [(s, min(s[2], o.train_traces) if split == "train" else s[2]) for s in regions.SCENARIOS]
        seed = {"quick": o.quick_seed, "train": o.train_seed, "holdout": self.holdout_seed(holdout_seed(o))}[split]
        out = []
        for k, ((name, zones, _), count) in enumerate(chosen):
            for i in range(count):
                if split == "holdout" and o.traces:
                    gap, trace = regions.load(Path(o.traces).expanduser(), zones, i)
                    source = f"{o.traces} trace {i}"
                else:
                    rng = np.random.default_rng([seed, k, i])
                    gap = o.gap_seconds
                    trace = regions.generate(zones, ticks, gap, rng)
                    source = f"generated seed {seed}/{k}/{i}"
                out.append((name, i, Job(name, trace, gap, o.duration_hours, o.deadline_hours, o.overhead_hours,
                                         source)))
        return out

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in ("quick", "train", "holdout"):
            raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
        if split not in self._instances:
            out = []
            for name, i, job in self._jobs(split):
                trace = job.trace.copy()
                trace.flags.writeable = False
                job = dataclasses.replace(job, trace=trace)
                meta = {"scenario": name, "trace": i, "zones": list(next(s[1] for s in regions.SCENARIOS
                                                                         if s[0] == name)),
                        "source": job.source, "availability": [float(1 - r.mean()) for r in trace]}
                out.append(Instance(id=f"{split}/{name}-{i}", args=job.args(), meta=meta, private={"job": job}))
            self._instances[split] = out
        return self._instances[split]

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        """The leaderboard's figure: mean over scenarios of each scenario's mean episode cost."""
        if not metrics:
            raise InvalidOutput("no instance was scored")
        overall = summarise(metrics)
        by: dict[str, list[Mapping[str, float]]] = defaultdict(list)
        for inst, m in zip(instances, metrics):
            by[str(inst.meta["scenario"])].append(m)
        means = [sum(m["cost"] for m in ms) / sum(m["episodes"] for m in ms) for ms in by.values()]
        avg = sum(means) / len(means)
        od, spot = overall["od_anchor"], overall["spot_anchor"]
        norm = min(1.0, max(0.0, (od - avg) / (od - spot)))
        return {**overall, "score": 100.0 * norm, "leaderboard_score": round(100.0 * norm, 2), "avg_cost": avg,
                "savings_vs_on_demand_pct": 100.0 * (od - avg) / od, "scenarios": float(len(means))}
