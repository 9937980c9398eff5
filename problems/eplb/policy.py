"""The trusted reference policy (hierarchical EPLB, vectorised over layers) for oracles and references.

It makes the same decisions as the seed program (initial.py), with the same tie-breaking, but batches
all layers (and nodes) in numpy. The parent runs it to compute the reference and hindsight-oracle
balancedness of every instance; candidates never see it.

Policy: pack expert groups onto nodes (balanced, equal group count per node), replicate inside each node
by giving each extra replica to the expert with the largest load per replica, then pack each node's
replicas onto its GPUs (balanced, equal replica count per GPU). When the groups do not divide evenly
into nodes, the same steps run with one group and one node (the global policy).
"""

from __future__ import annotations

import numpy as np


def balanced_packing(loads: np.ndarray, packs: int) -> tuple[np.ndarray, np.ndarray]:
    """Assign each row's items to `packs` packs of equal cardinality, heaviest item first, each to the
    lightest pack that still has room (ties: lowest pack index). Returns (pack, rank in pack) [B, n]."""
    B, n = loads.shape
    per_pack = n // packs
    order = np.argsort(-loads, axis=1, kind="stable")
    rows = np.arange(B)
    pack_load = np.zeros((B, packs))
    pack_count = np.zeros((B, packs), dtype=np.int64)
    pack = np.empty((B, n), dtype=np.int64)
    rank = np.empty((B, n), dtype=np.int64)
    for j in range(n):
        item = order[:, j]
        p = np.argmin(np.where(pack_count < per_pack, pack_load, np.inf), axis=1)
        pack[rows, item] = p
        rank[rows, item] = pack_count[rows, p]
        pack_load[rows, p] += loads[rows, item]
        pack_count[rows, p] += 1
    return pack, rank


def replicate(loads: np.ndarray, total: int) -> np.ndarray:
    """Replica counts [B, n] summing to `total` per row: one each, then each extra replica to the item
    with the largest load per replica (ties: lowest index)."""
    B, n = loads.shape
    counts = np.ones((B, n), dtype=np.int64)
    rows = np.arange(B)
    for _ in range(total - n):
        counts[rows, np.argmax(loads / counts, axis=1)] += 1
    return counts


def rebalance(weight: np.ndarray, num_replicas: int, num_groups: int, num_nodes: int,
              num_gpus: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(phy2log, log2phy, logcnt): hierarchical when groups divide into nodes, else global."""
    if num_groups % num_nodes:
        num_groups, num_nodes = 1, 1
    return hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus)


def hierarchical(weight: np.ndarray, num_replicas: int, num_groups: int, num_nodes: int,
                 num_gpus: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hierarchical policy for the given group/node/GPU layout."""
    w = np.asarray(weight, dtype=np.float64)
    L, E = w.shape
    R, N = num_replicas, num_nodes
    group_size, slots_per_node = E // num_groups, R // N
    experts_per_node, gpus_per_node, slots_per_gpu = E // N, num_gpus // N, R // num_gpus

    # 1. groups -> nodes; node n lists its groups in the order they were packed
    group_node, group_rank = balanced_packing(w.reshape(L, num_groups, group_size).sum(axis=2), N)
    local = group_rank[:, :, None] * group_size + np.arange(group_size)  # [L, groups, group_size]
    node_experts = np.empty((L, N, experts_per_node), dtype=np.int64)
    layer = np.arange(L)[:, None, None]
    node_experts[layer, group_node[:, :, None], local] = np.arange(E).reshape(num_groups, group_size)
    node_w = w[layer, node_experts].reshape(L * N, experts_per_node)

    # 2. replicas inside each node
    counts = replicate(node_w, slots_per_node)
    B = L * N
    item_expert = np.repeat(np.tile(np.arange(experts_per_node), B), counts.ravel()).reshape(B, slots_per_node)
    rows = np.arange(B)[:, None]
    item_count = counts[rows, item_expert]
    item_load = node_w[rows, item_expert] / item_count
    first = np.cumsum(counts, axis=1) - counts
    item_replica = np.arange(slots_per_node)[None, :] - first[rows, item_expert]

    # 3. replicas -> GPUs of the node
    gpu, pos = balanced_packing(item_load, gpus_per_node)
    node = np.repeat(np.arange(N)[None, :], L, axis=0).reshape(B, 1)
    slot = (node * slots_per_node + gpu * slots_per_gpu + pos).reshape(L, R)
    expert = node_experts.reshape(B, experts_per_node)[rows, item_expert].reshape(L, R)

    phy2log = np.empty((L, R), dtype=np.int64)
    phy2log[np.arange(L)[:, None], slot] = expert
    log2phy = np.full((L, E, R - E + 1), -1, dtype=np.int64)
    log2phy[np.arange(L)[:, None], expert, item_replica.reshape(L, R)] = slot
    logcnt = np.empty((L, E), dtype=np.int64)
    logcnt[layer[:, :, 0], node_experts.reshape(L, E)] = counts.reshape(L, E)
    return phy2log, log2phy[:, :, :logcnt.max()], logcnt
