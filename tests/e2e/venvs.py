"""A throwaway virtual environment that sees the packages of the interpreter running the tests.

`python -m venv --system-site-packages` links a new environment to the *base* interpreter, so when the
tests themselves run inside a venv (as the README's test command does) the child would miss hydra, the
project and the test extras. Instead the child gets a `.pth` file that adds this interpreter's own
site-packages with `site.addsitedir`, which also runs their `.pth` files (editable installs, setuptools).
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path


def parent_site_dirs() -> list[str]:
    """The site-packages directories this interpreter imports from (a venv's own, or the system's)."""
    dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE and Path(site.getusersitepackages()).is_dir():
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def child_venv(path: Path, *, with_pip: bool = True) -> Path:
    """Create a venv at `path` that falls back on this interpreter's packages; return its python."""
    args = [sys.executable, "-m", "venv", str(path)]
    if not with_pip:
        args.insert(3, "--without-pip")
    subprocess.run(args, check=True, timeout=300)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    lines = [f"import site; site.addsitedir({d!r})" for d in parent_site_dirs()]
    (Path(purelib) / "_evolve_tests_parent_site.pth").write_text("\n".join(lines) + "\n")
    return python
