"""The LLM-serving cluster problem: a dispatcher places each arriving request on one of several inference
servers and may migrate running requests (Llumnix); the parent replays the whole cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evolve.problem import Harness, Instance, InvalidOutput
from problems.llm_serving.model import engine_config
from problems.llm_serving.problem import (
    METRIC_NOTES,
    LlmServing,
    LlmServingOptions,
    episode_metrics,
    solo_bound,
)
from problems.llm_serving.workload import TraceSpec, generate
from problems.llm_serving_cluster.replay import replay

HERE = Path(__file__).resolve().parent
SERVING_DRIVER = HERE.parent / "llm_serving" / "driver.py"

QUICK = (("chat", "poisson", 4.0),)
TRAIN = (("chat", "poisson", 4.0), ("chat", "bursty", 3.6), ("summarize", "poisson", 3.0))
HOLDOUT = (("chat", "poisson", 3.6), ("chat", "bursty", 4.0), ("summarize", "poisson", 3.0),
           ("chat", "poisson", 4.4))
#: one token's KV (800 KiB) over a ~12.5 GB/s link between servers
PER_MIGRATE_TOKEN_S = 6.6e-5


@dataclass(frozen=True)
class LlmServingClusterOptions(LlmServingOptions):
    """`llm_serving` options plus the number of instances."""

    quick_n: int = 24
    train_n: int = 40
    holdout_n: int = 96
    instances: int = 4

    problem_name: ClassVar[str] = "llm_serving_cluster"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.instances <= 64:
            raise ValueError(f"instances must be in 1..64, got {self.instances}")


def split_specs(options: LlmServingClusterOptions, split: str, holdout_seed: int | None = None) -> list[TraceSpec]:
    if split == "holdout":
        return holdout_specs(options, holdout_seed)
    table, n, seed = {"quick": (QUICK, options.quick_n, options.quick_seed),
                      "train": (TRAIN, options.train_n, options.train_seed)}[split]
    return [TraceSpec(lengths, arrivals, rate, n, 50_000 + seed * 1000 + i)
            for i, (lengths, arrivals, rate) in enumerate(table)]


def holdout_specs(options: LlmServingClusterOptions, seed: int | None = None) -> list[TraceSpec]:
    """The hold-out traces, from `seed` (the public option mixed with the run's secret by the problem)."""
    return [TraceSpec(lengths, arrivals, rate, options.holdout_n,
                      50_000 + (options.holdout_seed if seed is None else seed) * 1000 + i)
            for i, (lengths, arrivals, rate) in enumerate(HOLDOUT)]


class LlmServingCluster(LlmServing):
    """`dispatch(view, request) -> instance` or `(instance, [(rid, destination), ...])`, at every arrival."""

    name = "llm_serving_cluster"
    entry = "dispatch"
    package_dir = HERE
    harness = Harness(driver="driver.py", timeout_s=30.0, split_timeout_s=120.0)
    summary_metrics = ("score", "goodput_rps", "ttft_p99_s", "tbt_p99_s", "migrations")
    options: LlmServingClusterOptions  # type: ignore[assignment]

    def __init__(self, options: LlmServingClusterOptions | None = None) -> None:
        super().__init__(options or LlmServingClusterOptions())
        self.config = {**engine_config(), "per_migrate_token_s": PER_MIGRATE_TOKEN_S}

    def driver_source(self) -> str:
        """The serving engine's driver followed by this one: the child imports nothing from the disk."""
        own = (HERE / "driver.py").read_text(encoding="utf-8")
        body = "\n".join(line for line in own.splitlines() if not line.startswith("from __future__"))
        return SERVING_DRIVER.read_text(encoding="utf-8") + "\n\n" + body + "\n"

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in ("quick", "train", "holdout"):
            raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
        if split not in self._cache:
            self._cache[split] = [self._instance(spec) for spec in split_specs(
                self.options, split, self.holdout_seed(self.options.holdout_seed))]
        return self._cache[split]

    def _instance(self, spec: TraceSpec) -> Instance:
        cfg, k = self.config, self.options.instances
        trace = generate(spec, cfg)
        cap = 3 * int(sum(trace["output_len"]) + sum(trace["prompt_len"]) // 16) + 1000
        upper = solo_bound(trace, cfg)
        args = (np.asarray(trace["arrival_s"], dtype=np.float64), np.asarray(trace["prompt_len"], dtype=np.int64),
                np.asarray(trace["output_len"], dtype=np.int64), np.asarray(trace["ttft_slo_s"], dtype=np.float64),
                dict(cfg), k, float(self.options.decision_budget_ms), cap)
        meta = {"lengths": spec.lengths, "arrivals": spec.arrivals, "rate_rps": spec.rate_rps, "n": spec.n,
                "seed": spec.seed, "instances": k, "model": "Llama-2-13B on A100-40GB per instance"}
        return Instance(id=f"{spec.name}-x{k}", args=args, meta=meta, reference=float(upper),
                        reference_kind="oracle", private={"trace": trace, "max_iterations": cap, "upper": upper})

    def _replay(self, instance: Instance, output: Any) -> Any:
        return replay(output, instance.private["trace"], self.config, self.options.instances,
                      instance.private["max_iterations"])

    def check_output(self, instance: Instance, output: Any) -> None:
        self._replay(instance, output)

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        cluster = self._replay(instance, output)
        return {**episode_metrics(cluster, instance.private["trace"], instance.private["upper"]),
                "migrations": float(cluster.migrations)}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        return {**super().aggregate(instances, metrics, timings),
                "migrations": sum(m["migrations"] for m in metrics) / len(metrics)}

    def describe_metrics(self) -> dict[str, str]:
        return {**METRIC_NOTES, "migrations": "migrations per trace (mean)"}
