"""The order validator rejects every malformed output before anything is computed from it."""

from __future__ import annotations

import numpy as np
import pytest

from evolve.problem import InvalidOutput
from problems.txn.validation import validate_order


@pytest.mark.parametrize("output", [[2, 0, 1], (1, 2, 0), np.array([0, 2, 1]), np.array([0, 1, 2], dtype=np.uint8)])
def test_accepts_permutations_as_list_tuple_or_integer_array(output) -> None:
    assert sorted(validate_order(output, 3)) == [0, 1, 2]


def test_accepts_the_empty_permutation_of_an_empty_batch() -> None:
    assert validate_order([], 0) == []


@pytest.mark.parametrize(("output", "message"), [
    (None, "expected a list"),
    ("012", "expected a list"),
    ({"order": [0, 1, 2]}, "expected a list"),
    (3, "expected a list"),
    ([0, 1], "expected 3"),
    ([0, 1, 2, 0], "expected 3"),
    ([0, 1, 3], "outside"),
    ([0, 1, -1], "outside"),
    ([0, 1, 1], "not a permutation"),
    ([0, 1, 2.0], "integers"),
    ([0, 1, True], "integers"),
    ([0, 1, "2"], "integers"),
    ([0, 1, None], "integers"),
    ([[0], 1, 2], "integers"),
    (np.array([0.0, 1.0, 2.0]), "dtype"),
    (np.array([True, False, True]), "dtype"),
    (np.array([[0, 1, 2]]), "shape"),
    (np.array([0, 1, 1]), "not a permutation"),
    (np.array([0, 1, 5]), "outside"),
])
def test_rejects_malformed_order(output, message: str) -> None:
    with pytest.raises(InvalidOutput, match=message):
        validate_order(output, 3)
