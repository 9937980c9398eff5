"""Child-side driver for EPLB: warm-up calls see decoy loads, and every call gets freshly scaled bytes.

The sandbox hands the candidate an instance's loads only when the instance is due (never a later
window ahead of time), and the harness warms up through `decoy`: loads of the same shape drawn from the
operating system's randomness, which tell nothing about the instance. So the one timed call of an
instance (EPLB's harness makes one after its warm-up) is the first call that sees its loads: no cache of
earlier calls can answer it, however it is keyed. With more timed repeats (`repeats` > 1), every call
still gets the loads scaled by a different power of two (exact in floating point: scale-invariant
algorithms return the same mapping), so a cache keyed on the bytes misses, but one that undoes the
scale could answer the later repeats. Executed in the sandbox child; numpy only.
"""

import os

import numpy as np

_calls = [0]


def decoy(weight, num_replicas, num_groups, num_nodes, num_gpus):
    """Arguments for a warm-up call: unrelated loads of the instance's shape and overall scale."""
    rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
    loads = rng.lognormal(0.0, 1.0, weight.shape) * float(np.mean(weight))
    loads.flags.writeable = False
    return loads, num_replicas, num_groups, num_nodes, num_gpus


def drive(entry, weight, num_replicas, num_groups, num_nodes, num_gpus):
    k = _calls[0]
    _calls[0] = k + 1
    scaled = np.multiply(weight, 2.0 ** (k % 7 - 3))
    scaled.flags.writeable = False
    return entry(scaled, num_replicas, num_groups, num_nodes, num_gpus)
