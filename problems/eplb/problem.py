"""The EPLB problem: map MoE experts onto GPU slots so that the next window's load is balanced, fast."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from evolve.problem import Harness, Instance, InvalidOutput, Problem
from problems.eplb import balance, policy
from problems.eplb.generator import Trace, TraceSpec, draw_split
from problems.eplb.validate import validate_mapping

HERE = Path(__file__).resolve().parent

#: which traces make up each split (shape, hardware, popularity, drift); seeds come from the options
SPLIT_TRACES: dict[str, tuple[TraceSpec, ...]] = {
    "quick": (TraceSpec("e32", "h48", "zipf", "gradual", windows=2),
              TraceSpec("e64", "h288", "lognormal", "sudden", windows=2)),
    "train": (TraceSpec("dsv3", "h288", "zipf", "gradual"),
              TraceSpec("e128", "h288", "lognormal", "sudden"),
              TraceSpec("e64", "h320", "lognormal", "gradual")),
    "holdout": (TraceSpec("dsv3", "h320", "lognormal", "sudden"),
                TraceSpec("dsv2", "h288", "zipf", "gradual"),
                TraceSpec("e96", "h288", "zipf", "sudden")),
}

#: speed credit: none at or above SLOW_MS per call, all of it at or below FAST_MS (log scale between)
SLOW_MS = 100.0
FAST_MS = 0.1
#: speed credit is gated by balance relative to the reference policy: none below GATE_LOW, all above GATE_HIGH
GATE_LOW = 0.97
GATE_HIGH = 0.99


@dataclass(frozen=True)
class EplbOptions:
    """Split seeds, windows per train/holdout trace, timing repeats and the speed-credit cap."""

    quick_seed: int = 101
    train_seed: int = 202
    holdout_seed: int = 303
    windows: int = 3
    repeats: int = 1
    warmup: int = 1
    speed_cap: float = 0.05

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> EplbOptions:
        known = {f.name for f in fields(cls)}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown eplb option(s) {sorted(unknown)}; known: {sorted(known)}")
        kw: dict[str, Any] = {k: float(v) if k == "speed_cap" else int(v) for k, v in options.items()}
        made = cls(**kw)
        if made.windows < 2 or made.repeats < 1 or made.warmup < 0 or made.repeats + made.warmup < 2 \
                or not 0.0 <= made.speed_cap <= 0.2:
            raise ValueError("eplb options need windows >= 2, repeats >= 1 and warmup >= 0 with at least two "
                             "calls in all (speed is timed), "
                             f"and 0 <= speed_cap <= 0.2; got {made}")
        return made


def trace_key(trace: Trace) -> str:
    s = trace.spec
    return f"{s.shape}-{s.hardware}-{s.popularity}-{s.drift}-t{trace.seed[-1]}"


def mapping_balance(mapping: tuple[np.ndarray, ...], weight: np.ndarray, units: int) -> float:
    """Balancedness of a (trusted) mapping's phy2log on `weight` over `units` GPUs or nodes."""
    return balance.balancedness(balance.unit_loads(mapping[0], weight, units))


def make_instances(split: str, traces: Sequence[Trace]) -> list[Instance]:
    """One instance per (trace, window i): inputs from window i, scored on window i + 1."""
    out = []
    for trace in traces:
        shape, hw = trace.shape, trace.hardware
        for i in range(len(trace.loads) - 1):
            now, nxt = trace.loads[i], trace.loads[i + 1]
            args = (now, hw.replicas, shape.groups, hw.nodes, hw.gpus)
            reference = policy.rebalance(*args)
            oracle = mapping_balance(policy.hierarchical(nxt, hw.replicas, 1, 1, hw.gpus), nxt, hw.gpus)
            if shape.groups % hw.nodes == 0:  # the hierarchical layout differs from the global one
                oracle = max(oracle, mapping_balance(policy.rebalance(nxt, *args[1:]), nxt, hw.gpus))
            private = {
                "next": nxt,
                "balancedness_reference": mapping_balance(reference, nxt, hw.gpus),
                "balancedness_oracle": oracle,
                "ceiling_same": balance.balancedness_ceiling(now, hw.replicas, hw.gpus),
                "ceiling_next": balance.balancedness_ceiling(nxt, hw.replicas, hw.gpus),
            }
            meta = {"shape": shape.name, "layers": shape.layers, "experts": shape.experts,
                    "groups": shape.groups, "hardware": hw.name, "replicas": hw.replicas, "gpus": hw.gpus,
                    "nodes": hw.nodes, "popularity": trace.spec.popularity, "drift": trace.spec.drift,
                    "window": i, "seed": list(trace.seed), "tokens": trace.tokens}
            out.append(Instance(id=f"{split}/{trace_key(trace)}-w{i}", args=args, meta=meta,
                                reference=oracle, reference_kind="oracle", private=private))
    return out


