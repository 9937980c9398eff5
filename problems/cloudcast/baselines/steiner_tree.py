"""A greedy Steiner tree on egress price: repeatedly attach the destination that is cheapest to reach
from the tree built so far (links already in the tree are free), every partition along the tree. The
idea behind the best published cloudcast programs; it is also the plugin's 100-point reference."""

import heapq
import math


def broadcast(src, dsts, nodes, cost, throughput, num_partitions):
    n = len(nodes)
    index = {name: i for i, name in enumerate(nodes)}
    c, t = cost.tolist(), throughput.tolist()
    tree = {index[src]: [index[src]]}  # node -> path from the source inside the tree
    left = [index[d] for d in dsts]
    while left:
        dist, prev = [math.inf] * n, [-1] * n
        heap = []
        for u in tree:
            dist[u] = 0.0
            heap.append((0.0, u))
        heapq.heapify(heap)
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist[u]:
                continue
            for v in range(n):
                if v != u and c[u][v] == c[u][v] and t[u][v] == t[u][v] and t[u][v] > 0 and d + c[u][v] < dist[v]:
                    dist[v], prev[v] = d + c[u][v], u
                    heapq.heappush(heap, (dist[v], v))
        best = min(left, key=lambda x: (dist[x], x))
        chain, v = [], best
        while v not in tree:
            chain.append(v)
            v = prev[v]
        base = tree[v]
        for node in reversed(chain):
            base = base + [node]
            tree[node] = base
        left = [x for x in left if x not in tree]
    return {dst: [[nodes[i] for i in tree[index[dst]]] for _ in range(num_partitions)] for dst in dsts}
