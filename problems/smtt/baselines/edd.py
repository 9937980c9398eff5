"""EDD: earliest due date first (ties by index)."""

import numpy as np


def schedule(p, d):
    return np.lexsort((np.arange(len(d)), np.asarray(d))).tolist()
