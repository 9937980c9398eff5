"""The framework's plugin contract, applied to cant_be_late_multi (seed and baselines through the sandbox)."""

from __future__ import annotations

import pytest

from evolve.testing.contract import ProblemContract
from problems.cant_be_late_multi import make

pytestmark = pytest.mark.slow


class TestCantBeLateMultiContract(ProblemContract):
    factory = make
    options = {"train_traces": 1}
