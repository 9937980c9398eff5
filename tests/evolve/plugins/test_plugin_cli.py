"""`evolve problems`, `evolve new-problem` and `evolve check-problem`, called in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_kit import Plugin

from evolve import plugin_cli
from evolve.errors import ProblemError


def run(capsys: pytest.CaptureFixture[str], cmd: str, *args: str) -> tuple[int, list[str]]:
    code = plugin_cli.main(cmd, list(args))
    return code, capsys.readouterr().out.splitlines()


def test_problems_lists_builtins_with_their_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "problems")
    assert code == 0 and lines[0].split() == ["NAME", "SOURCE", "LOCATION"]
    assert ["smtt", "builtin", "problems.smtt"] in [line.split() for line in lines]


def test_problems_lists_plugin_folders_given_with_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Plugin(tmp_path)
    (tmp_path / "not_a_plugin").mkdir()
    code, lines = run(capsys, "problems", "--dir", str(tmp_path))
    rows = [line.split() for line in lines]
    folder_rows = [r for r in rows if len(r) == 3 and r[1] == "folder"]
    assert code == 0 and len(folder_rows) == 1 and folder_rows[0][2].startswith(str(tmp_path))
    assert any("problem.path=" in line for line in lines)


def test_new_problem_writes_the_skeleton_and_prints_the_next_commands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "new-problem", "knapsack_test", "--dir", str(tmp_path / "mine"))
    assert code == 0 and (tmp_path / "mine" / "knapsack_test" / "initial.py").is_file()
    text = "\n".join(lines)
    assert f"evolve check-problem {tmp_path / 'mine' / 'knapsack_test'}" in text
    assert f"evolve run problem.path={tmp_path / 'mine' / 'knapsack_test'}" in text


def test_new_problem_refuses_the_name_of_a_known_problem(tmp_path: Path) -> None:
    with pytest.raises(ProblemError, match="already exists"):
        plugin_cli.main("new-problem", ["smtt", "--dir", str(tmp_path)])


def test_default_dir_is_problems_when_it_exists(tmp_path: Path) -> None:
    assert plugin_cli.default_dir(tmp_path) == tmp_path
    (tmp_path / "problems").mkdir()
    assert plugin_cli.default_dir(tmp_path) == tmp_path / "problems"


def test_check_problem_passes_a_good_folder_with_exit_0(plugin: Plugin, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "check-problem", str(plugin.dir))
    assert code == 0 and lines[-1] == "all contract checks passed"


def test_check_problem_prints_one_line_per_failure_and_exits_1(
        plugin: Plugin, capsys: pytest.CaptureFixture[str]) -> None:
    plugin.edit("initial.py", "# EVOLVE-BLOCK-START\n", "")
    plugin.edit("description.md", "`solve(weights, values, capacity)`", "`pack(weights, values, capacity)`")
    plugin.edit("description.md", "`solve` returns", "`pack` returns")
    code, lines = run(capsys, "check-problem", str(plugin.dir))
    fails = [line for line in lines if line.startswith("FAIL")]
    assert code == 1 and len(fails) == 2
    assert fails[0].startswith("FAIL [seed-markers] ") and "initial.py: " in fails[0] and "Fix: " in fails[0]
    assert fails[1].startswith("FAIL [description] ") and "description.md: " in fails[1]
    assert lines[-1].startswith("2 problem(s) found")


def test_check_problem_skip_leaves_a_check_out(plugin: Plugin, capsys: pytest.CaptureFixture[str]) -> None:
    plugin.edit("initial.py", "# EVOLVE-BLOCK-START\n", "")
    code, _ = run(capsys, "check-problem", str(plugin.dir), "--skip", "seed-markers")
    assert code == 0


def test_check_problem_passes_options_to_make(plugin: Plugin, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "check-problem", str(plugin.dir), "--options", '{"holdout_count": 0}')
    assert code == 1 and any("instances('holdout') is empty" in line for line in lines)


def test_check_problem_rejects_options_that_are_not_a_json_object(
        plugin: Plugin, capsys: pytest.CaptureFixture[str]) -> None:
    assert plugin_cli.main("check-problem", [str(plugin.dir), "--options", "[1]"]) == 2
    assert "JSON object" in capsys.readouterr().err


def test_check_problem_of_an_unknown_name_fails_with_the_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "check-problem", "no_such_problem")
    assert code == 1 and "unknown problem 'no_such_problem'" in lines[0] and "smtt" in lines[0]


def test_check_problem_by_registered_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "check-problem", "smtt")
    assert code == 0, lines


def test_new_problem_in_the_builtin_folder_is_then_named_not_pathed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys
    import types

    builtin = types.ModuleType("problems")  # the built-in problems package, found in tmp_path instead
    builtin.__path__ = [str(tmp_path)]
    monkeypatch.setitem(sys.modules, "problems", builtin)
    code, lines = run(capsys, "new-problem", "named_toy", "--dir", str(tmp_path))
    text = "\n".join(lines)
    assert code == 0 and "evolve check-problem named_toy " in text and "evolve run problem=named_toy " in text
