"""Tests of the partition plugin: evolve's contract tests plus hand-checked cases of its scorer."""

from __future__ import annotations

import numpy as np
import pytest
from evolve_partition import make

from evolve.problem import Instance, InvalidOutput
from evolve.testing.contract import ProblemContract


class TestContract(ProblemContract):
    factory = make


def tiny() -> Instance:
    return Instance("tiny", (np.array([8, 7, 6, 5, 4]),))


def test_score_is_the_imbalance_of_the_two_sides() -> None:
    assert make({}).score(tiny(), [0, 0, 1, 1, 1])["imbalance"] == 0.0  # 15 vs 15
    assert make({}).score(tiny(), [0, 1, 0, 1, 0])["imbalance"] == 6.0  # 18 vs 12


@pytest.mark.parametrize("output", [[0, 1, 2, 0, 1], [0, 1], [0.0, 1.0, 0.0, 1.0, 0.0], "01010"])
def test_validator_rejects_malformed_sides(output: object) -> None:
    with pytest.raises(InvalidOutput):
        make({}).score(tiny(), output)
