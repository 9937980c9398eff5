"""WMDD followed by local search: adjacent interchanges and insertions until neither improves.

All insertion moves of one job are evaluated at once: moving it forward lets the jobs it passes finish
p_j earlier, moving it backward makes them finish p_j later (cumulative sums, O(n) per job).
"""

import numpy as np


def _wmdd(p, d, w):
    remaining = np.ones(len(p), dtype=bool)
    order = np.empty(len(p), dtype=np.int64)
    t = 0
    for k in range(len(p)):
        j = int(np.argmin(np.where(remaining, np.maximum(p, d - t) / w, np.inf)))
        order[k] = j
        remaining[j] = False
        t += int(p[j])
    return order


def _adjacent(order, p, d, w):
    changed = False
    while True:
        ps, ds, ws = p[order], d[order], w[order]
        comp = np.cumsum(ps)
        old = ws[:-1] * np.maximum(comp[:-1] - ds[:-1], 0) + ws[1:] * np.maximum(comp[1:] - ds[1:], 0)
        new = (ws[1:] * np.maximum(comp[:-1] - ps[:-1] + ps[1:] - ds[1:], 0)
               + ws[:-1] * np.maximum(comp[1:] - ds[:-1], 0))
        hits = np.flatnonzero(new < old)
        if hits.size == 0:
            return changed
        last = -2
        for m in hits:
            if m > last + 1:
                order[m], order[m + 1] = order[m + 1], order[m]
                last = m
        changed = True


def _insertions(order, p, d, w):
    changed = False
    n = len(order)
    for job in order.copy():
        pos = int(np.flatnonzero(order == job)[0])
        ps, ds, ws = p[order], d[order], w[order]
        comp = np.cumsum(ps)
        late = ws * np.maximum(comp - ds, 0)
        pj, dj, wj = int(p[job]), int(d[job]), int(w[job])
        best, target = 0, pos
        if pos + 1 < n:
            c = comp[pos + 1:]
            gain = np.cumsum(ws[pos + 1:] * np.maximum(c - pj - ds[pos + 1:], 0) - late[pos + 1:])
            delta = gain + wj * np.maximum(c - dj, 0) - late[pos]
            m = int(np.argmin(delta))
            if delta[m] < best:
                best, target = int(delta[m]), pos + 1 + m
        if pos > 0:
            c = comp[:pos]
            loss = ws[:pos] * np.maximum(c + pj - ds[:pos], 0) - late[:pos]
            before = np.concatenate(([0], comp[:pos - 1]))
            delta = np.cumsum(loss[::-1])[::-1] + wj * np.maximum(before + pj - dj, 0) - late[pos]
            m = int(np.argmin(delta))
            if delta[m] < best:
                best, target = int(delta[m]), m
        if target > pos:
            order[pos:target] = order[pos + 1:target + 1].copy()
            order[target] = job
            changed = True
        elif target < pos:
            order[target + 1:pos + 1] = order[target:pos].copy()
            order[target] = job
            changed = True
    return changed


def schedule(p, d, w):
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    order = _wmdd(p, d, w)
    if len(order) < 2:
        return order.tolist()
    for _ in range(100):
        swapped = _adjacent(order, p, d, w)
        moved = _insertions(order, p, d, w)
        if not (swapped or moved):
            break
    return order.tolist()
