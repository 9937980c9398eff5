"""Finding problem plugins: the repository's `problems/`, the `evolve.problems` entry points, or a folder.

A plugin is a package whose `make(options) -> Problem` builds the problem. The core never imports a
problem module by name in code; it resolves one here, by registered name or path.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.errors import ProblemError
from evolve.problem import Problem

ENTRY_POINT_GROUP = "evolve.problems"


@dataclass(frozen=True)
class PluginRef:
    """Where a problem comes from: `builtin`, `entry-point` or `path`."""

    name: str
    source: str
    location: str


def discover() -> list[PluginRef]:
    """Every problem that can be named: built-ins first, then installed entry points."""
    refs: list[PluginRef] = []
    import problems as builtin

    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        if info.ispkg and not info.name.startswith("_"):
            refs.append(PluginRef(info.name, "builtin", f"problems.{info.name}"))
    seen = {r.name for r in refs}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in seen:
            refs.append(PluginRef(ep.name, "entry-point", ep.value))
            seen.add(ep.name)
    return refs


def _factory_from_module(module: Any, where: str) -> Callable[..., Problem]:
    make = getattr(module, "make", None)
    if not callable(make):
        raise ProblemError(f"{where} has no `make(options) -> Problem` function; define one in its __init__.py")
    return make  # type: ignore[no-any-return]


def source_path(problem_cfg: Any) -> str | None:
    """The folder a run's problem comes from: `problem.openevolve` (checked to be one) or `problem.path`."""
    folder = problem_cfg.get("openevolve")
    if folder:
        from evolve.openevolve import is_openevolve_dir

        if problem_cfg.get("path"):
            raise ProblemError("give problem.openevolve=DIR or problem.path=DIR, not both")
        if not Path(folder).expanduser().is_dir():
            raise ProblemError(f"problem.openevolve={folder}: no such folder")
        if not is_openevolve_dir(Path(folder).expanduser()):
            raise ProblemError(f"problem.openevolve={folder}: not a folder in OpenEvolve's format (an "
                               "evaluator.py and no __init__.py); a native plugin folder goes in problem.path=")
        return str(folder)
    return problem_cfg.get("path") or None


def _load_path(path: str) -> Callable[..., Problem]:
    folder = Path(path).expanduser().resolve()
    if not folder.exists():
        raise ProblemError(f"problem.path={path}: the folder {folder} does not exist; give the folder of a "
                           "problem plugin (`evolve new-problem NAME` writes one)")
    if not folder.is_dir():
        raise ProblemError(f"problem.path={path}: {folder} is a file, not a folder; give the plugin's folder "
                           "(the one holding __init__.py)")
    init = folder / "__init__.py"
    from evolve.openevolve import factory, is_openevolve_dir

    if is_openevolve_dir(folder):
        return factory(folder)
    if not init.is_file():
        raise ProblemError(f"problem.path={path}: no __init__.py in {folder}; a problem folder is a Python "
                           "package whose __init__.py defines make(options)")
    mod_name = f"evolve_user_problem_{folder.name}"
    parent = str(folder.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    spec = importlib.util.spec_from_file_location(mod_name, init, submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise ProblemError(f"problem.path={path}: cannot import {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ProblemError(f"problem.path={path}: importing {init} failed: {type(exc).__name__}: {exc}") from exc
    return _factory_from_module(module, str(init))


def load_factory(name: str, path: str | None = None) -> Callable[..., Problem]:
    """The `make` function of the problem called `name` (or the package at `path`)."""
    if path:
        return _load_path(path)
    for ref in discover():
        if ref.name != name:
            continue
        try:
            if ref.source == "builtin":
                return _factory_from_module(importlib.import_module(ref.location), ref.location)
            ep = next(e for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if e.name == name)
            obj = ep.load()
        except ProblemError:
            raise
        except Exception as exc:
            raise ProblemError(f"problem {name!r} ({ref.location}) failed to import: "
                               f"{type(exc).__name__}: {exc}") from exc
        return obj if callable(obj) and not hasattr(obj, "make") else _factory_from_module(obj, ref.location)
    known = ", ".join(r.name for r in discover()) or "none"
    raise ProblemError(f"unknown problem {name!r}; known problems: {known} "
                       "(or give problem.path=FOLDER for a plugin folder)")


def load_problem(name: str, path: str | None = None, options: Mapping[str, Any] | None = None) -> Problem:
    """Build a problem by registered name or folder, with its options; errors name the fix."""
    factory = load_factory(name, path)
    try:
        problem = factory(dict(options or {}))
    except ProblemError:
        raise
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"problem {name!r}: bad problem.options: {exc}") from exc
    if not isinstance(problem, Problem):
        raise ProblemError(f"problem {name!r}: make() returned {type(problem).__name__}, not an "
                           "evolve.problem.Problem")
    return problem
