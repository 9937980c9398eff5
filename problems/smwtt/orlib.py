"""Reader for the OR-Library weighted tardiness sets wt40, wt50 and wt100 and their published values.

Each file lists 125 instances one after the other: n processing times, n weights, n due dates. Instances
come in groups of five per (RDD, TF) class, RDD in the outer loop and TF in the inner one, both over
0.2, 0.4, 0.6, 0.8, 1.0 (data/README.txt). Values: wtopt40 and wtopt50 are optimal except for the
instances listed as unsolved there (best known to Crauwels, Potts & Van Wassenhove 1998); for wt100 only
best-known values exist (wtbest100b, which includes the improvements found by dynasearch).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
SETS = {"wt40": 40, "wt50": 50, "wt100": 100}
VALUE_FILES = {"wt40": "wtopt40.txt", "wt50": "wtopt50.txt", "wt100": "wtbest100b.txt"}
#: 1-based numbers of the instances whose published value is not a proven optimum (data/README.txt)
UNSOLVED = {"wt40": frozenset({19}), "wt50": frozenset({11, 12, 14, 19, 36, 44, 66, 87, 88, 111}),
            "wt100": frozenset(range(1, 126))}
PER_SET = 125
FACTORS = (0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class WtInstance:
    """One OR-Library instance: its set, 1-based number, class, data and published value."""

    set: str
    number: int
    tf: float
    rdd: float
    p: np.ndarray
    w: np.ndarray
    d: np.ndarray
    value: int
    kind: str

    @property
    def key(self) -> str:
        return f"{self.set}-{self.number:03d}"


def _integers(path: Path) -> np.ndarray:
    return np.array(path.read_text(encoding="ascii").split(), dtype=np.int64)


def class_of(number: int) -> tuple[float, float]:
    """(TF, RDD) of the 1-based instance `number` in a set."""
    group = (number - 1) // 5
    return FACTORS[group % 5], FACTORS[group // 5]


@cache
def read_set(name: str) -> tuple[WtInstance, ...]:
    """All 125 instances of `name` ("wt40", "wt50" or "wt100") with their published values."""
    if name not in SETS:
        raise ValueError(f"unknown OR-Library set {name!r}; use one of {sorted(SETS)}")
    n = SETS[name]
    raw = _integers(DATA / f"{name}.txt")
    if raw.size != PER_SET * 3 * n:
        raise ValueError(f"{name}.txt holds {raw.size} numbers, expected {PER_SET * 3 * n}")
    values = _integers(DATA / VALUE_FILES[name])
    if values.size != PER_SET:
        raise ValueError(f"{VALUE_FILES[name]} holds {values.size} values, expected {PER_SET}")
    blocks = raw.reshape(PER_SET, 3, n)
    out = []
    for i in range(PER_SET):
        number = i + 1
        tf, rdd = class_of(number)
        p, w, d = (np.ascontiguousarray(blocks[i, k]) for k in range(3))
        for arr in (p, w, d):
            arr.setflags(write=False)
        kind = "best_known" if number in UNSOLVED[name] else "optimum"
        out.append(WtInstance(name, number, tf, rdd, p, w, d, int(values[i]), kind))
    return tuple(out)
