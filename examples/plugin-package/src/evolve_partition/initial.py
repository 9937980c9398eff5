"""Seed program for number partitioning: the greedy rule.

`partition(numbers)` is the entry function. Numbers are taken in the order of `priority` (largest first)
and each goes to the side whose sum is currently smaller. Evolution changes the code between the
EVOLVE-BLOCK markers.
"""

import numpy as np


# EVOLVE-BLOCK-START
def priority(x, position, n):
    """The order in which numbers are placed: largest priority first (the seed: largest number first)."""
    return x
# EVOLVE-BLOCK-END


def partition(numbers):
    """Return n ints, one per number: the side (0 or 1) it goes to."""
    n = len(numbers)
    keys = np.array([priority(int(numbers[i]), i, n) for i in range(n)], dtype=float)
    sums = [0, 0]
    sides = [0] * n
    for i in np.argsort(-keys, kind="stable"):
        side = 0 if sums[0] <= sums[1] else 1
        sides[int(i)] = side
        sums[side] += int(numbers[i])
    return sides
