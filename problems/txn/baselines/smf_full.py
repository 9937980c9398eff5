"""SMF without sampling: always append the pending transaction that raises the makespan least
(ties: the lowest index). O(n² · length); each step is vectorised over all pending operations."""

import numpy as np


def schedule(txns):
    n = len(txns)
    lengths = np.array([len(t) for t in txns], dtype=np.int64)
    keys = np.array([key for t in txns for _, key in t], dtype=np.int64)
    writes = np.array([kind == "w" for t in txns for kind, _ in t], dtype=bool)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    pos = np.arange(keys.size) - np.repeat(offsets[:-1], lengths)
    n_keys = int(keys.max()) + 1 if keys.size else 0
    last_any = np.full(n_keys, -1, dtype=np.int64)
    last_write = np.full(n_keys, -1, dtype=np.int64)
    owner = np.repeat(np.arange(n), lengths)
    pending = np.ones(n, dtype=bool)
    makespan, order = 0, []
    for _ in range(n):
        ops = np.flatnonzero(pending[owner])
        ids = np.flatnonzero(pending)
        seg = np.concatenate([[0], np.cumsum(lengths[ids])[:-1]])
        k = keys[ops]
        ready = np.where(writes[ops], last_any[k], last_write[k]) + 1 - pos[ops]
        start = np.maximum(np.maximum.reduceat(ready, seg), 0)
        j = int(np.argmin(np.maximum(start + lengths[ids], makespan)))
        t, s = int(ids[j]), int(start[j])
        lo, hi = offsets[t], offsets[t + 1]
        steps = s + np.arange(hi - lo)
        np.maximum.at(last_any, keys[lo:hi], steps)
        w = writes[lo:hi]
        np.maximum.at(last_write, keys[lo:hi][w], steps[w])
        makespan = max(makespan, s + int(hi - lo))
        pending[t] = False
        order.append(t)
    return order
