"""The README's quick start is what CI runs: its test command, verbatim, in a fresh venv (.ci/run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's quick start has no bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_has_exactly_two_commands_install_and_run_and_install_and_test() -> None:
    run, test = quick_start_commands()
    assert run.startswith("pip install -e .") and run.endswith("evolve run")
    assert test == "pip install -e '.[test]' && pytest"


def test_ci_runs_the_readme_test_command_verbatim_inside_a_fresh_venv() -> None:
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    _, test = quick_start_commands()
    assert test in lines, f".ci/run does not run the README's test command {test!r} as written"
    venv = lines.index("python3 -m venv .venv")
    activate = lines.index(". .venv/bin/activate")
    assert "rm -rf .venv" in lines[:venv]
    assert venv < activate < lines.index(test)
    between = lines[activate + 1:lines.index(test)]
    assert not any("pip install" in line for line in between), "the README's command must run in a bare venv"
    assert not any("python -m pytest" in line for line in lines), "CI must run plain `pytest`, as the README does"
    assert not any("EVOLVE_REQUIRE_POSTGRES" in line for line in lines[:lines.index(test)])


def test_plain_pytest_collects_the_suite_without_the_checkout_on_sys_path(tmp_path: Path) -> None:
    """`pytest` (the console script) puts no cwd on sys.path: tests/evolve/ must not shadow the package."""
    script = ("import sys, pytest; sys.path = [p for p in sys.path if p not in ('', '.')]; "
              f"sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', '--rootdir', {str(REPO)!r}, "
              f"'-c', {str(REPO / 'pyproject.toml')!r}, {str(REPO / 'tests' / 'e2e' / 'test_cli_run.py')!r}]))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not re.search(r"\b\d+ errors?\b", done.stdout), done.stdout[-2000:]
    assert re.search(r"\b\d+ tests? collected", done.stdout), done.stdout[-2000:]
