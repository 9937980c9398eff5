"""The packaged example in examples/plugin-package passes the contract tests (loaded by folder here; the
installed entry point is exercised in tests/e2e/test_plugin_package_install.py)."""

from __future__ import annotations

from pathlib import Path

from evolve.plugins import load_factory
from evolve.testing.contract import ProblemContract

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "plugin-package" / "src" / "evolve_partition"


class TestExamplePackageContract(ProblemContract):
    factory = load_factory("partition", path=str(EXAMPLE))
