"""COVERT, cost over time (Carroll 1965; form of Vepsalainen & Morton 1987) with look-ahead k = 2.

When the machine is free at time t, run the job with the largest (w_j/p_j)·max(0, 1 − max(0, d_j − t − p_j)/(k·p_j)).
Jobs with no urgency yet (all zero) are taken by least slack d_j − p_j; remaining ties by lower index.
"""

import numpy as np

K = 2.0


def schedule(p, d, w):
    p = np.asarray(p, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n = len(p)
    remaining = np.ones(n, dtype=bool)
    index = np.arange(n)
    order = []
    t = 0.0
    for _ in range(n):
        slack = np.maximum(d - t - p, 0.0)
        priority = w * np.maximum(0.0, 1.0 - slack / (K * p)) / p
        left = index[remaining]
        j = int(left[np.lexsort((left, d[left] - p[left], -priority[left]))[0]])
        order.append(j)
        remaining[j] = False
        t += p[j]
    return order
