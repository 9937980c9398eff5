"""Seed program for SMWTT: a dispatching rule that reproduces EDD (earliest due date first).

Whenever the machine becomes free at time t, the unscheduled job with the smallest priority value runs
next. Evolution changes `priority`; `schedule` is the entry point the evaluator calls.
"""

import math

import numpy as np


# EVOLVE-BLOCK-START
def priority(p, d, w, t):
    """Urgency of a job with processing time p, due date d and weight w when the machine is free at t.

    The job with the smallest value is dispatched next.
    """
    return d
# EVOLVE-BLOCK-END


def schedule(p, d, w):
    """Return a permutation of job indices 0..n-1 (the processing order)."""
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    w = [int(x) for x in w]
    remaining = list(range(len(p)))
    order = []
    t = 0
    while remaining:
        j = min(remaining, key=lambda k: (priority(p[k], d[k], w[k], t), k))
        remaining.remove(j)
        order.append(j)
        t += p[j]
    return order
