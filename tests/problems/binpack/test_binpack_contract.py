"""The framework's reusable plugin contract, applied to online bin packing (seed and baselines sandboxed)."""

from __future__ import annotations

import pytest

from evolve.testing.contract import ProblemContract
from problems.binpack import make

pytestmark = pytest.mark.slow


class TestBinPackingContract(ProblemContract):
    factory = make
