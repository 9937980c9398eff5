"""Each way a plugin can break the contract produces its own finding, naming the file and the fix.

Every test breaks one part of a freshly scaffolded plugin and runs the check that must catch it.
"""

from __future__ import annotations

import numpy as np
from plugin_kit import Plugin, checks

from evolve.testing import contract as c

SEED_ENTRY_BODY = "def solve(weights, values, capacity):"


# --- the seed program's text ------------------------------------------------------------------------------
def test_seed_without_markers_is_reported(plugin: Plugin) -> None:
    plugin.edit("initial.py", "# EVOLVE-BLOCK-START\n", "")
    plugin.edit("initial.py", "# EVOLVE-BLOCK-END\n", "")
    problem, _ = plugin.load()
    [f] = c.check_seed_source(problem)
    assert f.check == c.SEED_MARKERS and f.file.endswith("initial.py")
    assert "EVOLVE-BLOCK-START" in f.fix


def test_unbalanced_markers_are_reported(plugin: Plugin) -> None:
    plugin.edit("initial.py", "# EVOLVE-BLOCK-END\n", "")
    problem, _ = plugin.load()
    [f] = c.check_seed_source(problem)
    assert f.check == c.SEED_MARKERS and "never closed" in f.message


def test_seed_that_does_not_parse_is_reported_with_its_line(plugin: Plugin) -> None:
    plugin.edit("initial.py", "    return value / (weight + 100.0)", "    return value / (weight + 100.0")
    problem, _ = plugin.load()
    [f] = c.check_seed_source(problem)
    assert f.check == c.SEED_SYNTAX and f.file.endswith("initial.py") and "does not parse" in f.message
    lines = plugin.path("initial.py").read_text().splitlines()
    broken = next(i for i, line in enumerate(lines, 1) if line.endswith("(weight + 100.0"))
    assert f.message.startswith(f"line {broken}:")


def test_missing_entry_function_is_reported(plugin: Plugin) -> None:
    plugin.edit("initial.py", SEED_ENTRY_BODY, "def solve_it(weights, values, capacity):")
    problem, _ = plugin.load()
    [f] = c.check_seed_source(problem)
    assert f.check == c.SEED_ENTRY and "`solve`" in f.message and "def solve(" in f.fix


def test_entry_function_with_the_wrong_arity_is_reported(plugin: Plugin) -> None:
    plugin.edit("initial.py", SEED_ENTRY_BODY, "def solve(weights, values):")
    problem, _ = plugin.load()
    [f] = c.check_seed_source(problem)
    assert f.check == c.SEED_ARITY and "3 positional" in f.message


def test_entry_function_with_defaults_or_varargs_is_accepted(plugin: Plugin) -> None:
    plugin.edit("initial.py", SEED_ENTRY_BODY, "def solve(weights, values, capacity=0, *rest):")
    problem, _ = plugin.load()
    assert c.check_seed_source(problem) == []


def test_seed_importing_a_module_the_sandbox_lacks_is_reported(plugin: Plugin) -> None:
    plugin.edit("initial.py", "import numpy as np\n", "import numpy as np\nimport string\nfrom scipy import optimize\n")
    problem, _ = plugin.load()
    found = c.check_seed_source(problem)
    assert checks(found) == [c.SEED_IMPORTS, c.SEED_IMPORTS]
    assert "imports string" in found[0].message and "imports scipy" in found[1].message
    assert "numpy" in found[0].fix and "heapq" in found[0].fix


def test_seed_with_a_relative_import_is_reported(plugin: Plugin) -> None:
    plugin.edit("initial.py", "import numpy as np\n", "import numpy as np\nfrom .generator import optimum\n")
    problem, _ = plugin.load()
    [f] = c.check_seed_source(problem)
    assert f.check == c.SEED_IMPORTS and "relative import" in f.message


def test_missing_seed_file_is_reported(plugin: Plugin) -> None:
    plugin.path("initial.py").unlink()
    problem, _ = plugin.load()
    [f] = c.check_seed_source(problem)
    assert f.check == c.SEED_FILE and f.file.endswith("initial.py")


