"""Helpers for the plugin tests: a freshly scaffolded plugin to break on purpose, one part at a time."""

from __future__ import annotations

import itertools
from pathlib import Path

from evolve.problem import Problem
from evolve.scaffold import write_skeleton
from evolve.testing.contract import Finding, load_checked

_ids = itertools.count()


class Plugin:
    """A scaffolded plugin in a temporary folder, with helpers to break one part of it."""

    def __init__(self, parent: Path) -> None:
        # a unique name per test: plugins loaded by path are imported under a name derived from the folder
        self.name = f"toy{next(_ids)}"
        self.dir = write_skeleton(self.name, parent)

    def path(self, rel: str) -> Path:
        return self.dir / rel

    def edit(self, rel: str, old: str, new: str) -> None:
        """Replace `old` (which must occur) by `new` in the plugin file `rel`."""
        text = self.path(rel).read_text()
        assert old in text, f"{old!r} not in {rel}: the scaffold changed, update the test"
        self.path(rel).write_text(text.replace(old, new))

    def write(self, rel: str, text: str) -> None:
        self.path(rel).parent.mkdir(parents=True, exist_ok=True)
        self.path(rel).write_text(text)

    def load(self, options: dict[str, object] | None = None) -> tuple[Problem, object]:
        problem, factory, findings = load_checked(self.name, str(self.dir), options)
        assert problem is not None and not findings, [str(f) for f in findings]
        return problem, factory

    def findings(self) -> list[Finding]:
        from evolve.testing.contract import check_problem

        return check_problem(self.name, str(self.dir))


def checks(findings: list[Finding]) -> list[str]:
    return [f.check for f in findings]
