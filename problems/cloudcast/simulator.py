"""The broadcast cost model of `cloudcast`: the ADRS leaderboard's simulator, recomputed in the parent.

A candidate returns, for every destination and every data partition, a path of regions from the source.
The parent validates the paths against its own graph and prices them with the graph's own edge data (the
leaderboard's simulator took cost and throughput from the edge triples the candidate handed back, so a
program could claim free links). The rules are the leaderboard's:

- the overlay is the union of the paths' edges; an edge carries each partition that uses it once, however
  many destinations share it (that is what a broadcast tree saves);
- every edge starts at its profiled throughput; then, node by node in order of first appearance, when the
  flows into (out of) a node exceed its provider's ingress (egress) limit, each incoming (outgoing) edge
  is capped at limit / number of incoming (outgoing) edges;
- a destination's transfer time is the largest, over its partitions' edges, of
  partitions-on-edge × partition size × 8 / flow; the transfer time is the largest over destinations;
- cost = Σ_edges partitions-on-edge × partition size × $/GB + regions used × VMs per region ×
  $0.54/h × transfer time (rounded to 0.01 s, as the leaderboard rounds it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from evolve.problem import InvalidOutput

#: $/hour of one relay VM (m5.8xlarge spot, the leaderboard's figure)
VM_PRICE_PER_HOUR = 0.54
#: per-provider limits in Gbps when a configuration sets none (the leaderboard's defaults, not per VM)
DEFAULT_INGRESS = {"aws": 10.0, "gcp": 16.0, "azure": 16.0}
DEFAULT_EGRESS = {"aws": 5.0, "gcp": 7.0, "azure": 16.0}


@dataclass(frozen=True)
class Network:
    """Regions ("provider:region") and the profiled links: cost $/GB and throughput Gbps (NaN: no link)."""

    nodes: tuple[str, ...]
    cost: np.ndarray
    throughput: np.ndarray

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.nodes)}

    def has_link(self, u: int, v: int) -> bool:
        c, t = self.cost[u, v], self.throughput[u, v]
        return u != v and math.isfinite(c) and math.isfinite(t) and t > 0


@dataclass(frozen=True)
class Transfer:
    """One broadcast to price: source, destinations, data volume (GB), partitions, VMs, limits."""

    name: str
    src: str
    dsts: tuple[str, ...]
    data_vol: float
    num_partitions: int
    num_vms: int = 2
    ingress: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_INGRESS))
    egress: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EGRESS))


def validate(output: Any, net: Network, t: Transfer) -> dict[str, list[list[int]]]:
    """The candidate's paths as node indices, or InvalidOutput naming what is wrong."""
    if not isinstance(output, dict):
        raise InvalidOutput(f"return a dict {{destination: [path per partition]}}, got {type(output).__name__}")
    keys = set(output)
    if keys != set(t.dsts):
        missing, extra = sorted(set(t.dsts) - keys, key=str), sorted(keys - set(t.dsts), key=str)
        raise InvalidOutput(f"the dict's keys must be exactly the destinations; missing {missing[:5]}, "
                            f"unexpected {[str(k)[:40] for k in extra[:5]]}")
    index = net.index()
    out: dict[str, list[list[int]]] = {}
    for dst in t.dsts:
        paths = output[dst]
        if not isinstance(paths, list) or len(paths) != t.num_partitions:
            raise InvalidOutput(f"{dst}: give a list of exactly {t.num_partitions} paths (one per partition), got "
                                f"{type(paths).__name__} of length {len(paths) if isinstance(paths, list) else '-'}")
        checked = []
        for p, path in enumerate(paths):
            if not isinstance(path, list) or not 2 <= len(path) <= len(net.nodes):
                raise InvalidOutput(f"{dst} partition {p}: a path is a list of 2 to {len(net.nodes)} region names")
            bad = next((n for n in path if not isinstance(n, str) or n not in index), None)
            if bad is not None:
                raise InvalidOutput(f"{dst} partition {p}: {bad!r:.40} is not a region of the graph")
            if path[0] != t.src or path[-1] != dst:
                raise InvalidOutput(f"{dst} partition {p}: the path must start at {t.src} and end at {dst}")
            if len(set(path)) != len(path):
                raise InvalidOutput(f"{dst} partition {p}: the path visits a region twice")
            ids = [index[n] for n in path]
            for u, v in pairwise(ids):
                if not net.has_link(u, v):
                    raise InvalidOutput(f"{dst} partition {p}: there is no link {net.nodes[u]} -> {net.nodes[v]}")
            checked.append(ids)
        out[dst] = checked
    return out


def evaluate(paths: Mapping[str, Sequence[Sequence[int]]], net: Network, t: Transfer) -> tuple[float, float, float]:
    """(transfer time s, egress $, instance $) of validated paths, by the leaderboard's rules."""
    parts: dict[tuple[int, int], set[int]] = {}
    order: dict[int, None] = {}
    for dst in t.dsts:
        for p, path in enumerate(paths[dst]):
            for u, v in pairwise(path):
                if (u, v) not in parts:
                    parts[(u, v)] = set()
                    order.setdefault(u)
                    order.setdefault(v)
                parts[(u, v)].add(p)
    flow = {e: float(net.throughput[e]) for e in parts}
    ins: dict[int, list[tuple[int, int]]] = {}
    outs: dict[int, list[tuple[int, int]]] = {}
    for e in parts:
        outs.setdefault(e[0], []).append(e)
        ins.setdefault(e[1], []).append(e)
    for node in order:
        provider = net.nodes[node].split(":", 1)[0]
        for edges, limits in ((ins.get(node, []), t.ingress), (outs.get(node, []), t.egress)):
            limit = limits.get(provider, math.inf)
            if edges and sum(flow[e] for e in edges) > limit:
                share = limit / len(edges)
                for e in edges:
                    flow[e] = min(flow[e], share)
    part_vol = t.data_vol / t.num_partitions
    slowest = 0.0
    for dst in t.dsts:
        for path in paths[dst]:
            for e in pairwise(path):
                slowest = max(slowest, len(parts[e]) * part_vol * 8.0 / flow[e])
    egress = sum(len(p) * part_vol * float(net.cost[e]) for e, p in parts.items())
    instances = len(order) * t.num_vms * VM_PRICE_PER_HOUR / 3600.0 * round(slowest, 2)
    return slowest, egress, instances
