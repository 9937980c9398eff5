"""Baseline: vectorised global policy, Hamilton apportionment of replicas + serpentine GPU assignment.

Each expert keeps one replica; the R - E extra replicas are apportioned in proportion to load by the
largest-remainder (Hamilton) method. All replicas of a layer, sorted by load per replica, are dealt to
the GPUs in snake order (0..G-1, G-1..0, ...), so every GPU gets R / G of them. No Python loop over
layers or replicas.
"""

import numpy as np


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    w = np.asarray(weight, dtype=np.float64)
    L, E = w.shape
    R, G = num_replicas, num_gpus
    rows = np.arange(L)[:, None]
    extra = R - E
    total = w.sum(axis=1, keepdims=True)
    share = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / E)
    quota = extra * share
    base = np.floor(quota).astype(np.int64)
    left = extra - base.sum(axis=1, keepdims=True)
    by_remainder = np.argsort(base - quota, axis=1, kind="stable")  # largest remainder first
    rank = np.empty_like(by_remainder)
    rank[rows, by_remainder] = np.arange(E)
    logcnt = 1 + base + (rank < left)

    expert = np.repeat(np.tile(np.arange(E), L), logcnt.ravel()).reshape(L, R)
    first = np.cumsum(logcnt, axis=1) - logcnt
    replica = np.arange(R)[None, :] - first[rows, expert]
    load = w[rows, expert] / logcnt[rows, expert]
    order = np.argsort(-load, axis=1, kind="stable")

    j = np.arange(R)
    rnd, k = j // G, j % G
    gpu = np.where(rnd % 2 == 0, k, G - 1 - k)
    slot_of_rank = gpu * (R // G) + rnd
    slot = np.empty((L, R), dtype=np.int64)
    slot[rows, order] = slot_of_rank[None, :]

    phy2log = np.empty((L, R), dtype=np.int64)
    phy2log[rows, slot] = expert
    log2phy = np.full((L, E, int(logcnt.max())), -1, dtype=np.int64)
    log2phy[rows, expert, replica] = slot
    return phy2log, log2phy, logcnt
