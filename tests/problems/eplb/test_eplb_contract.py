"""The framework's reusable plugin contract, applied to EPLB (seed and baselines through the sandbox)."""

from __future__ import annotations

import pytest

from evolve.testing.contract import ProblemContract
from problems.eplb import make

pytestmark = pytest.mark.slow


class TestEplbContract(ProblemContract):
    factory = make
