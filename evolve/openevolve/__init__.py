"""Run OpenEvolve-format problems unchanged: `evolve run problem.openevolve=DIR`.

An OpenEvolve problem is a folder with an initial program (EVOLVE-BLOCK markers), an `evaluator.py` whose
`evaluate(program_path)` (or cascade `evaluate_stage1/2/3`) returns metrics or an `EvaluationResult`, and
optionally a `config.yaml`. `make(folder, options)` turns it into an evolve Problem (see problem.py for how
it runs and what its score is worth); docs/openevolve.md maps OpenEvolve's settings to evolve's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evolve.errors import ProblemError
from evolve.openevolve.problem import Layout, OpenEvolveProblem
from evolve.openevolve.settings import read_settings
from evolve.problem import Problem

#: problem.options an OpenEvolve folder takes
OPTIONS = ("initial", "evaluator", "config", "score_metric", "holdout", "holdout_file", "entry")
INITIAL_NAMES = ("initial_program.py", "initial.py")


def is_openevolve_dir(folder: Path) -> bool:
    """A folder in OpenEvolve's format: an evaluator.py and no __init__.py (a native plugin has one)."""
    return (folder / "evaluator.py").is_file() and not (folder / "__init__.py").is_file()


def factory(folder: str | Path) -> Callable[[Mapping[str, Any]], Problem]:
    """`make(options)` for the OpenEvolve problem in `folder`, as plugins.load_factory returns for a plugin."""
    return functools.partial(make, Path(folder).expanduser().resolve())


def _file(folder: Path, value: Any, key: str) -> Path:
    path = Path(str(value)).expanduser()
    path = path if path.is_absolute() else folder / path
    if not path.is_file():
        raise ProblemError(f"problem.options.{key}={value}: no such file ({path})")
    return path.resolve()


def layout(folder: Path, options: Mapping[str, Any]) -> Layout:
    """Which files of `folder` are the seed, the evaluator, the config and the hold-out, from the options."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} for an OpenEvolve problem; it takes "
                         f"{', '.join(OPTIONS)}")
    if not folder.is_dir():
        raise ProblemError(f"problem.openevolve={folder}: no such folder")
    if options.get("initial"):
        initial = _file(folder, options["initial"], "initial")
    else:
        found = next((folder / n for n in INITIAL_NAMES if (folder / n).is_file()), None)
        if found is None:
            raise ProblemError(f"{folder}: no {' or '.join(INITIAL_NAMES)}; name the initial program with "
                               "problem.options.initial=FILE")
        initial = found
    evaluator = _file(folder, options.get("evaluator") or "evaluator.py", "evaluator")
    config_opt = options.get("config", "config.yaml")
    config = None
    if config_opt:
        config = folder / str(config_opt) if not Path(str(config_opt)).is_absolute() else Path(str(config_opt))
        if not config.is_file():
            if "config" in options:
                raise ProblemError(f"problem.options.config={config_opt}: no such file ({config})")
            config = None
    holdout_file = _file(folder, options["holdout_file"], "holdout_file") if options.get("holdout_file") else None
    holdout = options.get("holdout")
    if holdout is not None and holdout_file is not None:
        raise ValueError("give either holdout (a function of the evaluator) or holdout_file, not both")
    if holdout is not None:
        from evolve.openevolve.problem import _functions

        if str(holdout) not in _functions(evaluator.read_text(encoding="utf-8")):
            raise ProblemError(f"problem.options.holdout={holdout}: {evaluator} defines no function {holdout}(); "
                               "name a function that takes program_path, or use holdout_file=FILE")
    for key in ("score_metric", "entry"):
        if options.get(key) is not None and not isinstance(options[key], str):
            raise ValueError(f"{key} must be a name, not {options[key]!r}")
    return Layout(folder=folder, initial=initial, evaluator=evaluator, config=config, holdout_file=holdout_file,
                  holdout_function=str(holdout) if holdout is not None else None,
                  score_metric=options.get("score_metric"), entry=options.get("entry"))


def make(folder: Path, options: Mapping[str, Any] | None = None) -> Problem:
    """The evolve Problem of the OpenEvolve folder `folder`, with problem.options (see OPTIONS)."""
    lay = layout(folder, dict(options or {}))
    return OpenEvolveProblem(lay, read_settings(lay.config))


__all__ = ["OPTIONS", "OpenEvolveProblem", "factory", "is_openevolve_dir", "make"]
