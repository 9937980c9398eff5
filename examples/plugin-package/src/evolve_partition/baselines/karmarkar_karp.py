"""Baseline: Karmarkar–Karp differencing (1982): replace the two largest numbers by their difference,
remembering that they go to opposite sides; then two-colour the tree of those decisions."""

import heapq


def partition(numbers):
    n = len(numbers)
    heap = [(-int(x), i) for i, x in enumerate(numbers)]
    heapq.heapify(heap)
    opposite = [[] for _ in range(n)]
    while len(heap) > 1:
        a, i = heapq.heappop(heap)
        b, j = heapq.heappop(heap)
        opposite[i].append(j)
        opposite[j].append(i)
        heapq.heappush(heap, (a - b, i))
    sides = [-1] * n
    for root in range(n):
        if sides[root] >= 0:
            continue
        sides[root] = 0
        stack = [root]
        while stack:
            u = stack.pop()
            for v in opposite[u]:
                if sides[v] < 0:
                    sides[v] = 1 - sides[u]
                    stack.append(v)
    return sides
