"""Validation of a candidate's transaction order before anything is computed from it."""

from __future__ import annotations

from typing import Any

import numpy as np

from evolve.problem import InvalidOutput

_NONE = object()


def validate_order(output: Any, n: int) -> list[int]:
    """`output` as a list of ints if it is a permutation of 0..n-1, else raise InvalidOutput."""
    if isinstance(output, np.ndarray):
        if output.ndim != 1:
            raise InvalidOutput(f"expected a 1-D sequence of transaction indices, got an array of shape "
                                f"{output.shape}")
        if output.dtype.kind not in "iu":
            raise InvalidOutput(f"transaction indices must be integers, got an array of dtype {output.dtype}")
        values = output.tolist()
    elif isinstance(output, (list, tuple)):
        bad = next((x for x in output if type(x) is not int), _NONE)
        if bad is not _NONE:
            raise InvalidOutput(f"transaction indices must be integers, found {type(bad).__name__} "
                                f"{bad!r:.40}")
        values = list(output)
    else:
        raise InvalidOutput(f"expected a list of transaction indices (a permutation), got "
                            f"{type(output).__name__}")
    if len(values) != n:
        raise InvalidOutput(f"expected {n} transaction indices, got {len(values)}")
    out_of_range = next((x for x in values if not 0 <= x < n), None)
    if out_of_range is not None:
        raise InvalidOutput(f"transaction index {out_of_range} is outside 0..{n - 1}")
    seen = [0] * n
    for x in values:
        seen[x] += 1
    if any(c != 1 for c in seen):
        twice = next(i for i, c in enumerate(seen) if c > 1)
        missing = next(i for i, c in enumerate(seen) if c == 0)
        raise InvalidOutput(f"not a permutation: transaction {twice} appears {seen[twice]} times and "
                            f"transaction {missing} is missing")
    return values
