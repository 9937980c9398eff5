"""Baseline: the seed's replication and packing in global mode (groups and nodes ignored).

Every layer is one group on one node: replicas go to the experts with the largest load per replica,
then all replicas are packed onto all GPUs, heaviest first into the lightest GPU with room.
"""

import heapq

import numpy as np


def pack_balanced(loads, num_packs):
    """Split the items into `num_packs` packs of equal size: heaviest item first, each into the lightest
    pack that still has room (ties: lower pack index). Returns each pack's items in the order added."""
    per_pack = len(loads) // num_packs
    order = sorted(range(len(loads)), key=lambda i: -loads[i])
    heap = [(0.0, p) for p in range(num_packs)]
    packs = [[] for _ in range(num_packs)]
    for i in order:
        load, p = heapq.heappop(heap)
        packs[p].append(i)
        if len(packs[p]) < per_pack:
            heapq.heappush(heap, (load + loads[i], p))
    return packs


def replicate(loads, num_slots):
    """Replica counts (>= 1, summing to `num_slots`): each extra replica goes to the expert whose load per
    replica is currently the largest (ties: lower index)."""
    counts = [1] * len(loads)
    heap = [(-w, e) for e, w in enumerate(loads)]
    heapq.heapify(heap)
    for _ in range(num_slots - len(loads)):
        _, e = heapq.heappop(heap)
        counts[e] += 1
        heapq.heappush(heap, (-loads[e] / counts[e], e))
    return counts


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    """Map the logical experts of every layer onto `num_replicas` physical slots.

    weight: [layers, experts] recent load of each expert. Returns (phy2log [layers, num_replicas],
    log2phy [layers, experts, max(logcnt)] padded with -1, logcnt [layers, experts]).
    """
    num_layers, num_experts = weight.shape
    num_groups = num_nodes = 1  # global mode: one group on one node, whatever the layout
    group_size = num_experts // num_groups
    slots_per_node = num_replicas // num_nodes
    gpus_per_node = num_gpus // num_nodes
    slots_per_gpu = num_replicas // num_gpus
    phy2log = np.empty((num_layers, num_replicas), dtype=np.int64)
    log2phy = np.full((num_layers, num_experts, num_replicas - num_experts + 1), -1, dtype=np.int64)
    logcnt = np.zeros((num_layers, num_experts), dtype=np.int64)
    for layer, row in enumerate(weight.tolist()):
        group_loads = [sum(row[g * group_size:(g + 1) * group_size]) for g in range(num_groups)]
        for node, groups in enumerate(pack_balanced(group_loads, num_nodes)):
            experts = [g * group_size + k for g in groups for k in range(group_size)]
            loads = [row[e] for e in experts]
            counts = replicate(loads, slots_per_node)
            replicas = [(i, r) for i, c in enumerate(counts) for r in range(c)]
            replica_loads = [loads[i] / counts[i] for i, _ in replicas]
            for gpu, items in enumerate(pack_balanced(replica_loads, gpus_per_node)):
                first_slot = node * slots_per_node + gpu * slots_per_gpu
                for pos, j in enumerate(items):
                    i, r = replicas[j]
                    phy2log[layer, first_slot + pos] = experts[i]
                    log2phy[layer, experts[i], r] = first_slot + pos
            for i, c in enumerate(counts):
                logcnt[layer, experts[i]] = c
    return phy2log, log2phy[:, :, :logcnt.max()], logcnt