# --- description, attributes ------------------------------------------------------------------------------
def test_description_not_mentioning_the_entry_function_is_reported(plugin: Plugin) -> None:
    text = plugin.path("description.md").read_text().replace("solve", "the function")
    plugin.write("description.md", text)
    problem, _ = plugin.load()
    [f] = c.check_description(problem)
    assert f.check == c.DESCRIPTION and f.file.endswith("description.md") and "`solve`" in f.message


def test_missing_description_is_reported(plugin: Plugin) -> None:
    plugin.path("description.md").unlink()
    problem, _ = plugin.load()
    [f] = c.check_description(problem)
    assert f.check == c.DESCRIPTION and "missing" in f.message


def test_allowed_imports_the_sandbox_cannot_import_are_reported(plugin: Plugin) -> None:
    plugin.edit("problem.py", '    summary_metrics = ("score", "gap_pct")',
                '    summary_metrics = ("score", "gap_pct")\n    allowed_imports = ("numpy", "scipy")')
    problem, _ = plugin.load()
    [f] = c.check_attributes(problem)
    assert f.check == c.ALLOWED_IMPORTS and f.file.endswith("problem.py") and "scipy" in f.message


# --- make() -----------------------------------------------------------------------------------------------
def test_package_without_make_is_reported(plugin: Plugin) -> None:
    plugin.edit("__init__.py", "def make(", "def build(")
    problem, _, [f] = c.load_checked(plugin.name, str(plugin.dir))
    assert problem is None and f.check == c.MAKE and f.file.endswith("__init__.py")
    assert "make(options)" in f.message


def test_make_that_raises_is_reported(plugin: Plugin) -> None:
    plugin.edit("__init__.py", "    return ", "    raise RuntimeError('no data file')\n    return ")
    problem, _, [f] = c.load_checked(plugin.name, str(plugin.dir))
    raising = next(i for i, line in enumerate(plugin.path("__init__.py").read_text().splitlines(), 1)
                   if "RuntimeError" in line)
    assert problem is None and f.check == c.MAKE and f.file == f"{plugin.path('__init__.py')}:{raising}"
    assert "raised RuntimeError: no data file" in f.message


def test_make_returning_something_else_is_reported(plugin: Plugin) -> None:
    plugin.edit("__init__.py", "    return ", "    return {}\n    return ")
    problem, _, [f] = c.load_checked(plugin.name, str(plugin.dir))
    assert problem is None and f.check == c.MAKE and "returned dict" in f.message


def test_bad_options_are_reported_as_a_make_failure(plugin: Plugin) -> None:
    problem, _, [f] = c.load_checked(plugin.name, str(plugin.dir), {"trian_n": 5})
    assert problem is None and f.check == c.MAKE and "trian_n" in f.message


# --- instances --------------------------------------------------------------------------------------------
def test_nondeterministic_instance_generation_is_reported(plugin: Plugin) -> None:
    plugin.edit("generator.py", "np.random.default_rng([seed, index])", "np.random.default_rng()")
    problem, factory = plugin.load()
    [f] = c.check_instances_deterministic(problem, factory)
    assert f.check == c.INSTANCES_DETERMINISM and f.file.endswith("problem.py")
    assert "instances('quick') differ" in f.message and "default_rng" in f.fix


def test_deterministic_instances_pass(plugin: Plugin) -> None:
    problem, factory = plugin.load()
    assert c.check_instances_deterministic(problem, factory) == []


def test_empty_split_is_reported(plugin: Plugin) -> None:
    problem, _ = plugin.load({"holdout_count": 0})
    [f] = c.check_instances(problem)
    assert f.check == c.INSTANCES and "instances('holdout') is empty" in f.message


def test_instance_arguments_that_cannot_cross_the_sandbox_are_reported(plugin: Plugin) -> None:
    plugin.edit("problem.py", "args=(raw.weights, raw.values, raw.capacity)",
                "args=(raw.weights, set(raw.values.tolist()), raw.capacity)")
    problem, _ = plugin.load()
    [f] = c.check_instances(problem)
    assert f.check == c.INSTANCES and "cannot be sent to the sandbox" in f.message


