"""Child-side driver for EPLB: every call gets a fresh copy of the loads scaled by a different power of two.

The harness calls the candidate several times on the same instance (warm-up, then timed repeats). A
program that remembered its previous answer (keyed on the array's bytes or identity) would time the
lookup, not the algorithm. Scaling by 2**k is exact in floating point, so it changes neither the order
nor the ratios of the loads: any scale-invariant algorithm returns the same mapping, and the parent
validates and scores whatever comes back against the true loads. Executed in the sandbox child; numpy
only. This is a pre-filter against accidental memoisation, not a security boundary.
"""

import numpy as np

_calls = [0]


def drive(entry, weight, num_replicas, num_groups, num_nodes, num_gpus):
    k = _calls[0]
    _calls[0] = k + 1
    scaled = np.multiply(weight, 2.0 ** (k % 7 - 3))
    scaled.flags.writeable = False
    return entry(scaled, num_replicas, num_groups, num_nodes, num_gpus)
