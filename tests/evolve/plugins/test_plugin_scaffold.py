"""The skeleton `evolve new-problem` writes: complete, valid Python, named after the problem."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from evolve.errors import ProblemError
from evolve.scaffold import class_name, render, write_skeleton
from evolve.testing.contract import check_problem


def test_skeleton_has_every_part_of_a_plugin() -> None:
    files = {str(p) for p in render("knapsack")}
    assert files == {"__init__.py", "problem.py", "generator.py", "validate.py", "initial.py", "description.md",
                     "baselines/ratio.py", "baselines/lightest.py", "tests/test_knapsack.py"}


def test_rendered_python_files_parse_and_carry_the_name() -> None:
    files = render("bin_packing")
    for rel, text in files.items():
        assert "{{" not in text and "}}" not in text, rel
        if rel.suffix == ".py":
            ast.parse(text, filename=str(rel))
    assert 'name = "bin_packing"' in files[Path("problem.py")]
    assert "class BinPacking(Problem)" in files[Path("problem.py")]


def test_class_name_is_camel_case() -> None:
    assert class_name("knapsack") == "Knapsack"
    assert class_name("bin_packing_2d") == "BinPacking2d"


@pytest.mark.parametrize("bad", ["Knapsack", "bin-packing", "2opt", "class", "_private", "random", "numpy"])
def test_invalid_or_shadowing_names_are_refused(bad: str) -> None:
    with pytest.raises(ProblemError):
        render(bad)


def test_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "knapsack").mkdir()
    with pytest.raises(ProblemError, match="already exists"):
        write_skeleton("knapsack", tmp_path)


def test_fresh_skeleton_passes_every_contract_check(tmp_path: Path) -> None:
    folder = write_skeleton("fresh_toy", tmp_path)
    assert check_problem("fresh_toy", str(folder)) == []
