"""The online transaction-scheduling problem: a policy appends, step by step, one of k sampled pending
transactions; the parent replays the episode and recomputes the makespan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from evolve.problem import Harness, Instance, InvalidOutput
from problems.txn import simulator
from problems.txn.problem import METRIC_NOTES, Txn, batch_of, summarise
from problems.txn.suite import TxnOptions
from problems.txn.workloads import Workload
from problems.txn_online.replay import replay

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class TxnOnlineOptions(TxnOptions):
    """`txn` options plus the offer size `k` and the CPU budget of one decision."""

    k: int = 5
    decision_budget_ms: float = 20.0

    problem_name: ClassVar[str] = "txn_online"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k < 1:
            raise ValueError(f"k (transactions offered per decision) must be at least 1, got {self.k}")
        if not self.decision_budget_ms > 0:
            raise ValueError(f"decision_budget_ms must be positive, got {self.decision_budget_ms}")


class TxnOnline(Txn):
    """Online transaction scheduling: `choose(state, candidates) -> index`, append-only by construction."""

    name = "txn_online"
    entry = "choose"
    package_dir = HERE
    #: the driver enforces the per-decision CPU budget; timeout_s is the hard wall clock per episode
    harness = Harness(driver="driver.py", timeout_s=10.0, split_timeout_s=60.0)
    summary_metrics = ("score", "makespan", "improvement_vs_fifo_pct", "gap_to_bound_pct")
    options: TxnOnlineOptions

    def __init__(self, options: TxnOnlineOptions | None = None) -> None:
        super().__init__(options or TxnOnlineOptions())

    def instance_args(self, workload: Workload) -> tuple[Any, ...]:
        o = self.options
        return (workload.batch.as_txns(), o.k, workload.seed, o.decision_budget_ms)

    def instance_meta(self, workload: Workload) -> dict[str, Any]:
        greedy = simulator.greedy_order(workload.batch)
        return {**super().instance_meta(workload), "k": self.options.k, "episode_seed": workload.seed,
                "smf_full_makespan": simulator.makespan(workload.batch, greedy)}

    def decisions(self, instance: Instance, output: Any) -> list[int]:
        """The append order, after replaying the episode (raises InvalidOutput)."""
        _, k, seed, _ = instance.args
        return replay(output, batch_of(instance).n, k, seed)

    def check_output(self, instance: Instance, output: Any) -> None:
        self.decisions(instance, output)

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        metrics = self.metrics_for(instance, self.decisions(instance, output))
        return {**metrics, "smf_full_makespan": float(instance.meta["smf_full_makespan"])}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if not metrics:
            raise InvalidOutput("no instance was scored")
        return {**summarise(metrics),
                "smf_full_makespan": sum(m["smf_full_makespan"] for m in metrics) / len(metrics)}

    def describe_metrics(self) -> dict[str, str]:
        return {**METRIC_NOTES, "smf_full_makespan": "mean makespan of offline SMF without sampling (a "
                "reference the online API cannot express: it sees every pending transaction), in time steps"}
