"""`evolve problems`, `evolve new-problem` and `evolve check-problem`: finding, scaffolding and checking plugins.

Output is plain lines (one per problem, one per finding) so that it reads the same in a terminal, a log
or a test. Exit codes: 0 when all is well, 1 when a check fails, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evolve.errors import EvolveError, ProblemError
from evolve.plugins import PluginRef, discover

NEW_PROBLEM_HELP = """\
Writes a working plugin skeleton: a toy 0/1 knapsack problem (generator, validator, seed program with
EVOLVE-BLOCK markers, baselines, description, tests) named NAME, to replace part by part with your own.
Default folder: ./problems when the current directory has one (in a checkout of evolve the new problem is
then found by name), else the current directory. See docs/plugins.md."""


def _folder_problems(folders: list[Path]) -> list[PluginRef]:
    """Plugin folders (a package with a `def make`) and OpenEvolve-format folders directly inside `folders`."""
    from evolve.openevolve import is_openevolve_dir

    refs = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            init = sub / "__init__.py"
            if init.is_file() and "def make" in init.read_text(encoding="utf-8", errors="replace"):
                refs.append(PluginRef(sub.name, "folder", str(sub)))
            elif sub.is_dir() and is_openevolve_dir(sub):
                refs.append(PluginRef(sub.name, "openevolve", str(sub)))
    return refs


def _builtin_dir() -> Path | None:
    try:
        import problems
    except ImportError:
        return None
    return Path(next(iter(problems.__path__))).resolve()


def cmd_problems(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="evolve problems", description="List the problems evolve can find: "
                                     "built-ins (problems/), installed `evolve.problems` entry points, and "
                                     "plugin folders (./problems and --dir), with where each comes from.")
    parser.add_argument("--dir", action="append", default=[], type=Path,
                        help="also list the plugin folders inside DIR (repeatable)")
    args = parser.parse_args(argv)
    refs = discover()
    folders = list(args.dir)
    local = Path("problems")
    if local.is_dir() and local.resolve() != _builtin_dir():
        folders.insert(0, local)
    known = {(r.name, r.source) for r in refs}
    refs += [r for r in _folder_problems(folders) if (r.name, r.source) not in known]
    width = max([len(r.name) for r in refs] + [4])
    print(f"{'NAME':<{width}}  {'SOURCE':<11}  LOCATION")
    for r in refs:
        print(f"{r.name:<{width}}  {r.source:<11}  {r.location}")
    if any(r.source == "folder" for r in refs):
        print("\nrun a folder with `evolve run problem.path=LOCATION`; the others with `evolve run problem=NAME`")
    if any(r.source == "openevolve" for r in refs):
        print("run an OpenEvolve folder with `evolve run problem.openevolve=LOCATION` (docs/openevolve.md)")
    return 0


def default_dir(cwd: Path | None = None) -> Path:
    """Where `new-problem` writes without --dir: ./problems if it exists, else the current directory."""
    cwd = cwd or Path.cwd()
    return cwd / "problems" if (cwd / "problems").is_dir() else cwd


def cmd_new_problem(argv: list[str]) -> int:
    from evolve.scaffold import write_skeleton

    parser = argparse.ArgumentParser(prog="evolve new-problem", description=NEW_PROBLEM_HELP)
    parser.add_argument("name", help="the problem's name: a lower-case Python identifier, e.g. knapsack")
    parser.add_argument("--dir", type=Path, default=None,
                        help="the folder to create NAME/ in (default: ./problems if it exists, else .)")
    args = parser.parse_args(argv)
    taken = next((r for r in discover() if r.name == args.name), None)
    if taken is not None:
        raise ProblemError(f"a problem called {args.name!r} already exists ({taken.source}: {taken.location}); "
                           "choose another name")
    parent = args.dir if args.dir is not None else default_dir()
    parent.mkdir(parents=True, exist_ok=True)
    folder = write_skeleton(args.name, parent)
    by_name = parent.resolve() == _builtin_dir()
    target = args.name if by_name else _shown(folder)
    run_arg = f"problem={args.name}" if by_name else f"problem.path={_shown(folder)}"
    print(f"wrote the {args.name} plugin (a toy 0/1 knapsack to replace) in {_shown(folder)}/")
    print("next:")
    print(f"  python -m pytest {_shown(folder / 'tests')}      # its own tests")
    print(f"  evolve check-problem {target}         # the contract checks")
    print(f"  evolve run {run_arg}     # evolve its seed (offline mutator by default)")
    print("then replace generator.py, validate.py, problem.py, initial.py, description.md and baselines/ "
          "with your problem (docs/plugins.md walks through it)")
    return 0


def _shown(path: Path) -> str:
    from evolve.testing.contract import show

    return show(path)


def resolve_target(target: str) -> tuple[str, str | None]:
    """`check-problem` takes a registered name or a folder: (name, path or None)."""
    looks_like_path = any(sep in target for sep in ("/", "\\")) or target.startswith(".")
    if not looks_like_path and any(r.name == target for r in discover()):
        return target, None
    folder = Path(target)
    if folder.is_dir():
        return folder.resolve().name, str(folder)
    if looks_like_path:
        raise ProblemError(f"{target}: no such folder")
    known = ", ".join(r.name for r in discover()) or "none"
    raise ProblemError(f"unknown problem {target!r} (known: {known}) and no folder of that name here")


def cmd_check_problem(argv: list[str]) -> int:
    from evolve.testing.contract import check_problem

    parser = argparse.ArgumentParser(
        prog="evolve check-problem",
        description="Run the plugin contract checks: the seed parses, has EVOLVE-BLOCK markers, defines the "
                    "entry function and imports only what the sandbox can; it is valid on every split and "
                    "scores the same twice; baselines are valid; the validator rejects None, wrong types, "
                    "wrong lengths and NaN; instances are deterministic; the description names the entry "
                    "function. One line per failure, naming the file and the fix.")
    parser.add_argument("target", metavar="NAME|PATH", help="a problem name (`evolve problems`) or a plugin folder")
    parser.add_argument("--options", default="{}", help="problem.options as a JSON object, e.g. '{\"train_n\": 30}'")
    parser.add_argument("--skip", action="append", default=[], metavar="CHECK",
                        help="leave out a check by its id (shown in brackets), e.g. validator-length")
    args = parser.parse_args(argv)
    try:
        options = json.loads(args.options)
    except json.JSONDecodeError as exc:
        parser.error(f"--options is not JSON: {exc}")
    if not isinstance(options, dict):
        parser.error("--options must be a JSON object, e.g. '{\"train_n\": 30}'")
    try:
        name, path = resolve_target(args.target)
    except ProblemError as exc:
        print(f"FAIL [make] {exc}")
        return 1
    where = f"folder {_shown(Path(path))}" if path else "registered name"
    print(f"checking problem {name!r} ({where})…", flush=True)
    from evolve.openevolve import is_openevolve_dir

    hint = (f"problem.openevolve={path}" if is_openevolve_dir(Path(path)) else f"problem.path={path}") if path \
        else f"problem={name}"
    findings = check_problem(name, path, options, skip=args.skip, eval_hint=hint)
    for f in findings:
        print(f"FAIL [{f.check}] {f}")
    if findings:
        print(f"{len(findings)} problem(s) found: fix them before `evolve run` spends any budget")
        return 1
    print("all contract checks passed")
    return 0


COMMANDS = {"problems": cmd_problems, "new-problem": cmd_new_problem, "check-problem": cmd_check_problem}


def main(cmd: str, rest: list[str]) -> int:
    """Run one of the plugin commands; called by `evolve.cli` with the command word and its arguments."""
    if cmd not in COMMANDS:
        raise EvolveError(f"unknown plugin command {cmd!r}; use one of {', '.join(COMMANDS)}")
    try:
        return COMMANDS[cmd](rest)
    except SystemExit as exc:  # argparse: --help exits 0, a usage error 2
        return int(exc.code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
