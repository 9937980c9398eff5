"""bench/sandbox.py as a developer runs it: the walls priced in one run, against the code before them too."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "3e4aa1e"  # bench/sandbox.py's BEFORE_WALLS


@pytest.mark.slow
def test_the_bench_prices_the_walls_against_the_code_before_them() -> None:
    known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{BEFORE}^{{commit}}"],
                           capture_output=True).returncode == 0
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "sandbox.py"), "--walls-only", "--candidates", "5",
                          "--rounds", "1", "--spawns", "1"], check=True, capture_output=True, text=True,
                         timeout=600).stdout
    number = r"(-?\d+\.\d+) ms"
    assert len(re.findall(rf"with all walls, +{number} without seccomp and cgroup: ([+-]\d+\.\d+) ms", out)) == 2
    before = re.findall(rf"before the walls, +{number} now: ([+-]\d+\.\d+) ms", out)
    if not known:  # a copy without the project's history: the bench says so instead
        assert f"cannot check out {BEFORE}" in out
        return
    assert len(before) == 2, out
    # the temporary worktree is gone again
    listed = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True).stdout
    assert "evolve-bench-before-" not in listed
