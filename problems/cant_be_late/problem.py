"""The `cant_be_late` problem: a spot/on-demand policy for a deadline job, played and priced in the parent.

Every instance is one trace and one job configuration (deadline, restart overhead), played as an
interactive episode (`Problem.interactive`): the parent steps the simulator on its own copy of the trace
and sends the candidate's process one observation per tick, the past and the present only; the policy
answers a decision, which the parent validates and applies. The decisions are then replayed and priced.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from evaluators.session import StepLimits
from evolve.problem import Harness, Instance, InvalidOutput, Problem, options_from_mapping
from problems.cant_be_late import traces
from problems.cant_be_late.driver import CODE_CHARS, ON_DEMAND_PRICE, SPOT_PRICE, Play, TraceEnded, replay

HERE = Path(__file__).resolve().parent
CANDIDATE_IMPORTS = ("numpy", "math", "random", "heapq", "bisect", "itertools", "functools", "collections",
                     "operator", "statistics", "copy", "dataclasses", "typing", "re", "fractions", "decimal",
                     "array", "time")
SPLITS = ("quick", "train", "holdout")
#: hours of trace beyond the longest deadline, so that a job the overrides push past it can finish
TRACE_SLACK_HOURS = 12.0
MAX_DECISIONS = 1 << 16


@dataclass(frozen=True)
class CantBeLateOptions:
    """`problem.options` of cant_be_late; unknown keys are an error."""

    envs: tuple[str, ...] = traces.ENVS
    duration_hours: float = 48.0
    deadlines_hours: tuple[float, ...] = (52.0, 70.0)
    overheads_hours: tuple[float, ...] = (0.02, 0.05, 0.1)
    gap_seconds: float = 600.0
    quick_per_env: int = 0  # 0: two instances in all (the first two environments)
    train_per_env: int = 2
    holdout_per_env: int = 6
    quick_seed: int = 1
    train_seed: int = 2
    holdout_seed: int = 3
    #: a folder of the leaderboard's trace files; when set, the hold-out split is the leaderboard's own
    #: evaluation on them (per environment `real_per_env` traces evenly spaced × every deadline × overhead)
    traces: str = ""
    real_per_env: int = 30

    problem_name: ClassVar[str] = "cant_be_late"

    def __post_init__(self) -> None:
        for env in self.envs:
            traces.profile(env)
        if not self.envs:
            raise ValueError("envs must name at least one environment")
        if not self.deadlines_hours or not self.overheads_hours:
            raise ValueError("deadlines_hours and overheads_hours must not be empty")
        for d in self.deadlines_hours:
            for o in self.overheads_hours:
                if self.duration_hours + o > d:
                    raise ValueError(f"deadline {d} h is shorter than the job ({self.duration_hours} h) plus one "
                                     f"restart overhead ({o} h); the leaderboard rejects such a configuration")
        if not self.gap_seconds > 0 or any(o < 0 for o in self.overheads_hours):
            raise ValueError("gap_seconds must be positive and overheads_hours non-negative")
        for key in ("quick_per_env", "train_per_env", "holdout_per_env", "real_per_env"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be ≥ 0")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Self:
        return options_from_mapping(cls, options, _option_value)

    @property
    def configs(self) -> list[tuple[float, float]]:
        """(deadline h, overhead h) pairs, in the leaderboard's order."""
        return [(d, o) for d in self.deadlines_hours for o in self.overheads_hours]

def _option_value(key: str, kind: str, value: Any) -> Any:
    """One option as its field declares it; `envs` and the tuple fields also take a single value."""
    if key == "envs":
        return (value,) if isinstance(value, str) else tuple(str(v) for v in value)
    if kind.startswith("tuple"):
        return (float(value),) if isinstance(value, (int, float)) else tuple(float(v) for v in value)
    return {"str": str, "float": float}.get(kind, int)(value)



def holdout_seed(options: CantBeLateOptions) -> int:
    """The public seed of the hold-out split; the problem mixes the run's secret into it (`Problem.holdout_seed`)."""
    return options.holdout_seed


