"""PSK (Panwalkar, Smith & Koulamas 1993): SPT order with due-date look-ahead.

Jobs wait in SPT order (ties by EDD). The first waiting job is the active one. If it would be late even
started now, it runs. Otherwise it is compared with the following jobs in turn: if it would become late
behind the next one, or that one is due no earlier, the active job keeps its place (it runs once every
later job has been compared); if the next one is due earlier, that one becomes the active job.
"""

import numpy as np


def schedule(p, d):
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    waiting = sorted(range(len(p)), key=lambda j: (p[j], d[j], j))
    order = []
    t = 0
    while waiting:
        active = 0
        if t + p[waiting[0]] < d[waiting[0]]:
            for nxt in range(1, len(waiting)):
                i, j = waiting[active], waiting[nxt]
                if d[i] <= t + p[j]:
                    break  # the active job would be late behind j: run it now
                if d[j] < d[i]:
                    active = nxt  # j is due earlier: it becomes the active job
        job = waiting.pop(active)
        order.append(job)
        t += p[job]
    return order
