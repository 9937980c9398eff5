"""Child-side driver of online bin packing: packs the items one by one with the candidate's `priority`.

Executed inside the sandbox child with the candidate, so the parent trusts nothing it returns: it checks
the assignment (bins opened in order, no bin over capacity) and counts the bins itself. The driver is what
makes the problem online: `priority` only ever sees the current item and the bins it fits in, never the
items still to come. numpy only.

Each step hands `priority(item, bins)` the remaining capacities of the open bins the item fits in (in the
order they were opened) followed by one empty bin (`capacity`); the item goes to the bin with the highest
priority (the first on ties). A number instead of an array is the same priority for every bin.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def drive(priority: Any, items: Any, capacity: int) -> dict[str, Any]:
    """Return {"bins": the bin of each item, "error": None or why the episode stopped}."""
    remaining = np.zeros(len(items), dtype=np.int64)
    opened = 0
    assignment: list[int] = []
    for step, item in enumerate(int(x) for x in items):
        fits = np.flatnonzero(remaining[:opened] >= item)
        bins = np.append(remaining[fits], capacity)
        bins.flags.writeable = False
        out = priority(item, bins)
        try:
            scores = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            return {"bins": assignment, "error": f"item {step}: priority returned {type(out).__name__}, not "
                    f"numbers ({exc})"[:300]}
        if scores.ndim == 0:
            scores = np.broadcast_to(scores, bins.shape)
        if scores.shape != bins.shape:
            return {"bins": assignment, "error": f"item {step}: priority returned shape {scores.shape} for "
                    f"{bins.size} bins; return one number per bin"}
        if np.isnan(scores).any():
            return {"bins": assignment, "error": f"item {step}: priority returned NaN"}
        choice = int(np.argmax(scores))
        if choice == fits.size:
            b = opened
            remaining[b] = capacity
            opened += 1
        else:
            b = int(fits[choice])
        remaining[b] -= item
        assignment.append(b)
    return {"bins": assignment, "error": None}