def test_splits_sharing_instances_are_reported(plugin: Plugin) -> None:
    problem, _ = plugin.load({"holdout_seed": 2, "holdout_n": 40})
    [f] = c.check_instances(problem)
    assert f.check == c.SPLIT_OVERLAP and "'train' and 'holdout'" in f.message


# --- the validator ----------------------------------------------------------------------------------------
VALID = [1, 0, 1] + [0] * 17  # quick instances have n = 20


def test_validator_accepting_none_is_reported(plugin: Plugin) -> None:
    plugin.edit("validate.py", '    n = len(weights)\n', '    n = len(weights)\n    if output is None:\n'
                '        return np.zeros(n, dtype=np.int64)\n')
    problem, _ = plugin.load()
    [f] = c.check_validator(problem, VALID)
    assert f.check == c.VALIDATOR_NONE and f.file.endswith("problem.py")
    assert "accepted None" in f.message and "InvalidOutput" in f.fix


def test_validator_crashing_on_wrong_types_is_reported(plugin: Plugin) -> None:
    plugin.edit("validate.py", '    n = len(weights)\n', '    n = len(weights)\n'
                '    output = np.asarray(output, dtype=np.int64)\n')
    problem, _ = plugin.load()
    found = c.check_validator(problem, VALID)
    assert checks(found) == [c.VALIDATOR_NONE, c.VALIDATOR_TYPE, c.VALIDATOR_NAN]  # NaN: ValueError
    assert all("instead of InvalidOutput" in f.message for f in found)
    assert "raised TypeError" in found[0].message


def test_validator_accepting_a_wrong_type_is_reported(plugin: Plugin) -> None:
    plugin.edit("validate.py", '    n = len(weights)\n', '    n = len(weights)\n    if isinstance(output, dict):\n'
                '        return np.zeros(n, dtype=np.int64)\n')
    problem, _ = plugin.load()
    [f] = c.check_validator(problem, VALID)
    assert f.check == c.VALIDATOR_TYPE and "accepted a dict" in f.message


def test_validator_accepting_a_wrong_length_is_reported(plugin: Plugin) -> None:
    plugin.edit("validate.py", "    if take.shape[0] != n:", "    take = take[:n]\n    if take.shape[0] > n:")
    problem, _ = plugin.load()
    found = c.check_validator(problem, VALID)
    assert checks(found) == [c.VALIDATOR_LENGTH]
    assert "one element shorter (19 instead of 20)" in found[0].message


def test_validator_accepting_nan_is_reported(plugin: Plugin) -> None:
    plugin.write("validate.py", '''
import numpy as np

from evolve.problem import InvalidOutput


def validate_selection(output, weights, capacity):
    if not isinstance(output, (list, tuple, np.ndarray)):
        raise InvalidOutput("not a sequence")
    take = np.asarray(output, dtype=float)
    if take.shape != (len(weights),):
        raise InvalidOutput("wrong length")
    if (take < 0).any() or (take > 1).any():
        raise InvalidOutput("entries must be 0 or 1")
    if weights[take == 1].sum() > capacity:
        raise InvalidOutput("too heavy")
    return take
''')
    problem, _ = plugin.load()
    [f] = c.check_validator(problem, VALID)
    assert f.check == c.VALIDATOR_NAN and "NaN" in f.message


def test_validator_checks_without_a_sample_cover_none_and_types_only(plugin: Plugin) -> None:
    problem, _ = plugin.load()
    assert c.check_validator(problem) == []
    kinds = {check for check, _, _ in c.bad_outputs(None)}
    assert kinds == {c.VALIDATOR_NONE, c.VALIDATOR_TYPE}


def test_generic_bad_outputs_of_a_tuple_of_arrays() -> None:
    sample = (np.arange(6).reshape(2, 3), np.zeros(4, dtype=np.int64))
    bad = {desc: value for _, desc, value in c.bad_outputs(sample)}
    shorter = next(v for d, v in bad.items() if "shorter" in d)
    assert isinstance(shorter, tuple) and len(shorter) == 1
    nan = next(v for d, v in bad.items() if "NaN" in d)
    assert np.isnan(nan[0].flat[0]) and nan[0].shape == (2, 3) and nan[1] is sample[1]


