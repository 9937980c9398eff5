"""Each destination over its cheapest path ($/GB, Dijkstra), independently of the others."""

import heapq
import math


def broadcast(src, dsts, nodes, cost, throughput, num_partitions):
    n = len(nodes)
    index = {name: i for i, name in enumerate(nodes)}
    c, t = cost.tolist(), throughput.tolist()
    dist, prev = [math.inf] * n, [-1] * n
    dist[index[src]] = 0.0
    heap = [(0.0, index[src])]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v in range(n):
            if v != u and c[u][v] == c[u][v] and t[u][v] == t[u][v] and t[u][v] > 0 and d + c[u][v] < dist[v]:
                dist[v], prev[v] = d + c[u][v], u
                heapq.heappush(heap, (dist[v], v))
    out = {}
    for dst in dsts:
        path, v = [], index[dst]
        while v != -1:
            path.append(nodes[v])
            v = prev[v]
        out[dst] = [path[::-1] for _ in range(num_partitions)]
    return out