@dataclass(frozen=True)
class Job:
    """One episode's inputs, trusted: the trace and the job configuration."""

    env: str
    trace: np.ndarray
    gap: float
    duration_h: float
    deadline_h: float
    overhead_h: float
    source: str

    def args(self) -> tuple[Any, ...]:
        """The session's inputs (Instance.args): never sent to the candidate, who sees observations."""
        return (self.trace, self.gap, self.duration_h * 3600.0, self.deadline_h * 3600.0, self.overhead_h * 3600.0)


class Session:
    """The parent's session of one episode (`Problem.session`): `Play`, its refusals as InvalidOutput."""

    def __init__(self, job: Job) -> None:
        self.play = Play(*job.args())

    def begin(self) -> tuple[Any, ...]:
        return self.play.begin()

    def step(self, decision: Any) -> tuple[Any, ...] | None:
        try:
            return self.play.step(decision)
        except (ValueError, TraceEnded) as exc:
            raise InvalidOutput(str(exc)) from None

    def result(self) -> str:
        return self.play.result()


class CantBeLate(Problem):
    """Single-region spot scheduling under a deadline (the ADRS leaderboard's `cant_be_late`)."""

    name = "cant_be_late"
    entry = "decide"
    package_dir = HERE
    harness = Harness(driver="driver.py", timeout_s=20.0, split_timeout_s=240.0)
    summary_metrics = ("score", "avg_cost", "savings_vs_on_demand_pct", "late_pct")
    allowed_imports = CANDIDATE_IMPORTS
    #: a tick's decision is a word: 2 s per call is generous, 4 KiB per reply more than enough
    interactive = StepLimits(step_wall_s=2.0, max_steps=MAX_DECISIONS, reply_bytes=4096)

    def __init__(self, options: CantBeLateOptions | None = None) -> None:
        self.options = options or CantBeLateOptions()
        self._instances: dict[str, list[Instance]] = {}

    # --- data ---------------------------------------------------------------------------------------
    def _ticks(self, gap: float) -> int:
        return math.ceil((max(self.options.deadlines_hours) + TRACE_SLACK_HOURS) * 3600.0 / gap)

    def generated_jobs(self, split: str) -> list[Job]:
        o = self.options
        seed = {"quick": o.quick_seed, "train": o.train_seed, "holdout": self.holdout_seed(holdout_seed(o))}[split]
        per_env = getattr(o, f"{split}_per_env")
        envs = o.envs
        if split == "quick" and per_env == 0:
            envs, per_env = o.envs[:2], 1
        jobs, ticks = [], self._ticks(o.gap_seconds)
        for e, env in enumerate(envs):
            for r in range(per_env):
                rng = np.random.default_rng([seed, traces.ENVS.index(env), r])
                deadline, overhead = o.configs[(e + r) % len(o.configs)]
                trace = traces.generate(env, ticks, o.gap_seconds, rng)
                jobs.append(Job(env, trace, o.gap_seconds, o.duration_hours, deadline, overhead,
                                f"generated seed {seed}/{r}"))
        return jobs

    def real_jobs(self) -> list[Job]:
        """The leaderboard's evaluation on the user's trace files: every picked trace × every config."""
        o = self.options
        found = traces.load_dir(Path(o.traces).expanduser(), o.envs, max(o.deadlines_hours))
        jobs = []
        for env in o.envs:
            for f in traces.evenly_spaced(found[env], o.real_per_env):
                for deadline, overhead in o.configs:
                    jobs.append(Job(env, f.data, f.gap_seconds, o.duration_hours, deadline, overhead, str(f.path)))
        return jobs

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
        if split not in self._instances:
            jobs = self.real_jobs() if split == "holdout" and self.options.traces else self.generated_jobs(split)
            out = []
            for i, job in enumerate(jobs):
                trace = job.trace.copy()
                trace.flags.writeable = False
                job = dataclasses.replace(job, trace=trace)
                meta = {"env": job.env, "deadline_hours": job.deadline_h, "overhead_hours": job.overhead_h,
                        "duration_hours": job.duration_h, "gap_seconds": job.gap, "source": job.source,
                        "availability": float(1.0 - trace.mean())}
                out.append(Instance(id=f"{split}/{i:04d}-{job.env}-d{job.deadline_h:g}-o{job.overhead_h:g}",
                                    args=job.args(), meta=meta, private={"job": job}))
            self._instances[split] = out
        return self._instances[split]

    # --- trusted scoring ----------------------------------------------------------------------------
    def session(self, instance: Instance) -> Session:
        return Session(instance.private["job"])

    def decisions(self, instance: Instance, output: Any) -> str:
        """The episode's decision string (the session's result), checked for form."""
        codes = CODE_CHARS[:3 * np.atleast_2d(instance.private["job"].trace).shape[0]]
        if not isinstance(output, str) or len(output) > MAX_DECISIONS or output.strip(codes):
            raise InvalidOutput(f"the output must be a string of the decision codes {codes!r}, got "
                                f"{type(output).__name__} {output!r:.40}")
        return output

    def check_output(self, instance: Instance, output: Any) -> None:
        self.decisions(instance, output)

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        job: Job = instance.private["job"]
        decisions = self.decisions(instance, output)
        try:
            ep = replay(decisions, job.trace, job.gap, job.duration_h * 3600.0, job.deadline_h * 3600.0,
                        job.overhead_h * 3600.0)
        except Exception as exc:
            raise InvalidOutput(f"the decisions do not replay: {str(exc)[:200]}") from None
        return {"cost": ep.cost, "episodes": 1.0, "late": float(ep.finish_tick * job.gap > job.deadline_h * 3600.0 + 1e-6),
                "od_anchor": ON_DEMAND_PRICE * job.duration_h, "spot_anchor": SPOT_PRICE * job.duration_h,
                "spot_hours": ep.ticks_by_type[1] * job.gap / 3600.0,
                "on_demand_hours": ep.ticks_by_type[2] * job.gap / 3600.0}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        return summarise(metrics)

    def reference_score(self, split: str) -> float | None:
        return 100.0  # the cost of running the whole job on spot, the leaderboard's 100-point anchor

    def describe_metrics(self) -> dict[str, str]:
        return dict(METRIC_NOTES)