# --- running the seed and the baselines -------------------------------------------------------------------
def test_seed_invalid_on_one_split_is_reported(plugin: Plugin, sandbox) -> None:
    plugin.edit("initial.py", "    return take\n", "    return take[:-1] if n >= 60 else take\n")
    problem, _ = plugin.load()
    found, sample = c.check_seed_runs(problem, sandbox, eval_hint=f"problem.path={plugin.dir}")
    [f] = found
    assert f.check == c.SEED_VALID and f.file.endswith("initial.py")
    assert "the seed is invalid on split 'holdout'" in f.message and "expected 60 entries" in f.message
    assert "evolve eval" in f.fix and "split=holdout" in f.fix
    assert sample is not None


def test_seed_that_crashes_is_reported_on_one_line(plugin: Plugin, sandbox) -> None:
    plugin.edit("initial.py", "    return value / (weight + 100.0)", "    return value / 0")
    problem, _ = plugin.load()
    [f] = c.check_seed_runs(problem, sandbox)[0]
    assert f.check == c.SEED_VALID and "ZeroDivisionError" in f.message and "\n" not in str(f)


def test_nondeterministic_seed_score_is_reported(plugin: Plugin, sandbox) -> None:
    plugin.edit("initial.py", "import numpy as np\n", "import time\n\nimport numpy as np\n")
    plugin.edit("initial.py", "    return value / (weight + 100.0)",
                "    return value / (weight + 100.0) + time.perf_counter_ns() % 1000")
    problem, _ = plugin.load()
    [f] = c.check_seed_runs(problem, sandbox)[0]
    assert f.check == c.SEED_DETERMINISM and f.file.endswith("initial.py")
    assert "two runs of the seed score differently on split 'quick'" in f.message


def test_valid_deterministic_seed_passes_and_yields_a_sample(plugin: Plugin, sandbox) -> None:
    problem, _ = plugin.load()
    found, sample = c.check_seed_runs(problem, sandbox)
    assert found == [] and len(sample) == 20 and set(sample) <= {0, 1}


def test_scorer_raising_something_else_than_invalid_output_is_reported(plugin: Plugin, sandbox) -> None:
    plugin.edit("problem.py", 'value = sum(m["value"] for m in metrics)', 'value = sum(m["val"] for m in metrics)')
    problem, _ = plugin.load()
    [f] = c.check_seed_runs(problem, sandbox)[0]
    culprit = next(i for i, line in enumerate(plugin.path("problem.py").read_text().splitlines(), 1)
                   if 'm["val"]' in line)
    assert f.check == c.SCORER and f.file == f"{plugin.path('problem.py')}:{culprit}" and "KeyError" in f.message


def test_summary_metric_missing_from_aggregate_is_reported(plugin: Plugin, sandbox) -> None:
    plugin.edit("problem.py", 'summary_metrics = ("score", "gap_pct")', 'summary_metrics = ("score", "gap")')
    problem, _ = plugin.load()
    [f] = c.check_seed_runs(problem, sandbox)[0]
    assert f.check == c.SUMMARY_METRICS and "gap" in f.message


def test_failing_baseline_is_reported(plugin: Plugin, sandbox) -> None:
    plugin.edit("baselines/ratio.py", "    return take\n", "    return take[1:]\n")
    problem, _ = plugin.load()
    [f] = c.check_baselines(problem, sandbox)
    assert f.check == c.BASELINE_VALID and f.file.endswith("baselines/ratio.py")
    assert "invalid on split 'quick'" in f.message


def test_baseline_that_does_not_parse_is_reported_without_running_it(plugin: Plugin, sandbox) -> None:
    plugin.edit("baselines/lightest.py", "def solve(", "def solve((")
    problem, _ = plugin.load()
    assert c.check_baselines(problem, sandbox) == []
    [f] = c.check_baseline_sources(problem)
    assert f.check == c.BASELINE_SOURCE and f.file.endswith("baselines/lightest.py")


# --- the whole check, and fast_check ----------------------------------------------------------------------
def test_check_problem_reports_each_broken_part_once(plugin: Plugin) -> None:
    plugin.edit("initial.py", "# EVOLVE-BLOCK-END\n", "")
    plugin.edit("generator.py", "np.random.default_rng([seed, index])", "np.random.default_rng()")
    plugin.edit("baselines/ratio.py", "    return take\n", "    return None\n")
    assert checks(plugin.findings()) == [c.SEED_MARKERS, c.INSTANCES_DETERMINISM, c.BASELINE_VALID]


