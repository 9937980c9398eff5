"""The packaged example plugin, installed with pip into a temporary venv, is found by its entry point and
runs under `evolve run problem=partition`.

The venv sees this interpreter's packages (evolve, numpy, setuptools…) through a `.pth` file (venvs.py), so
it works whether the tests run in a venv or not;
the example is installed with --no-deps --no-build-isolation, so no network is needed. Building a wheel
needs setuptools >= 70.1 (or the `wheel` package) in this interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from venvs import child_venv

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugin-package"


def _can_build_wheels() -> bool:
    probe = "from setuptools.command.bdist_wheel import bdist_wheel"
    fallback = "import wheel.bdist_wheel"
    return any(subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
               for code in (probe, fallback))


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _can_build_wheels():
        pytest.fail("cannot build the example's wheel offline: this interpreter needs setuptools>=70.1 "
                    "(or the wheel package); list it in the [test] extra of pyproject.toml")
    root = tmp_path_factory.mktemp("plugin-venv")
    source = root / "plugin-package"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    python = child_venv(root / "venv", with_pip=False)
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                              "--no-index", str(source)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    return python


def evolve(python: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([str(python), "-m", "evolve.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.slow
def test_installed_package_is_listed_with_its_entry_point(venv_python: Path, tmp_path: Path) -> None:
    listed = evolve(venv_python, ["problems"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert ["partition", "entry-point", "evolve_partition:make"] in [line.split() for line in listed.stdout.splitlines()]
    # this interpreter, without the package, does not know it
    here = subprocess.run([sys.executable, "-m", "evolve.cli", "problems"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert "partition" not in here.stdout


@pytest.mark.slow
def test_installed_package_passes_the_checks_and_runs_by_name(venv_python: Path, tmp_path: Path) -> None:
    checked = evolve(venv_python, ["check-problem", "partition"], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    run_dir = tmp_path / "run"
    done = evolve(venv_python, ["run", "problem=partition", "search.iterations=10", "search.max_seconds=60",
                                f"hydra.run.dir={run_dir}"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["problem"] == "partition"
    assert set(summary["baselines"]) == {"in_order", "karmarkar_karp"}
    assert summary["seed"]["train"]["imbalance_ppm"] > summary["baselines"]["karmarkar_karp"]["train"]["imbalance_ppm"]
