"""Seed program for online bin packing: first fit (every open bin the item fits in gets the same priority,
so the first one opened wins; a new bin only when none fits).

The evaluator packs the items one at a time: `priority(item, bins)` receives the item's size and the
remaining capacities of the open bins it fits in (oldest first) followed by one empty bin, and returns
one priority per bin; the item goes to the bin with the highest priority (the first on ties).
"""

import numpy as np


# EVOLVE-BLOCK-START
def priority(item: float, bins: np.ndarray) -> np.ndarray:
    """Priority of putting `item` into each bin, given the bins' remaining capacities."""
    return np.zeros_like(bins, dtype=float)
# EVOLVE-BLOCK-END
