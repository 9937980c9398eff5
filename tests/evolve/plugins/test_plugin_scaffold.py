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


def test_skeleton_options_keep_the_types_their_fields_declare(tmp_path: Path) -> None:
    from evolve.plugins import load_problem

    folder = write_skeleton("typed_toy", tmp_path)
    problem = load_problem("typed_toy", str(folder), {"capacity_ratio": 0.25, "train_n": 30})
    assert problem.options.capacity_ratio == 0.25 and problem.options.train_n == 30  # type: ignore[attr-defined]
    weights, _, capacity = problem.instances("train")[0].args
    assert capacity == int(int(weights.sum()) * 0.25)


def test_an_option_a_user_adds_to_the_skeleton_keeps_its_type(tmp_path: Path) -> None:
    folder = write_skeleton("grown_toy", tmp_path)
    source = folder / "problem.py"
    source.write_text(source.read_text().replace(
        "    holdout_seed: int = 3\n", '    holdout_seed: int = 3\n    tightness: float = 0.5\n    label: str = "a"\n'
                                      "    exact: bool = False\n"))
    from evolve.plugins import load_problem

    options = load_problem("grown_toy", str(folder), {"tightness": 0.3, "label": "b", "exact": True}).options  # type: ignore[attr-defined]
    assert (options.tightness, options.label, options.exact) == (0.3, "b", True)


@pytest.mark.parametrize(("key", "value"), [("train_n", 2.5), ("train_n", "many"), ("capacity_ratio", "half")])
def test_a_skeleton_option_of_the_wrong_type_names_the_option(tmp_path: Path, key: str, value: object) -> None:
    from evolve.plugins import load_problem

    folder = write_skeleton("strict_toy", tmp_path)
    with pytest.raises(ProblemError, match=f"option {key}="):
        load_problem("strict_toy", str(folder), {key: value})
