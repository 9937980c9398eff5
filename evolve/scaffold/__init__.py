"""`evolve new-problem`: write a working plugin skeleton from the templates in `template/`.

The skeleton is a small but real toy problem (0/1 knapsack: generator, validator, seed, baselines,
description, tests) that passes `evolve check-problem` and runs under `evolve run` unchanged; its comments
say what to replace. Templates are Jinja2 with two variables: `name` and `class_name`.
"""

from __future__ import annotations

import keyword
import sys
from pathlib import Path

import jinja2

from evolve.errors import ProblemError

TEMPLATES = Path(__file__).with_name("template")
#: names the skeleton may not take: they would shadow modules the framework or a candidate imports
RESERVED = frozenset({"evolve", "evaluators", "problems", "prompts", "tests", "numpy", "hydra", "omegaconf"})


def class_name(name: str) -> str:
    """`my_problem` -> `MyProblem` (the Problem subclass's name)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Problem"


def check_name(name: str) -> None:
    """A problem name is a lower-case Python identifier that shadows no module; else a ProblemError."""
    if not name.isidentifier() or keyword.iskeyword(name) or name != name.lower() or name.startswith("_"):
        raise ProblemError(f"{name!r} is not a valid problem name: use a lower-case Python identifier "
                           "(letters, digits, underscores; e.g. knapsack or bin_packing)")
    if name in RESERVED or name in sys.stdlib_module_names:
        raise ProblemError(f"{name!r} is already the name of a Python module; choose another problem name")


def target_name(template: Path, name: str) -> Path:
    """Where a template lands in the skeleton (its path relative to the plugin folder)."""
    rel = template.relative_to(TEMPLATES)
    if rel.name == "test_problem.py.tmpl":
        rel = rel.with_name(f"test_{name}.py.tmpl")
    text = str(rel)
    for suffix in (".tmpl", ".j2"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return Path(text)


def render(name: str) -> dict[Path, str]:
    """The skeleton's files (relative path -> text) for a problem called `name`."""
    check_name(name)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    files = {}
    for template in sorted(TEMPLATES.rglob("*")):
        if template.is_file() and template.suffix in (".tmpl", ".j2"):
            text = env.from_string(template.read_text(encoding="utf-8")).render(
                name=name, class_name=class_name(name))
            files[target_name(template, name)] = text
    return files


def write_skeleton(name: str, parent: Path) -> Path:
    """Write the skeleton into `parent/name` (which must not exist yet) and return that folder."""
    files = render(name)
    folder = Path(parent) / name
    if folder.exists():
        raise ProblemError(f"{folder} already exists; choose another name or --dir, or delete it first")
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


__all__ = ["TEMPLATES", "check_name", "class_name", "render", "write_skeleton"]
