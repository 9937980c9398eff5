"""Instance generator of Potts & Van Wassenhove (1982) for single-machine total tardiness.

p_j ~ U{1..100} (100 included), P = Σp, d_j ~ U{⌊P(1−TF−RDD/2)⌋ .. ⌊P(1−TF+RDD/2)⌋} clipped at 0.
Every instance records (n, TF, RDD, seed) so it can be rebuilt exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

TF_VALUES = (0.2, 0.4, 0.6, 0.8)
RDD_VALUES = (0.2, 0.4, 0.6, 0.8, 1.0)
CLASSES = tuple((tf, rdd) for tf in TF_VALUES for rdd in RDD_VALUES)


@dataclass(frozen=True)
class SmttInstance:
    """Raw data of one instance and how it was made."""

    n: int
    tf: float
    rdd: float
    seed: int
    p: np.ndarray
    d: np.ndarray


def due_date_range(total: int, tf: float, rdd: float) -> tuple[int, int]:
    """The inclusive due-date range before clipping at 0, in exact arithmetic (in floating point,
    1000·(1 − 0.8 − 0.5) floors to −301)."""
    tf_, rdd_ = Fraction(str(tf)), Fraction(str(rdd))
    lo = math.floor(total * (1 - tf_ - rdd_ / 2))
    hi = math.floor(total * (1 - tf_ + rdd_ / 2))
    return lo, hi


def generate(n: int, tf: float, rdd: float, seed: int) -> SmttInstance:
    """One instance, deterministic in (n, tf, rdd, seed)."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    p = rng.integers(1, 101, size=n, dtype=np.int64)
    lo, hi = due_date_range(int(p.sum()), tf, rdd)
    d = np.maximum(rng.integers(lo, hi + 1, size=n, dtype=np.int64), 0)
    return SmttInstance(n, tf, rdd, seed, p, d)


def instance_seed(split_seed: int, n: int, cls: int, rep: int) -> int:
    """The recorded seed of the rep-th instance of class `cls` with n jobs in a split."""
    return split_seed * 10_000_000 + n * 1000 + cls * 10 + rep


def generate_split(split_seed: int, sizes: tuple[int, ...], per_class: int) -> list[SmttInstance]:
    """`per_class` instances of each of the 20 (TF, RDD) classes for every n in `sizes`."""
    return [generate(n, tf, rdd, instance_seed(split_seed, n, c, r))
            for n in sizes for c, (tf, rdd) in enumerate(CLASSES) for r in range(per_class)]
