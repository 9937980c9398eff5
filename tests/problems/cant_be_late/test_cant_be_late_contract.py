"""The framework's plugin contract, applied to cant_be_late (seed and baselines through the sandbox)."""

from __future__ import annotations

import pytest

from evolve.testing.contract import ProblemContract
from problems.cant_be_late import make

pytestmark = pytest.mark.slow


class TestCantBeLateContract(ProblemContract):
    factory = make
    options = {"train_per_env": 1, "holdout_per_env": 1}
