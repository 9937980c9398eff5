"""Seeded expert-load traces for EPLB: MoE shapes, hardware presets, skewed popularity and drift.

A trace is a sequence of windows; window w holds one float64 load matrix [layers, experts] (routed
token counts). Popularity per layer is Zipf- or lognormal-skewed, with a shared factor per expert
group (group-limited routing makes whole groups hot), and drifts between windows either gradually
(a random walk of log-popularity) or suddenly (at one window a share of the experts swap popularity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shape:
    """A MoE model's routed-expert layout."""

    name: str
    layers: int
    experts: int
    groups: int


@dataclass(frozen=True)
class Hardware:
    """A deployment: physical expert slots, GPUs and nodes (GPUs are grouped into nodes in order)."""

    name: str
    replicas: int
    gpus: int
    nodes: int


SHAPES = {s.name: s for s in (
    Shape("dsv3", 58, 256, 8),     # DeepSeek-V3: 256 routed experts in 8 groups, 58 MoE layers
    Shape("dsv2", 59, 160, 8),     # DeepSeek-V2: 160 routed experts, 59 MoE layers
    Shape("e128", 48, 128, 1),     # a 128-expert model without groups (global policy)
    Shape("e96", 32, 96, 1),
    Shape("e64", 26, 64, 8),       # a 64-expert model (DeepSeek-V2-Lite sized), 8 groups
    Shape("e32", 12, 32, 4),       # a small model for the quick split
)}

HARDWARE = {h.name: h for h in (
    Hardware("h288", 288, 32, 4),  # 288 slots on 32 GPUs in 4 nodes (the ADRS / DeepSeek setting)
    Hardware("h320", 320, 64, 8),  # 320 slots on 64 GPUs in 8 nodes
    Hardware("h48", 48, 8, 2),     # a small deployment for the quick split
)}

POPULARITY = ("zipf", "lognormal")
DRIFT = ("gradual", "sudden")


@dataclass(frozen=True)
class TraceSpec:
    """How to draw one trace."""

    shape: str
    hardware: str
    popularity: str
    drift: str
    windows: int = 3

    def check(self) -> None:
        shape, hw = SHAPES[self.shape], HARDWARE[self.hardware]
        if shape.experts % shape.groups or hw.replicas % hw.gpus or hw.gpus % hw.nodes:
            raise ValueError(f"{self}: experts must divide into groups, slots into GPUs, GPUs into nodes")
        if hw.replicas < shape.experts or hw.replicas % hw.nodes:
            raise ValueError(f"{self}: needs at least one slot per expert and slots divisible by nodes")
        if self.popularity not in POPULARITY or self.drift not in DRIFT or self.windows < 2:
            raise ValueError(f"{self}: popularity in {POPULARITY}, drift in {DRIFT}, windows >= 2")


@dataclass(frozen=True)
class Trace:
    """A drawn trace: `loads[w]` is the [layers, experts] load matrix of window w."""

    spec: TraceSpec
    seed: tuple[int, ...]
    loads: tuple[np.ndarray, ...]
    tokens: int

    @property
    def shape(self) -> Shape:
        return SHAPES[self.spec.shape]

    @property
    def hardware(self) -> Hardware:
        return HARDWARE[self.spec.hardware]


def _base_log_popularity(rng: np.random.Generator, shape: Shape, popularity: str) -> np.ndarray:
    """Log-popularity [layers, experts]: a skewed profile per layer plus a per-group factor."""
    L, E = shape.layers, shape.experts
    if popularity == "zipf":
        s = rng.uniform(0.2, 0.6, size=(L, 1))
        ranks = np.argsort(rng.random((L, E)), axis=1) + 1.0
        logp = -s * np.log(ranks)
    else:
        sigma = rng.uniform(0.3, 0.7, size=(L, 1))
        logp = sigma * rng.standard_normal((L, E))
    if shape.groups > 1:
        group = rng.normal(0.0, 0.1, size=(L, shape.groups))
        logp = logp + np.repeat(group, E // shape.groups, axis=1)
    return logp


def _drift(rng: np.random.Generator, logp: np.ndarray, drift: str, window: int, change_at: int) -> np.ndarray:
    """Log-popularity of the next window."""
    out = logp + rng.normal(0.0, 0.08 if drift == "sudden" else 0.2, size=logp.shape)
    if drift == "sudden" and window == change_at:
        L, E = logp.shape
        k = max(2, round(E * float(rng.uniform(0.25, 0.5))))
        for layer in range(L):
            chosen = rng.choice(E, size=k, replace=False)
            out[layer, chosen] = out[layer, rng.permutation(chosen)]
    return out


def draw_trace(spec: TraceSpec, seed: Sequence[int]) -> Trace:
    """Draw one trace deterministically from `seed` (an integer sequence, e.g. (split_seed, index))."""
    spec.check()
    rng = np.random.default_rng(list(seed))
    shape = SHAPES[spec.shape]
    tokens = int(rng.integers(1 << 15, 1 << 17)) * 8  # tokens per window times top-8 routing
    logp = _base_log_popularity(rng, shape, spec.popularity)
    change_at = int(rng.integers(1, spec.windows))
    loads = []
    for window in range(spec.windows):
        if window:
            logp = _drift(rng, logp, spec.drift, window, change_at)
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        load = rng.poisson(p * tokens).astype(np.float64)
        load.flags.writeable = False
        loads.append(load)
    return Trace(spec, tuple(int(s) for s in seed), tuple(loads), tokens)


def draw_split(seed: int, specs: Sequence[TraceSpec]) -> list[Trace]:
    """The traces of one split: trace k is drawn from (seed, k)."""
    return [draw_trace(spec, (seed, k)) for k, spec in enumerate(specs)]
