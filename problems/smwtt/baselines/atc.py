"""ATC, apparent tardiness cost (Vepsalainen & Morton 1987) with look-ahead k = 2.

When the machine is free at time t, run the job with the largest (w_j/p_j)·exp(−max(d_j − p_j − t, 0)/(k·p̄)),
p̄ the mean processing time of the jobs still waiting (computed in logarithms; ties to the lower index).
"""

import numpy as np

K = 2.0


def schedule(p, d, w):
    p = np.asarray(p, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n = len(p)
    remaining = np.ones(n, dtype=bool)
    order = []
    t = 0.0
    for _ in range(n):
        pbar = p[remaining].mean()
        log_priority = np.log(w / p) - np.maximum(d - p - t, 0.0) / (K * pbar)
        j = int(np.argmax(np.where(remaining, log_priority, -np.inf)))
        order.append(j)
        remaining[j] = False
        t += p[j]
    return order
