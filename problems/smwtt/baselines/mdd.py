"""WMDD, weighted modified due date (Kanet & Li 2004): at time t run the job minimising max(p_j, d_j − t)/w_j.

With unit weights it is MDD (Baker & Bertrand 1982); ties go to the lower index.
"""

import numpy as np


def schedule(p, d, w):
    p = np.asarray(p, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    remaining = np.ones(len(p), dtype=bool)
    order = []
    t = 0.0
    for _ in range(len(p)):
        key = np.maximum(p, d - t) / w
        j = int(np.argmin(np.where(remaining, key, np.inf)))
        order.append(j)
        remaining[j] = False
        t += p[j]
    return order
