"""OpenEvolve-format folders through `evolve eval` and `evolve check-problem` (real CLI, real sandbox), and
the adapter's reading of folders and config.yaml."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evolve.errors import ProblemError
from evolve.openevolve import make
from evolve.openevolve.problem import openevolve_fitness
from evolve.openevolve.settings import read_settings
from evolve.plugins import load_problem

PROBLEMS = Path(__file__).with_name("problems")


def eval_json(cli: Any, problem: str, code: str | None = None, *extra: str, tmp_path: Path) -> dict[str, Any]:
    folder = PROBLEMS / problem
    program = folder / "initial_program.py"
    if code is not None:
        program = tmp_path / "candidate.py"
        program.write_text(code)
    proc = cli(["eval", str(program), f"problem.openevolve={folder}", "--json", *extra], timeout=120)
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_eval_scores_the_function_minimisation_seed_with_the_evaluators_combined_score(cli: Any,
                                                                                       tmp_path: Path) -> None:
    out = eval_json(cli, "minimize", tmp_path=tmp_path)
    assert out["status"] == "ok", out
    m = out["metrics"]
    assert m["score"] == m["combined_score"] and 0 < m["score"] < 1
    assert {"value_score", "distance_score"} <= set(m)


def test_a_better_minimiser_scores_higher(cli: Any, tmp_path: Path) -> None:
    code = (PROBLEMS / "minimize" / "initial_program.py").read_text().replace("iterations=40, step=0.3",
                                                                               "iterations=4000, step=0.5")
    better = eval_json(cli, "minimize", code, tmp_path=tmp_path)
    assert better["status"] == "ok" and better["metrics"]["score"] > 0.9


def test_cascade_quick_split_is_stage_one_and_train_stops_at_the_second_threshold(cli: Any, tmp_path: Path) -> None:
    quick = eval_json(cli, "cascade", None, "split=quick", tmp_path=tmp_path)
    assert quick["status"] == "ok"
    assert set(quick["metrics"]) == {"combined_score", "stage1_ran", "score"}
    train = eval_json(cli, "cascade", tmp_path=tmp_path)  # 0.4: passes 0.3, not 0.6
    assert set(train["metrics"]) == {"combined_score", "stage1_ran", "stage2_ran", "score"}


def test_cascade_runs_stage_three_above_the_second_threshold_and_stops_below_the_first(cli: Any,
                                                                                      tmp_path: Path) -> None:
    seed = (PROBLEMS / "cascade" / "initial_program.py").read_text()
    high = eval_json(cli, "cascade", seed.replace("quality = 0.4", "quality = 0.7"), tmp_path=tmp_path)
    assert high["metrics"]["stage3_ran"] == 1.0 and high["metrics"]["score"] == pytest.approx(0.75)
    low = eval_json(cli, "cascade", seed.replace("quality = 0.4", "quality = 0.2"), tmp_path=tmp_path)
    assert set(low["metrics"]) == {"combined_score", "stage1_ran", "score"}  # OpenEvolve keeps stage 1's result
    assert "error: stage-1 text is kept" in low["feedback"]  # its text metric is shown, not scored


def test_artifacts_come_back_as_the_evaluators_notes(cli: Any, tmp_path: Path) -> None:
    out = eval_json(cli, "artifacts", tmp_path=tmp_path)
    assert out["status"] == "ok" and out["metrics"]["guess"] == 10.0
    assert "the guess 10 is too low: guess higher" in out["feedback"]
    assert "bytes are sent as text" in out["feedback"]
    assert "evaluator saw the guess 10" in out["feedback"]  # what the evaluator printed


def test_an_evaluator_that_raises_marks_the_program_crash_with_its_message(cli: Any, tmp_path: Path) -> None:
    seed = (PROBLEMS / "raises" / "initial_program.py").read_text()
    out = eval_json(cli, "raises", seed.replace("return 1", "return -5"), tmp_path=tmp_path)
    assert out["status"] == "crash"
    assert "ValueError: the evaluator cannot score a negative answer (-5)" in out["error"]
    assert "evaluator.py" in out["error"]  # the traceback names the evaluator's own lines


def test_a_candidate_cannot_reach_outside_the_sandbox_through_the_evaluator(cli: Any, tmp_path: Path) -> None:
    seed = (PROBLEMS / "raises" / "initial_program.py").read_text()
    sneaky = seed.replace("    return 1", "    import os\n    os.listdir('/root')\n    return 1")
    out = eval_json(cli, "raises", sneaky, tmp_path=tmp_path)
    assert out["status"] in ("forbidden", "crash") and out["metrics"] == {}


def test_an_evaluator_that_starts_a_process_is_forbidden_with_the_reason(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "spawns"  # OpenEvolve's circle-packing evaluator runs the program this way
    folder.mkdir()
    shutil.copy(PROBLEMS / "raises" / "initial_program.py", folder)
    (folder / "evaluator.py").write_text(
        "import subprocess\nimport sys\n\n\ndef evaluate(program_path):\n"
        "    proc = subprocess.run([sys.executable, program_path], capture_output=True, timeout=10)\n"
        "    return {'combined_score': float(proc.returncode == 0)}\n")
    proc = cli(["eval", str(folder / "initial_program.py"), f"problem.openevolve={folder}", "--json"], timeout=120)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "forbidden" and "starting a process (import subprocess)" in out["error"]


@pytest.mark.parametrize("problem", ["minimize", "cascade", "artifacts", "raises"])
def test_check_problem_passes_on_each_openevolve_folder(cli: Any, problem: str) -> None:
    proc = cli(["check-problem", str(PROBLEMS / problem)], timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all contract checks passed" in proc.stdout


def test_check_problem_names_a_seed_the_evaluator_cannot_score(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(PROBLEMS / "raises", folder)
    (folder / "initial_program.py").write_text((folder / "initial_program.py").read_text().replace("return 1",
                                                                                                   "return -1"))
    proc = cli(["check-problem", str(folder)], timeout=120)
    assert proc.returncode == 1
    assert "FAIL [seed-valid]" in proc.stdout and "cannot score a negative answer" in proc.stdout


def test_an_evaluator_formatting_a_traceback_through_standard_modules_is_not_forbidden(cli: Any,
                                                                                       tmp_path: Path) -> None:
    folder = tmp_path / "catches"  # as OpenEvolve's function_minimization evaluator does for a failing trial
    folder.mkdir()
    (folder / "initial_program.py").write_text(
        "# EVOLVE-BLOCK-START\ndef run_search():\n    bounds = (-5, 5)\n    return bounds[3]\n# EVOLVE-BLOCK-END\n")
    (folder / "evaluator.py").write_text(
        "import concurrent.futures\nimport importlib.util\nimport traceback\n\n\n"
        "def evaluate(program_path):\n"
        "    spec = importlib.util.spec_from_file_location('p', program_path)\n"
        "    m = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(m)\n"
        "    try:\n"
        "        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:\n"
        "            ex.submit(m.run_search).result(timeout=5)\n"
        "    except Exception as e:\n"
        "        print(traceback.format_exc())\n"
        "        return {'combined_score': 0.0, 'error': str(e), 'trace': traceback.format_exc()}\n"
        "    return {'combined_score': 1.0}\n")
    proc = cli(["eval", str(folder / "initial_program.py"), f"problem.openevolve={folder}", "--json"], timeout=120)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok", out
    assert "return bounds[3]" in out["feedback"]  # the candidate's own line is quoted
    assert "IndexError: tuple index out of range" in out["feedback"]


def test_config_turns_the_cascade_off_and_passes_evaluator_args(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "noscascade"
    shutil.copytree(PROBLEMS / "cascade", folder)
    (folder / "config.yaml").write_text("evaluator:\n  cascade_evaluation: false\n  evaluator_args: {bonus: 0.25}\n")
    (folder / "evaluator.py").write_text((folder / "evaluator.py").read_text().replace(
        "def evaluate(program_path):\n    return {\"combined_score\": _quality(program_path), \"direct_ran\": 1.0}",
        "def evaluate(program_path, bonus=0.0):\n"
        "    return {\"combined_score\": _quality(program_path) + bonus, \"direct_ran\": 1.0}"))
    proc = cli(["eval", str(folder / "initial_program.py"), f"problem.openevolve={folder}", "--json", "split=quick"],
               timeout=120)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok" and out["metrics"]["direct_ran"] == 1.0  # no stage functions called
    assert out["metrics"]["score"] == pytest.approx(0.65)


def test_score_metric_names_the_metric_that_is_the_score(cli: Any, tmp_path: Path) -> None:
    out = eval_json(cli, "minimize", None, "+problem.options.score_metric=distance_score", tmp_path=tmp_path)
    assert out["status"] == "ok" and out["metrics"]["score"] == out["metrics"]["distance_score"]
    missing = eval_json(cli, "minimize", None, "+problem.options.score_metric=nope", tmp_path=tmp_path)
    assert missing["status"] == "invalid" and "returned no numeric `nope`" in missing["error"]


def test_the_evaluator_reads_data_files_beside_it_and_imports_its_own_modules(cli: Any, tmp_path: Path) -> None:
    import numpy as np

    folder = tmp_path / "withdata"
    shutil.copytree(PROBLEMS / "raises", folder)
    np.save(folder / "weights.npy", np.array([2.0, 3.0]))  # a binary file
    (folder / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (folder / "evaluator.py").write_text(
        "import importlib.util\nimport os\n\nimport numpy as np\n\nfrom helpers import double\n\n\n"
        "def evaluate(program_path):\n"
        "    w = np.load(os.path.join(os.path.dirname(__file__), 'weights.npy'))\n"
        "    spec = importlib.util.spec_from_file_location('p', program_path)\n"
        "    m = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(m)\n"
        "    return {'combined_score': double(float(w.sum()) * m.answer())}\n")
    proc = cli(["eval", str(folder / "initial_program.py"), f"problem.openevolve={folder}", "--json"], timeout=120)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok", out
    assert out["metrics"]["score"] == 10.0


def test_user_mistakes_are_one_clear_line(cli: Any, tmp_path: Path) -> None:
    folder = str(PROBLEMS / "minimize")
    proc = cli(["run", f"problem.openevolve={folder}", "+problem.options.bogus=1"], timeout=120)
    assert proc.returncode == 2 and "unknown option 'bogus'" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli(["run", f"problem.openevolve={tmp_path}"], timeout=120)
    assert proc.returncode == 2 and "not a folder in OpenEvolve's format" in proc.stderr
    proc = cli(["run", f"problem.openevolve={tmp_path / 'nope'}"], timeout=120)
    assert proc.returncode == 2 and "no such folder" in proc.stderr
    proc = cli(["eval", str(PROBLEMS / "minimize" / "initial_program.py"), f"problem.openevolve={folder}",
                "split=holdout"], timeout=120)
    assert proc.returncode == 2 and "has no hold-out split" in proc.stderr


def test_problems_lists_openevolve_folders(cli: Any) -> None:
    proc = cli(["problems", "--dir", str(PROBLEMS)], timeout=120)
    assert proc.returncode == 0
    assert any(line.split()[:2] == ["cascade", "openevolve"] for line in proc.stdout.splitlines())
    assert "problem.openevolve=LOCATION" in proc.stdout


# --- the adapter in-process: layout, options, config.yaml, fitness ---------------------------------------
def test_a_folder_without_init_and_with_evaluator_py_loads_by_path_too() -> None:
    problem = load_problem("minimize", str(PROBLEMS / "minimize"), {})
    assert problem.name == "minimize" and problem.entry == "run_search" and not problem.has_holdout
    assert problem.seed_file == "initial_program.py"
    assert "concurrent.futures.thread" in problem.sandbox_modules
    assert "minimum of f(x, y)" in problem.description and "run_search" in problem.description


def test_holdout_names_a_function_of_the_evaluator() -> None:
    problem = make(PROBLEMS / "minimize", {"holdout": "evaluate_holdout"})
    assert problem.has_holdout and [i.id for i in problem.instances("holdout")] == ["openevolve/holdout"]
    with pytest.raises(ProblemError, match="defines no function nope"):
        make(PROBLEMS / "minimize", {"holdout": "nope"})


def test_a_holdout_file_is_shipped_only_to_holdout_evaluations(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(PROBLEMS / "minimize", folder)
    (folder / "secret_eval.py").write_text("def evaluate(program_path):\n    return {'combined_score': 0.5}\n")
    problem = make(folder, {"holdout_file": "secret_eval.py"})
    assert "secret_eval" not in problem.sandbox_program("x = 1", "train")
    assert "secret_eval" in problem.sandbox_program("x = 1", "holdout")
    assert problem.sandbox_program("x = 1", "quick") == problem.sandbox_program("x = 1", "train")


def test_unknown_options_and_missing_files_are_named() -> None:
    with pytest.raises(ValueError, match="unknown option 'bogus'"):
        make(PROBLEMS / "minimize", {"bogus": 1})
    with pytest.raises(ProblemError, match=r"problem\.options\.evaluator=nope\.py: no such file"):
        make(PROBLEMS / "minimize", {"evaluator": "nope.py"})


def test_config_yaml_keys_evolve_applies_and_the_ones_it_does_not(tmp_path: Path) -> None:
    s = read_settings(PROBLEMS / "cascade" / "config.yaml")
    assert s.cascade and s.thresholds == (0.3, 0.6) and s.timeout_s == 10
    assert s.system_message == "Raise the quality that solve() returns."
    m = read_settings(PROBLEMS / "minimize" / "config.yaml")
    assert not m.cascade and "max_iterations" in m.not_applied and "llm.primary_model" in m.not_applied
    default = read_settings(None)
    assert default.thresholds == (0.5, 0.75, 0.9) and default.timeout_s == 300
    bad = tmp_path / "config.yaml"
    bad.write_text("language: rust\n")
    with pytest.raises(ProblemError, match="Python programs only"):
        read_settings(bad)
    bad.write_text("prompt:\n  system_message: system_message\n")  # OpenEvolve's template name, not a message
    assert read_settings(bad).system_message is None
    bad.write_text("evaluator:\n  evaluator_args: {when: 2020-01-01}\n")  # YAML makes that a date
    with pytest.raises(ProblemError, match="plain values"):
        read_settings(bad)


def test_fitness_is_combined_score_else_the_mean_of_numeric_metrics_without_feature_dimensions() -> None:
    assert openevolve_fitness({"combined_score": 0.3, "a": 1.0}, ()) == 0.3
    assert openevolve_fitness({"a": 1.0, "b": 0.0, "error": "text", "complexity": 9.0}, ("complexity",)) == 0.5
    assert openevolve_fitness({"complexity": 4.0}, ("complexity",)) == 4.0
    assert openevolve_fitness({"error": "no numbers"}, ()) == 0.0
