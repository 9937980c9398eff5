"""Baseline: load-unaware round robin. Slot s holds expert s mod E, so every expert gets R // E or
R // E + 1 replicas (the low-numbered experts get the extra ones) whatever its load."""

import numpy as np


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    L, E = weight.shape
    R = num_replicas
    slots = np.arange(R)
    phy2log = np.tile(slots % E, (L, 1))
    logcnt = np.tile(np.bincount(slots % E, minlength=E), (L, 1))
    log2phy = np.full((L, E, -(-R // E)), -1, dtype=np.int64)
    log2phy[:, slots % E, slots // E] = slots
    return phy2log, log2phy, logcnt
