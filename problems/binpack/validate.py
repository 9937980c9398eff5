"""Trusted check of a packing claimed by the driver: bins opened in order, none over capacity."""

from __future__ import annotations

from typing import Any

import numpy as np

from evolve.problem import InvalidOutput

_NONE = object()


def validate_packing(output: Any, items: np.ndarray, capacity: int) -> int:
    """The number of bins the claimed packing uses; raise InvalidOutput when it is malformed or infeasible."""
    if not isinstance(output, dict) or set(output) != {"bins", "error"}:
        raise InvalidOutput("the driver's output must be {'bins': [...], 'error': None}; got "
                            f"{type(output).__name__} {output!r:.80}")
    error, bins = output["error"], output["bins"]
    if error is not None:
        if not isinstance(error, str):
            raise InvalidOutput(f"malformed episode error {error!r:.80}")
        raise InvalidOutput(f"the episode was stopped: {error[:300]}")
    if not isinstance(bins, list):
        raise InvalidOutput(f"bins must be a list of bin indices, got {type(bins).__name__}")
    bad = next((b for b in bins if type(b) is not int), _NONE)
    if bad is not _NONE:
        raise InvalidOutput(f"bins must be bin indices (ints), found {type(bad).__name__} {bad!r:.40}")
    if len(bins) != len(items):
        raise InvalidOutput(f"the packing places {len(bins)} items; the instance has {len(items)}")
    loads: list[int] = []
    for step, (b, size) in enumerate(zip(bins, items.tolist())):
        if b == len(loads):
            loads.append(0)
        elif not 0 <= b < len(loads):
            raise InvalidOutput(f"item {step} goes to bin {b}, but only bins 0..{len(loads)} exist at that point "
                                "(a new bin gets the next index)")
        loads[b] += size
        if loads[b] > capacity:
            raise InvalidOutput(f"item {step} (size {size}) overfills bin {b}: {loads[b]} > capacity {capacity}")
    return len(loads)
