"""Seed program for offline transaction scheduling: sampled SMF (Shortest Makespan First).

Starting from an empty schedule, repeatedly look at 5 randomly sampled unscheduled transactions and
append the one whose ASAP placement raises the makespan least (seeded, so the result is reproducible).
`schedule` is the entry point the evaluator calls.
"""

import random


# EVOLVE-BLOCK-START
SAMPLE_SIZE = 5


def placement(txn, last_write, last_any):
    """ASAP start step of `txn` appended after the current schedule, given per-key last steps."""
    start = 0
    for q, (kind, key) in enumerate(txn):
        ready = (last_any.get(key, -1) if kind == "w" else last_write.get(key, -1)) + 1 - q
        if ready > start:
            start = ready
    return start


def schedule(txns):
    """Return a permutation of 0..n-1: the order in which the transactions are appended."""
    rng = random.Random(0)
    pending = list(range(len(txns)))
    last_write, last_any = {}, {}
    order, makespan = [], 0
    while pending:
        sample = rng.sample(pending, min(SAMPLE_SIZE, len(pending)))
        best = min(sample, key=lambda t: max(makespan, placement(txns[t], last_write, last_any) + len(txns[t])))
        start = placement(txns[best], last_write, last_any)
        for q, (kind, key) in enumerate(txns[best]):
            step = start + q
            if step > last_any.get(key, -1):
                last_any[key] = step
            if kind == "w":
                last_write[key] = step
        makespan = max(makespan, start + len(txns[best]))
        order.append(best)
        pending.remove(best)
    return order
# EVOLVE-BLOCK-END
