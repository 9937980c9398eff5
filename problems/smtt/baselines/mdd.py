"""MDD (Baker & Bertrand 1982): at time t dispatch the job minimising max(d_j, t + p_j)."""

import numpy as np


def schedule(p, d):
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    remaining = np.ones(len(p), dtype=bool)
    big = np.iinfo(np.int64).max
    order = []
    t = 0
    for _ in range(len(p)):
        j = int(np.argmin(np.where(remaining, np.maximum(d, t + p), big)))
        order.append(j)
        remaining[j] = False
        t += int(p[j])
    return order
