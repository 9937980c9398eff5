"""The framework's plugin contract, applied to prism (seed and baselines through the sandbox)."""

from __future__ import annotations

import pytest

from evolve.testing.contract import ProblemContract
from problems.prism import make

pytestmark = pytest.mark.slow


class TestPrismContract(ProblemContract):
    factory = make
    options = {"train_n": 5, "holdout_n": 5}
