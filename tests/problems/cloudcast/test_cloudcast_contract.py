"""The framework's plugin contract, applied to cloudcast (seed and baselines through the sandbox)."""

from __future__ import annotations

import pytest

from evolve.testing.contract import ProblemContract
from problems.cloudcast import make

pytestmark = pytest.mark.slow


class TestCloudcastContract(ProblemContract):
    factory = make
    options = {"train_per_kind": 1, "holdout_per_kind": 1}
