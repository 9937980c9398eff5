"""SPT: shortest processing time first (ties by index)."""

import numpy as np


def schedule(p, d):
    return np.lexsort((np.arange(len(p)), np.asarray(p))).tolist()
