"""Worst fit: the bin with the most room, a new bin only when it is the roomiest (it never is less)."""

import numpy as np


def priority(item, bins):
    scores = np.asarray(bins, dtype=float).copy()
    scores[-1] = -1.0  # the empty bin last: open one only when no bin fits
    return scores
