"""Split metrics for tardiness problems: gaps to a reference, computed so that no instance can dominate.

The primary figure is the ratio-of-sums gap 100·(ΣT − ΣT_ref)/ΣT_ref. A mean of per-instance ratios
explodes on instances whose optimum is near 0 (one time unit late on an optimum of 1 is +100%), so the
per-instance gap here divides by max(T_ref, floor), with the floor one makespan (Σp, times the mean
weight for weighted tardiness): a schedule that loses one makespan's worth of tardiness is 100% off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evolve.problem import InvalidOutput

#: reference kinds under which T <= reference proves a schedule optimal
PROVING_KINDS = ("optimum", "lower_bound")

DESCRIPTIONS = {
    "score": "−gap_pct (higher is better)",
    "gap_pct": "ratio-of-sums gap to the reference, 100·(ΣT − ΣT_ref)/ΣT_ref",
    "mean_gap_pct": "mean over instances of 100·(T − T_ref)/max(T_ref, floor), floor = Σp·mean(w)",
    "optimal_pct": "percentage of instances whose schedule matches a proven optimum (or lower bound)",
    "total_tardiness": "mean (weighted) total tardiness per instance",
    "reference_tardiness": "mean reference (weighted) total tardiness per instance",
    "instances": "number of instances",
}


def gap_metrics(metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Split metrics (flat floats) from per-instance metrics with the keys `total_tardiness`,
    `reference`, `gap_floor` and `proven_optimal` (1.0 when the schedule matches a proven optimum)."""
    if not metrics:
        raise InvalidOutput("no instance was scored")
    count = len(metrics)
    total = float(sum(m["total_tardiness"] for m in metrics))
    ref = float(sum(m["reference"] for m in metrics))
    gap = 100.0 * (total - ref) / max(ref, 1.0)
    per_instance = sum(100.0 * (m["total_tardiness"] - m["reference"]) / max(m["reference"], m["gap_floor"], 1.0)
                       for m in metrics)
    optimal = sum(m["proven_optimal"] for m in metrics)
    return {"score": -gap, "gap_pct": gap, "mean_gap_pct": per_instance / count,
            "optimal_pct": 100.0 * optimal / count, "total_tardiness": total / count,
            "reference_tardiness": ref / count, "instances": float(count)}


def by_class(keys: Sequence[str], metrics: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """`gap_metrics` of each group of instances sharing a key (e.g. "tf0.2-rdd0.6"), keys sorted."""
    groups: dict[str, list[Mapping[str, float]]] = {}
    for key, m in zip(keys, metrics):
        groups.setdefault(key, []).append(m)
    return {key: gap_metrics(group) for key, group in sorted(groups.items())}