class Eplb(Problem):
    """MoE expert-parallel load balancing: replicate and place experts; scored on the next window."""

    name = "eplb"
    entry = "rebalance_experts"
    package_dir = HERE
    summary_metrics = ("score", "balancedness", "balance_vs_oracle", "runtime_ms")
    allowed_imports = ("numpy", "math", "heapq", "bisect", "itertools", "functools", "collections",
                       "operator", "random")

    def __init__(self, options: EplbOptions | None = None) -> None:
        self.options = options or EplbOptions()
        o = self.options
        self.harness = Harness(repeats=o.repeats, warmup=o.warmup, driver="driver.py", timeout_s=10.0,
                               split_timeout_s=60.0)
        self._instances: dict[str, list[Instance]] = {}

    def traces(self, split: str) -> list[Trace]:
        """The load traces of `split` (deterministic for the options' seed)."""
        seeds = {"quick": self.options.quick_seed, "train": self.options.train_seed,
                 "holdout": self.holdout_seed(self.options.holdout_seed)}
        if split not in seeds:
            raise ValueError(f"unknown split {split!r}; use quick, train or holdout")
        specs = SPLIT_TRACES[split]
        if split != "quick":
            specs = tuple(TraceSpec(s.shape, s.hardware, s.popularity, s.drift, self.options.windows)
                          for s in specs)
        return draw_split(seeds[split], specs)

    def instances(self, split: str) -> Sequence[Instance]:
        if split not in self._instances:
            self._instances[split] = make_instances(split, self.traces(split))
        return self._instances[split]

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        weight, replicas, _groups, nodes, gpus = instance.args
        layers, experts = weight.shape
        mapping = validate_mapping(output, layers, experts, replicas)
        nxt = instance.private["next"]
        p = instance.private
        return {
            "balancedness": balance.balancedness(balance.unit_loads(mapping.phy2log, nxt, gpus)),
            "node_balancedness": balance.balancedness(balance.unit_loads(mapping.phy2log, nxt, nodes)),
            "balancedness_same": balance.balancedness(balance.unit_loads(mapping.phy2log, weight, gpus)),
            "balancedness_oracle": float(p["balancedness_oracle"]),
            "balancedness_reference": float(p["balancedness_reference"]),
            "ceiling_same": float(p["ceiling_same"]),
            "ceiling_next": float(p["ceiling_next"]),
        }

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        """Split metrics and the score (higher is better).

        score = balance_vs_oracle + speed_credit, where
          balance_vs_oracle    = mean next-window GPU balancedness / mean hindsight-oracle balancedness;
          speed_credit         = speed_cap · speed · gate  (0 ≤ speed_credit ≤ speed_cap, default 0.05);
          speed                = clip(log10(SLOW_MS / t) / log10(SLOW_MS / FAST_MS), 0, 1), t = geometric
                                 mean over instances of the median call time in ms (100 ms → 0, 0.1 ms → 1);
          gate                 = clip((balance_vs_reference − 0.97) / (0.99 − 0.97), 0, 1), where
                                 balance_vs_reference = mean balancedness / mean balancedness of the
                                 reference hierarchical policy on the same instances.
        Speed adds at most `speed_cap`, so no speed-up outweighs a balance deficit larger than the cap;
        a mapping below 97 % of the reference policy's balance gets no speed credit at all, so it can never
        beat the reference however fast it is, and full credit needs 99 %. Invalid outputs never reach
        this function (the split is `invalid`, the program scores nothing).
        """
        if not metrics:
            raise InvalidOutput("no instance was scored")
        n = len(metrics)

        def mean(key: str) -> float:
            return sum(float(m[key]) for m in metrics) / n

        out = {k: mean(k) for k in ("balancedness", "node_balancedness", "balancedness_same",
                                    "balancedness_oracle", "balancedness_reference", "ceiling_same",
                                    "ceiling_next")}
        out["balance_vs_oracle"] = out["balancedness"] / out["balancedness_oracle"]
        out["balance_vs_reference"] = out["balancedness"] / out["balancedness_reference"]
        out["same_vs_ceiling"] = out["balancedness_same"] / out["ceiling_same"]
        gate = min(1.0, max(0.0, (out["balance_vs_reference"] - GATE_LOW) / (GATE_HIGH - GATE_LOW)))
        speed = 0.0
        if timings and all(x is not None and math.isfinite(x) for x in timings):
            t = math.exp(sum(math.log(max(float(x), 1e-3)) for x in timings) / len(timings))
            speed = min(1.0, max(0.0, math.log10(SLOW_MS / t) / math.log10(SLOW_MS / FAST_MS)))
            out["runtime_ms"] = t
        out["speed_credit"] = self.options.speed_cap * speed * gate
        out["score"] = out["balance_vs_oracle"] + out["speed_credit"]
        out["instances"] = float(n)
        return out

    def reference_score(self, split: str) -> float | None:
        """The hindsight oracle's balance, 1.0 by construction (it has no runtime, so no speed credit)."""
        return 1.0

    def feedback(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]]) -> str | None:
        """Per trace class (model shape, hardware, expert popularity), the next-window balance as a share of
        the hindsight oracle's, worst first, with the same-window balance as a share of its ceiling (what
        the placement itself leaves, apart from predicting the next window)."""
        groups: dict[str, list[Mapping[str, float]]] = {}
        for inst, m in zip(instances, metrics):
            meta = inst.meta
            key = f"{meta.get('shape')}/{meta.get('hardware')}/{meta.get('popularity')}"
            groups.setdefault(key, []).append(m)
        if len(groups) < 2:
            return None
        rows = []
        for key, ms in groups.items():
            vs_oracle = sum(m["balancedness"] for m in ms) / max(1e-12, sum(m["balancedness_oracle"] for m in ms))
            vs_ceiling = sum(m["balancedness_same"] for m in ms) / max(1e-12, sum(m["ceiling_same"] for m in ms))
            rows.append((vs_oracle, key, vs_ceiling))
        rows.sort()
        return ("next-window GPU balancedness as a share of the hindsight oracle's per trace class "
                "(model/hardware/expert popularity), worst first (same-window balancedness as a share of its "
                "ceiling): "
                + ", ".join(f"{key} {a:.3f} ({b:.3f})" for a, key, b in rows[:8]))

    def describe_metrics(self) -> dict[str, str]:
        return {
            "score": "balance_vs_oracle + speed_credit (higher is better; see description.md)",
            "balancedness": "next-window GPU balancedness Σ_l mean_gpu_load / Σ_l max_gpu_load (mean over instances)",
            "node_balancedness": "the same over nodes",
            "balancedness_same": "GPU balancedness of the mapping on the window it was computed from",
            "balancedness_oracle": "hindsight oracle: reference policies run on the next window itself",
            "balancedness_reference": "reference hierarchical policy (the seed's decisions) on the next window",
            "ceiling_same": "upper bound on same-window GPU balancedness (max GPU load >= max(W/G, t*))",
            "ceiling_next": "the same bound on the next window",
            "balance_vs_oracle": "balancedness / balancedness_oracle",
            "balance_vs_reference": "balancedness / balancedness_reference (gates the speed credit)",
            "same_vs_ceiling": "balancedness_same / ceiling_same",
            "runtime_ms": "geometric mean over instances of the median call time (ms, single thread)",
            "speed_credit": "speed_cap · speed · gate, at most speed_cap",
        }

