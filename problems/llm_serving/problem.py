"""The LLM-serving batch-scheduling problem: a scheduler decides every iteration of a simulated inference
server; the parent replays the decision log on its own copy of the trace and measures goodput."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from evolve.problem import Harness, Instance, InvalidOutput, Problem, finite
from problems.llm_serving.model import engine_config, solo_decode_s, solo_prefill_s
from problems.llm_serving.replay import replay
from problems.llm_serving.workload import TraceSpec, generate

HERE = Path(__file__).resolve().parent

#: (lengths, arrivals, offered load in requests/s) of each split's traces, in order
QUICK = (("chat", "poisson", 0.4),)
TRAIN = (("chat", "poisson", 0.4), ("chat", "bursty", 0.35), ("summarize", "poisson", 0.3),
         ("chat", "poisson", 0.5))
HOLDOUT = (("chat", "poisson", 0.3), ("chat", "poisson", 0.45), ("chat", "bursty", 0.4),
           ("summarize", "poisson", 0.35), ("summarize", "bursty", 0.3), ("chat", "poisson", 0.55))

METRIC_NOTES = {
    "score": "goodput as a percentage of the solo bound (requests meeting both SLOs, ratio of sums); higher "
             "is better",
    "goodput_pct": "the same as score",
    "goodput_rps": "requests meeting both SLOs per second of the episode (first arrival to last finish), mean",
    "ttft_p50_s": "median time to first token, s (mean over traces)",
    "ttft_p99_s": "99th percentile time to first token, s (mean over traces)",
    "tbt_p50_s": "median time between tokens, s (mean over traces)",
    "tbt_p99_s": "99th percentile time between tokens, s (mean over traces)",
    "throughput_tps": "output tokens per second of the episode (mean over traces)",
    "preemptions": "preemptions per trace (mean)",
}


@dataclass(frozen=True)
class LlmServingOptions:
    """Problem options of `llm_serving` (`problem.options.*`); unknown keys are an error."""

    quick_n: int = 24
    train_n: int = 32
    holdout_n: int = 48
    quick_seed: int = 1
    train_seed: int = 2
    holdout_seed: int = 3
    decision_budget_ms: float = 20.0

    problem_name: ClassVar[str] = "llm_serving"

    def __post_init__(self) -> None:
        for split in ("quick", "train", "holdout"):
            if getattr(self, f"{split}_n") < 1:
                raise ValueError(f"{split}_n (requests per trace) must be at least 1")
        if not self.decision_budget_ms > 0:
            raise ValueError(f"decision_budget_ms must be positive, got {self.decision_budget_ms}")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Self:
        """Options as Hydra hands them over; names the offending key on error."""
        types = {f.name: f.type for f in fields(cls)}
        unknown = set(options) - set(types)
        if unknown:
            raise ValueError(f"unknown {cls.problem_name} option(s) {sorted(unknown)}; known: {sorted(types)}")
        kw: dict[str, Any] = {}
        for key, value in options.items():
            try:
                if isinstance(value, bool):
                    raise TypeError("expected a number")
                kw[key] = float(value) if types[key] == "float" else int(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{cls.problem_name} option {key}={value!r}: {exc}") from None
        return cls(**kw)


def split_specs(options: LlmServingOptions, split: str, holdout_seed: int | None = None) -> list[TraceSpec]:
    """The traces of a split. The hold-out's come from `holdout_specs` alone, so that its seeds can be
    drawn from a per-run secret without touching the rest."""
    if split == "holdout":
        return holdout_specs(options, holdout_seed)
    table, n, seed = {"quick": (QUICK, options.quick_n, options.quick_seed),
                      "train": (TRAIN, options.train_n, options.train_seed)}[split]
    return [TraceSpec(lengths, arrivals, rate, n, seed * 1000 + i) for i, (lengths, arrivals, rate) in enumerate(table)]


def holdout_specs(options: LlmServingOptions, seed: int | None = None) -> list[TraceSpec]:
    """The hold-out traces, from `seed` (the public option mixed with the run's secret by the problem)."""
    return [TraceSpec(lengths, arrivals, rate, options.holdout_n,
                      (options.holdout_seed if seed is None else seed) * 1000 + i)
            for i, (lengths, arrivals, rate) in enumerate(HOLDOUT)]


def solo_bound(trace: Mapping[str, Any], cfg: Mapping[str, Any]) -> int:
    """Requests that would meet both SLOs if each ran alone on the server (an upper bound on goodput)."""
    good = 0
    for p, o, slo in zip(trace["prompt_len"], trace["output_len"], trace["ttft_slo_s"], strict=True):
        fits = -(-(p + o) // cfg["block_size"]) <= cfg["num_blocks"] and p <= cfg["max_batch_tokens"]
        if fits and solo_prefill_s(dict(cfg), p) <= slo and (o <= 1 or solo_decode_s(dict(cfg), p + o - 1)
                                                             <= cfg["tbt_slo_s"]):
            good += 1
    return good


def max_iterations(trace: Mapping[str, Any]) -> int:
    """A cap far above any sensible episode (every token its own iteration, three times over)."""
    return 3 * int(sum(trace["output_len"]) + sum(trace["prompt_len"]) // 16) + 1000


class LlmServing(Problem):
    """`schedule(view) -> ({rid: tokens}, {rid: 'recompute'|'swap'})`, called every iteration."""

    name = "llm_serving"
    entry = "schedule"
    package_dir = HERE
    harness = Harness(driver="driver.py", timeout_s=20.0, split_timeout_s=90.0)
    summary_metrics = ("score", "goodput_rps", "ttft_p99_s", "tbt_p99_s", "throughput_tps")
    allowed_imports = ("math", "numpy", "random", "heapq", "bisect", "itertools", "functools", "collections",
                       "operator", "statistics", "copy", "dataclasses", "typing", "re", "fractions", "decimal",
                       "array", "time")

    def __init__(self, options: LlmServingOptions | None = None) -> None:
        self.options = options or LlmServingOptions()
        self.config = engine_config()
        self._cache: dict[str, list[Instance]] = {}

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in ("quick", "train", "holdout"):
            raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
        if split not in self._cache:
            self._cache[split] = [self._instance(spec) for spec in split_specs(
                self.options, split, self.holdout_seed(self.options.holdout_seed))]
        return self._cache[split]

    def _instance(self, spec: TraceSpec) -> Instance:
        cfg = self.config
        trace = generate(spec, cfg)
        cap = max_iterations(trace)
        upper = solo_bound(trace, cfg)
        args = (np.asarray(trace["arrival_s"], dtype=np.float64), np.asarray(trace["prompt_len"], dtype=np.int64),
                np.asarray(trace["output_len"], dtype=np.int64), np.asarray(trace["ttft_slo_s"], dtype=np.float64),
                dict(cfg), float(self.options.decision_budget_ms), cap)
        meta = {"lengths": spec.lengths, "arrivals": spec.arrivals, "rate_rps": spec.rate_rps, "n": spec.n,
                "seed": spec.seed, "model": "Llama-2-13B on one A100-40GB", "tbt_slo_s": cfg["tbt_slo_s"]}
        return Instance(id=spec.name, args=args, meta=meta, reference=float(upper), reference_kind="oracle",
                        private={"trace": trace, "max_iterations": cap, "upper": upper})

    def check_output(self, instance: Instance, output: Any) -> None:
        replay(output, instance.private["trace"], self.config, instance.private["max_iterations"])

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        trace = instance.private["trace"]
        engine = replay(output, trace, self.config, instance.private["max_iterations"])
        return episode_metrics(engine, trace, instance.private["upper"])

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        good = sum(m["good"] for m in metrics)
        upper = sum(m["upper"] for m in metrics)
        pct = 100.0 * good / upper if upper else 0.0
        out = {"score": pct, "goodput_pct": pct, "good": good, "requests": sum(m["requests"] for m in metrics)}
        for key in ("goodput_rps", "ttft_p50_s", "ttft_p99_s", "tbt_p50_s", "tbt_p99_s", "throughput_tps",
                    "preemptions"):
            out[key] = finite(sum(m[key] for m in metrics) / len(metrics))
        return out

    def reference_score(self, split: str) -> float | None:
        return 100.0

    def describe_metrics(self) -> dict[str, str]:
        return dict(METRIC_NOTES)


def episode_metrics(engine: Any, trace: Mapping[str, Any], upper: int) -> dict[str, float]:
    """Per-trace metrics from a replayed engine (every figure measured by the parent)."""
    arrival = np.asarray(trace["arrival_s"])
    ttft = np.array([r.first_token_s for r in engine.reqs], dtype=float) - arrival
    slo = np.asarray(trace["ttft_slo_s"])
    bad, gaps = np.asarray(engine.bad_gaps), np.asarray(engine.n_gaps)
    good_mask = (ttft <= slo) & (bad <= np.floor(0.01 * gaps))
    span = max(float(np.max(engine.finish_s)) - float(arrival[0]), 1e-9)
    tbt = np.asarray(engine.gaps) if engine.gaps else np.zeros(1)
    good = int(good_mask.sum())
    return {"good": float(good), "upper": float(upper), "requests": float(engine.n),
            "goodput_rps": good / span, "ttft_p50_s": float(np.percentile(ttft, 50)),
            "ttft_p99_s": float(np.percentile(ttft, 99)), "tbt_p50_s": float(np.percentile(tbt, 50)),
            "tbt_p99_s": float(np.percentile(tbt, 99)), "throughput_tps": engine.tokens_out / span,
            "preemptions": float(sum(r.preemptions for r in engine.reqs))}
