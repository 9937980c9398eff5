"""WSPT (Smith's rule): largest weight per unit of processing time first, w_j/p_j (ties by index).

Optimal when every job is late from the start; the weighted counterpart of SPT.
"""

import numpy as np


def schedule(p, d, w):
    p = np.asarray(p, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    return np.lexsort((np.arange(len(p)), p / w)).tolist()
