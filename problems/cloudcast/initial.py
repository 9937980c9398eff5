"""Seed for cloudcast: every partition to every destination over the direct link (the leaderboard's
direct-path baseline), written as a shortest-path search whose weights evolution can change.

`broadcast(src, dsts, nodes, cost, throughput, num_partitions)` returns, per destination, one path of
region names (source first, destination last) for each data partition.
"""

import heapq
import math


# EVOLVE-BLOCK-START
HOP_PENALTY = 0.15  # $/GB added to every hop: above any single link's price, so every destination is reached directly
THROUGHPUT_WEIGHT = 0.0  # $/GB-equivalent per 1/Gbps, to prefer fast links


def edge_weight(cost, throughput):
    """How much a link costs to use in the search (lower is better)."""
    return cost + THROUGHPUT_WEIGHT / throughput + HOP_PENALTY


def broadcast(src, dsts, nodes, cost, throughput, num_partitions):
    n = len(nodes)
    index = {name: i for i, name in enumerate(nodes)}
    c, t = cost.tolist(), throughput.tolist()
    s = index[src]
    dist, prev = [math.inf] * n, [-1] * n
    dist[s] = 0.0
    heap = [(0.0, s)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v in range(n):
            if v == u or not (c[u][v] == c[u][v] and t[u][v] == t[u][v] and t[u][v] > 0):
                continue
            nd = d + edge_weight(c[u][v], t[u][v])
            if nd < dist[v]:
                dist[v], prev[v] = nd, u
                heapq.heappush(heap, (nd, v))
    paths = {}
    for dst in dsts:
        path, v = [], index[dst]
        while v != -1:
            path.append(nodes[v])
            v = prev[v]
        path.reverse()
        paths[dst] = [list(path) for _ in range(num_partitions)]
    return paths
# EVOLVE-BLOCK-END
