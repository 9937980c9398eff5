"""The offline transaction-scheduling problem: order a batch so that its ASAP schedule is shortest."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evolve.problem import Harness, Instance, InvalidOutput, Problem
from problems.txn import simulator
from problems.txn.batch import Batch
from problems.txn.suite import TxnOptions, build_split
from problems.txn.validation import validate_order
from problems.txn.workloads import Workload

HERE = Path(__file__).resolve().parent
#: numpy and the standard-library modules the sandbox preloads (the only ones a candidate can import)
CANDIDATE_IMPORTS = ("numpy", "math", "random", "heapq", "bisect", "itertools", "functools", "collections",
                     "operator", "statistics", "copy", "dataclasses", "typing", "re", "fractions", "decimal",
                     "array", "time")


def batch_of(instance: Instance) -> Batch:
    """The trusted flat form of an instance's batch (kept in `private`, never sent to the child)."""
    return instance.private["batch"]  # type: ignore[no-any-return]


class Txn(Problem):
    """Offline transaction scheduling (Cheng et al., PVLDB 2024): `schedule(txns) -> permutation`."""

    name = "txn"
    entry = "schedule"
    package_dir = HERE
    harness = Harness(timeout_s=10.0, split_timeout_s=60.0)
    summary_metrics = ("score", "makespan", "improvement_vs_fifo_pct", "gap_to_bound_pct")
    allowed_imports = CANDIDATE_IMPORTS

    def __init__(self, options: TxnOptions | None = None) -> None:
        self.options = options or TxnOptions()
        self._instances: dict[str, list[Instance]] = {}

    # --- data ---------------------------------------------------------------------------------------
    def instance_args(self, workload: Workload) -> tuple[Any, ...]:
        """Positional arguments of the entry function for one batch."""
        return (workload.batch.as_txns(),)

    def instance_meta(self, workload: Workload) -> dict[str, Any]:
        """Trusted figures recorded with each instance (computed once, when the split is built)."""
        b = workload.batch
        return {"workload": workload.name, "seed": workload.seed, **b.describe(), "params": dict(workload.params),
                "fifo_makespan": simulator.fifo_makespan(b), "lower_bound": simulator.lower_bound(b)}

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in self._instances:
            out = []
            spec = self.options.split(split)
            if split == "holdout":
                spec = dataclasses.replace(spec, seed=self.holdout_seed(spec.seed))
            for w in build_split(spec):
                meta = self.instance_meta(w)
                out.append(Instance(id=f"{split}/{w.name}-n{w.n}-s{w.seed}", args=self.instance_args(w),
                                    meta=meta, reference=float(meta["lower_bound"]),
                                    reference_kind="lower_bound", private={"batch": w.batch}))
            self._instances[split] = out
        return self._instances[split]

    # --- trusted scoring ----------------------------------------------------------------------------
    def metrics_for(self, instance: Instance, order: Sequence[int]) -> dict[str, float]:
        """Per-instance metrics of a validated order, recomputed from the batch."""
        span = simulator.makespan(batch_of(instance), order)
        bound = int(instance.meta["lower_bound"])
        if span < bound:  # a bug in the simulator or the bound, never the candidate's doing
            raise RuntimeError(f"{instance.id}: makespan {span} below the lower bound {bound}")
        return {"makespan": float(span), "fifo_makespan": float(instance.meta["fifo_makespan"]),
                "lower_bound": float(bound)}

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        return self.metrics_for(instance, validate_order(output, batch_of(instance).n))

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        return summarise(metrics)

    def feedback(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]]) -> str | None:
        """Per workload, how much longer than the lower bound the schedules are, and the gain over FIFO."""
        groups: dict[str, list[Mapping[str, float]]] = {}
        for inst, m in zip(instances, metrics):
            if not {"makespan", "fifo_makespan", "lower_bound"} <= set(m):
                return None
            groups.setdefault(str(inst.meta.get("workload", "?")), []).append(m)
        if len(groups) < 2:
            return None
        rows = []
        for name, ms in groups.items():
            span, fifo, bound = (sum(m[k] for m in ms) for k in ("makespan", "fifo_makespan", "lower_bound"))
            rows.append((100.0 * (span - bound) / max(bound, 1.0), name, 100.0 * (fifo - span) / max(fifo, 1.0)))
        rows.sort(reverse=True)
        return ("makespan above the lower bound per workload, worst first (and the gain over FIFO): "
                + ", ".join(f"{name} {gap:.1f} % ({gain:+.1f} % vs FIFO)" for gap, name, gain in rows))

    def reference_score(self, split: str) -> float | None:
        return 100.0  # a schedule as short as the lower bound closes the whole FIFO-to-bound gap

    def describe_metrics(self) -> dict[str, str]:
        return dict(METRIC_NOTES)


METRIC_NOTES = {
    "score": "gap_closed_pct (higher is better; 0 = FIFO, 100 = as short as the lower bound)",
    "gap_closed_pct": "100·(ΣFIFO − Σmakespan)/(ΣFIFO − Σbound): share of the FIFO-to-bound gap closed",
    "improvement_vs_fifo_pct": "100·(ΣFIFO − Σmakespan)/ΣFIFO: total makespan saved against FIFO order",
    "gap_to_bound_pct": "100·(Σmakespan − Σbound)/Σbound: total makespan above the lower bound",
    "makespan": "mean makespan per batch, in time steps",
    "fifo_makespan": "mean makespan of the sequential (FIFO) order, in time steps",
    "lower_bound": "mean lower bound on the makespan, in time steps",
    "makespan_sum": "total makespan over the split's batches, in time steps",
}


def summarise(metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Split metrics as ratios of sums over the batches (never a mean of per-batch ratios)."""
    span = sum(m["makespan"] for m in metrics)
    fifo = sum(m["fifo_makespan"] for m in metrics)
    bound = sum(m["lower_bound"] for m in metrics)
    closed = 100.0 * (fifo - span) / max(fifo - bound, 1.0)
    n = float(len(metrics))
    return {"score": closed, "gap_closed_pct": closed,
            "improvement_vs_fifo_pct": 100.0 * (fifo - span) / max(fifo, 1.0),
            "gap_to_bound_pct": 100.0 * (span - bound) / max(bound, 1.0),
            "makespan": span / n, "fifo_makespan": fifo / n, "lower_bound": bound / n,
            "makespan_sum": span, "instances": n}
