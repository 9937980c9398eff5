"""Trusted arithmetic for SMTT: total tardiness of a sequence, validation, and reference schedules."""

from __future__ import annotations

from typing import Any

import numpy as np

from evolve.problem import InvalidOutput
from problems.smtt.search import descent


def total_tardiness(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray | None = None) -> int:
    """Σ w_j·max(0, C_j − d_j) of the jobs processed in `order` (w defaults to 1)."""
    completion = np.cumsum(p[order])
    late = np.maximum(completion - d[order], 0)
    if w is not None:
        late = late * w[order]
    return int(late.sum())


def validate_permutation(output: Any, n: int) -> np.ndarray:
    """Return `output` as an int64 array if it is a permutation of 0..n-1 of integers, else raise."""
    if isinstance(output, np.ndarray):
        if output.ndim != 1:
            raise InvalidOutput(f"expected a 1-D sequence of job indices, got an array of shape {output.shape}")
        if output.dtype.kind not in "iu":
            raise InvalidOutput(f"job indices must be integers, got dtype {output.dtype}")
        arr = output.astype(np.int64, copy=False)
        if output.dtype.kind == "u" and output.size and int(output.max()) >= 2**63:
            raise InvalidOutput("job index out of range")
    elif isinstance(output, (list, tuple)):
        bad = next((x for x in output if type(x) is not int), None)
        if bad is not None or any(type(x) is not int for x in output):
            raise InvalidOutput(f"job indices must be integers, found {type(bad).__name__} {bad!r:.40}")
        if any(x < 0 or x >= n for x in output):
            raise InvalidOutput(f"every job index must lie in 0..{n - 1}")
        arr = np.array(output, dtype=np.int64)
    else:
        raise InvalidOutput(f"expected a list or 1-D integer numpy array of job indices, got {type(output).__name__}")
    if arr.shape[0] != n:
        raise InvalidOutput(f"expected {n} job indices, got {arr.shape[0]}")
    if n and (arr.min() < 0 or arr.max() >= n):
        raise InvalidOutput(f"every job index must lie in 0..{n - 1}")
    if np.unique(arr).size != n:
        counts = np.bincount(arr, minlength=n)
        raise InvalidOutput(f"not a permutation: job {int(np.argmax(counts))} appears {int(counts.max())} "
                            f"times and job {int(np.argmin(counts))} is missing")
    return arr


def edd(p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Earliest due date first (ties by index)."""
    return np.lexsort((np.arange(len(p)), d))


def spt(p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Shortest processing time first (ties by index)."""
    return np.lexsort((np.arange(len(p)), p))


def mdd(p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Modified due date (Baker & Bertrand 1982): at time t run the job minimising max(d_j, t + p_j)."""
    n = len(p)
    remaining = np.ones(n, dtype=bool)
    order = np.empty(n, dtype=np.int64)
    t = 0
    for k in range(n):
        key = np.where(remaining, np.maximum(d, t + p), np.iinfo(np.int64).max)
        j = int(np.argmin(key))
        order[k] = j
        remaining[j] = False
        t += int(p[j])
    return order


def local_search(order: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray | None = None,
                 max_passes: int = 50) -> np.ndarray:
    """Descent with adjacent interchanges and insertions until neither helps (see search.descent)."""
    return descent(order, p, d, w, max_passes=max_passes)