def test_check_problem_skips_named_checks(plugin: Plugin) -> None:
    plugin.edit("initial.py", "# EVOLVE-BLOCK-END\n", "")
    assert c.check_problem(plugin.name, str(plugin.dir), skip=[c.SEED_MARKERS]) == []


def test_fast_check_passes_on_smtt() -> None:
    from evolve.plugins import load_problem

    assert c.fast_check(load_problem("smtt")) == []


def test_fast_check_reports_static_breakage_as_lines(plugin: Plugin) -> None:
    plugin.edit("initial.py", SEED_ENTRY_BODY, "def solve_it(weights, values, capacity):")
    plugin.edit("validate.py", '    n = len(weights)\n', '    n = len(weights)\n    if output is None:\n'
                '        return np.zeros(n, dtype=np.int64)\n')
    problem, _ = plugin.load()
    lines = c.fast_check(problem)
    assert len(lines) == 2
    assert lines[0].startswith(str(plugin.path("initial.py")).lstrip("/")) or "initial.py:" in lines[0]
    assert "accepted None" in lines[1]


def test_plugin_that_fails_to_import_is_blamed_on_the_broken_file_and_line(plugin: Plugin) -> None:
    plugin.write("validate.py", plugin.path("validate.py").read_text() + "\nbroken = (\n")
    problem, _, [f] = c.load_checked(plugin.name, str(plugin.dir))
    lines = plugin.path("validate.py").read_text().splitlines()
    assert problem is None and f.check == c.MAKE and f.file == f"{plugin.path('validate.py')}:{len(lines)}"
    assert "SyntaxError" in f.message


def test_validator_crash_is_blamed_on_the_line_that_raised(plugin: Plugin) -> None:
    plugin.edit("validate.py", '    n = len(weights)\n', '    n = len(weights)\n'
                '    output = np.asarray(output, dtype=np.int64)\n')
    problem, _ = plugin.load()
    [f] = c.check_validator(problem, kinds=(c.VALIDATOR_NONE,))
    lines = plugin.path("validate.py").read_text().splitlines()
    culprit = next(i for i, line in enumerate(lines, 1) if "np.asarray(output" in line)
    assert f.file == f"{plugin.path('validate.py')}:{culprit}"


def test_a_harness_budget_the_sandbox_cannot_enforce_is_reported(plugin: Plugin) -> None:
    """An endless timeout would otherwise fail inside the evaluation, reported as a crash of the seed."""
    plugin.edit("problem.py", "harness = Harness(timeout_s=2.0, split_timeout_s=20.0)",
                "harness = Harness(timeout_s=float('inf'), split_timeout_s=20.0, repeats=0)")
    problem, _ = plugin.load()
    findings = c.check_attributes(problem)
    assert [f.check for f in findings] == [c.ATTRIBUTES, c.ATTRIBUTES]
    assert "`harness.timeout_s` is inf" in findings[0].message and findings[0].file.endswith("problem.py")
    assert "`harness.repeats` is 0" in findings[1].message
    assert any("harness.timeout_s" in line for line in c.fast_check(problem))


def test_a_holdout_from_a_public_seed_is_reported(plugin: Plugin) -> None:
    plugin.edit("problem.py", "seed = self.holdout_seed(seed)", "pass")
    problem, factory = plugin.load()
    [f] = c.check_holdout_secret(problem, factory)
    assert f.check == c.HOLDOUT_SECRET and "secret" in f.message and "holdout_seed" in f.fix


def test_a_holdout_drawn_from_the_secret_passes(plugin: Plugin) -> None:
    problem, factory = plugin.load()
    assert c.check_holdout_secret(problem, factory) == []


def test_a_declared_public_holdout_passes(plugin: Plugin) -> None:
    plugin.edit("problem.py", "seed = self.holdout_seed(seed)", "pass")
    problem, factory = plugin.load()
    type(problem).public_holdout = "a published benchmark"
    assert c.check_holdout_secret(problem, factory) == []
