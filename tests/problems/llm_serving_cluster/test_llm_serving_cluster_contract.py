"""llm_serving_cluster keeps the plugin contract (evolve's reusable contract tests)."""

from __future__ import annotations

from evolve.testing.contract import ProblemContract
from problems.llm_serving_cluster import make


class TestContract(ProblemContract):
    factory = make
    options = {"quick_n": 8, "train_n": 8, "holdout_n": 8, "instances": 2}