METRIC_NOTES = {
    "score": "100·clip((OD − avg cost)/(OD − SPOT), 0, 1): the leaderboard's normalised cost saving, unrounded",
    "leaderboard_score": "the same, rounded to an integer as the leaderboard prints it",
    "avg_cost": "mean cost of an episode in $",
    "od_anchor": "cost of the whole job on on-demand in $ (0 points)",
    "spot_anchor": "cost of the whole job on spot with no preemption in $ (100 points)",
    "savings_vs_on_demand_pct": "100·(OD − avg cost)/OD",
    "late_pct": "share of episodes that finished after the deadline (the overrides make this rare)",
    "spot_share_pct": "share of billed compute hours that ran on spot",
}


def summarise(metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Split metrics as the leaderboard computes them: the mean episode cost against the two anchors."""
    episodes = sum(m["episodes"] for m in metrics)
    avg = sum(m["cost"] for m in metrics) / episodes
    od = sum(m["od_anchor"] for m in metrics) / episodes
    spot = sum(m["spot_anchor"] for m in metrics) / episodes
    norm = min(1.0, max(0.0, (od - avg) / (od - spot)))
    hours_spot = sum(m["spot_hours"] for m in metrics)
    hours_od = sum(m["on_demand_hours"] for m in metrics)
    return {"score": 100.0 * norm, "leaderboard_score": float(round(100.0 * norm)), "avg_cost": avg,
            "od_anchor": od, "spot_anchor": spot, "savings_vs_on_demand_pct": 100.0 * (od - avg) / od,
            "late_pct": 100.0 * sum(m["late"] for m in metrics) / episodes,
            "spot_share_pct": 100.0 * hours_spot / max(hours_spot + hours_od, 1e-9), "episodes": episodes}
