"""The problem plugin contract, checked: plain functions that return findings, and reusable contract tests.

`check_problem` is what `evolve check-problem` runs (seed, description, instances, validator, baselines,
through the real sandbox). `fast_check` is the sandbox-free subset `evolve run` runs at start-up.
`ProblemContract` turns the checks into pytest tests a plugin author subclasses (as optuna.testing
does for storages and samplers). Every finding names the file to change and says what to do.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import math
import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from evaluators import wire
from evaluators.sandbox import DEFAULT_PRELOAD, Limits, Sandbox, SandboxResult, limit_error
from evolve.edit.blocks import BlockError, find_blocks
from evolve.errors import ProblemError
from evolve.evaluation import StageResult, evaluate, run_split, sandbox_imports
from evolve.plugins import load_factory
from evolve.problem import SPLITS, Instance, InvalidOutput, Problem

#: top-level modules a candidate can import: those the sandbox zygote preloads (the child has no sys.path)
SANDBOX_MODULES = frozenset({m.split(".")[0] for m in DEFAULT_PRELOAD} | {"__future__"})

# Check identifiers: stable names for `skip=` and for tests.
MAKE = "make"
ATTRIBUTES = "attributes"
SEED_FILE = "seed-file"
SEED_SYNTAX = "seed-syntax"
SEED_MARKERS = "seed-markers"
SEED_ENTRY = "seed-entry"
SEED_ARITY = "seed-arity"
SEED_IMPORTS = "seed-imports"
ALLOWED_IMPORTS = "allowed-imports"
DESCRIPTION = "description"
INSTANCES = "instances"
SPLIT_OVERLAP = "split-overlap"
INSTANCES_DETERMINISM = "instances-determinism"
HOLDOUT_SECRET = "holdout-secret"
VALIDATOR_NONE = "validator-none"
VALIDATOR_TYPE = "validator-type"
VALIDATOR_LENGTH = "validator-length"
VALIDATOR_NAN = "validator-nan"
SEED_VALID = "seed-valid"
SEED_DETERMINISM = "seed-determinism"
SCORER = "scorer"
SUMMARY_METRICS = "summary-metrics"
BASELINE_SOURCE = "baseline-source"
BASELINE_VALID = "baseline-valid"

_NO_SCORE_FIX = ("validate the output's type, shape and values first and raise evolve.problem.InvalidOutput "
                 "when they are wrong")


@dataclass(frozen=True)
class Finding:
    """One broken rule of the contract: which check, the file to change, what is wrong and the fix."""

    check: str
    file: str
    message: str
    fix: str

    def __str__(self) -> str:
        text = f"{self.file}: {self.message.rstrip('.')}. Fix: {self.fix}"
        return " ".join(text.split())  # always one line


def show(path: Path | str) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _source_file(obj: Any, fallback: Path) -> str:
    try:
        found = inspect.getsourcefile(obj)
    except TypeError:
        found = None
    return show(found or fallback)


def _problem_file(problem: Problem, method: str | None = None) -> str:
    """The file defining the problem class (or the method of it that a finding is about)."""
    target: Any = type(problem)
    if method is not None:
        for klass in type(problem).__mro__:
            if method in vars(klass):
                target = vars(klass)[method]
                break
    return _source_file(target, problem.package_dir / "problem.py")


def blame(exc: BaseException, folder: Path, default: str) -> str:
    """`file:line` of the innermost traceback frame inside the plugin's `folder` (else `default`)."""
    root = Path(folder).resolve()
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve().is_relative_to(root):
        return f"{show(exc.filename)}:{exc.lineno}"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            return f"{show(path)}:{frame.lineno}"
    return default


def splits_of(problem: Problem) -> tuple[str, ...]:
    """The splits the problem has: all of SPLITS, or all but the hold-out when it has none."""
    return SPLITS if problem.has_holdout else tuple(s for s in SPLITS if s != "holdout")


def _one_line(text: str | None, limit: int = 300) -> str:
    """A multi-line error (e.g. a traceback) as one line: its first and last lines."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    if not lines:
        return "no details"
    line = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}"
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- loading ---------------------------------------------------------------------------------------------
def load_checked(name: str, path: str | None = None, options: Mapping[str, Any] | None = None
                 ) -> tuple[Problem | None, Callable[..., Problem] | None, list[Finding]]:
    """Build the problem like `evolve run` does, turning every way `make()` can fail into a finding."""
    where = show(Path(path) / "__init__.py") if path else name
    try:
        factory = load_factory(name, path)
    except ProblemError as exc:
        text = _one_line(str(exc), 600)
        if "make(options)" in text:
            fix = "define `make(options) -> Problem` in the package's __init__.py (see docs/plugins.md)"
        elif exc.__cause__ is not None:
            where = blame(exc.__cause__, Path(path) if path else Path.cwd(), where)
            fix = "fix the error in the plugin's code (importing the package must succeed)"
        else:
            fix = "use a name `evolve problems` lists, or the plugin's folder"
        return None, None, [Finding(MAKE, where, text, fix)]
    where = _source_file(factory, Path(where))
    try:
        problem = factory(dict(options or {}))
    except Exception as exc:
        where = blame(exc, Path(where).parent, where)
        return None, factory, [Finding(MAKE, where, f"make({dict(options or {})}) raised "
                                       f"{type(exc).__name__}: {_one_line(str(exc))}",
                                       "make(options) must build the problem for any valid options and raise "
                                       "ValueError naming the key for a bad one")]
    if not isinstance(problem, Problem):
        return None, factory, [Finding(MAKE, where, f"make() returned {type(problem).__name__}, not an "
                                       "evolve.problem.Problem", "return an instance of your Problem subclass")]
    return problem, factory, []


# --- static checks: no sandbox, no instances run ---------------------------------------------------------
def check_attributes(problem: Problem) -> list[Finding]:
    """`name` and `entry` are identifiers; the package folder exists; allowed imports are importable."""
    file = _problem_file(problem)
    out = []
    if not (isinstance(problem.name, str) and problem.name):
        out.append(Finding(ATTRIBUTES, file, "the problem class sets no `name`",
                           'set `name = "<your problem>"` on the Problem subclass'))
    if not (isinstance(problem.entry, str) and problem.entry.isidentifier()):
        out.append(Finding(ATTRIBUTES, file, f"`entry` is {problem.entry!r}, not a function name",
                           "set `entry` to the name of the function initial.py defines and the evaluator calls"))
    if Path(problem.package_dir) == Path() or not Path(problem.package_dir).is_dir():
        out.append(Finding(ATTRIBUTES, file, f"`package_dir` {problem.package_dir} is not a folder",
                           "set `package_dir = Path(__file__).resolve().parent`"))
    out += _harness_findings(problem.harness, file)
    extra = sorted(m for m in getattr(problem, "allowed_imports", ()) if m.split(".")[0] not in _modules(problem))
    if extra:
        out.append(Finding(ALLOWED_IMPORTS, file, f"`allowed_imports` lists {', '.join(extra)}, which the "
                           "sandbox cannot import",
                           f"list only modules the sandbox preloads ({', '.join(sorted(_modules(problem)))})"))
    return out


def _harness_findings(h: Any, file: str) -> list[Finding]:
    """The harness's budgets are numbers the sandbox can enforce, and its call counts make sense."""
    out = []
    # the sandbox limit each budget raises (evolve.evaluation), checked by the sandbox's own rule
    for key, limit in (("timeout_s", "instance_wall_s"), ("split_timeout_s", "split_wall_s")):
        value = getattr(h, key, None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or limit_error(limit, value) is not None:
            out.append(Finding(ATTRIBUTES, file, f"`harness.{key}` is {value!r}, not a positive, finite number "
                               "of seconds", f"set `Harness({key}=…)` to the wall-clock budget in seconds"))
    if not (isinstance(h.repeats, int) and h.repeats >= 1 and isinstance(h.warmup, int) and h.warmup >= 0):
        out.append(Finding(ATTRIBUTES, file, f"`harness.repeats` is {h.repeats!r} and `harness.warmup` "
                           f"{h.warmup!r}", "use repeats of 1 or more and warmup of 0 or more"))
    return out


def _defines(tree: ast.Module, name: str) -> ast.AST | None:
    """The top-level statement binding `name` (a def, an assignment or an import), if any."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return node
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return node
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name.split(".")[0]) == name for a in node.names):
            return node
    return None


def _modules(problem: Problem) -> frozenset[str]:
    """Top-level modules this problem's candidates can import: the preloaded ones and its sandbox_modules."""
    return SANDBOX_MODULES | {m.split(".")[0] for m in problem.sandbox_modules}


def check_program_source(code: str, entry: str, file: str, *, seed: bool = True,
                         n_args: int | None = None, importable: frozenset[str] = SANDBOX_MODULES) -> list[Finding]:
    """A program's text: it parses, (for the seed) has EVOLVE-BLOCK markers, defines `entry` at module
    level with a signature that accepts `n_args` positional arguments, and imports only what the sandbox
    can import."""
    ids = {"syntax": SEED_SYNTAX, "entry": SEED_ENTRY, "arity": SEED_ARITY, "imports": SEED_IMPORTS} if seed \
        else dict.fromkeys(("syntax", "entry", "arity", "imports"), BASELINE_SOURCE)
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [Finding(ids["syntax"], file, f"line {exc.lineno}: the program does not parse ({exc.msg})",
                        "fix the syntax error (python -m py_compile shows it)")]
    out: list[Finding] = []
    if seed:
        try:
            find_blocks(code)
        except BlockError as exc:
            out.append(Finding(SEED_MARKERS, file, str(exc),
                               "put a '# EVOLVE-BLOCK-START' line before and a '# EVOLVE-BLOCK-END' line after "
                               "the code evolution may change (keep the entry function's frame outside)"))
    node = _defines(tree, entry)
    if node is None:
        out.append(Finding(ids["entry"], file, f"no module-level function `{entry}`, the entry function the "
                           "evaluator calls", f"define `def {entry}(...)` at module level (or change `entry` "
                           "in the problem class to the function's name)"))
    elif n_args is not None and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        a = node.args
        positional = [*a.posonlyargs, *a.args]
        required = len(positional) - len(a.defaults)
        if not (required <= n_args and (a.vararg is not None or n_args <= len(positional))):
            params = ", ".join(p.arg for p in positional)
            out.append(Finding(ids["arity"], file, f"`{entry}({params})` cannot take the {n_args} positional "
                               f"argument(s) each instance passes (Instance.args)",
                               f"give `{entry}` exactly {n_args} parameters, in the order of Instance.args"))
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Import):
            modules = [a.name for a in sub.names]
        elif isinstance(sub, ast.ImportFrom):
            if sub.level:
                out.append(Finding(ids["imports"], file, f"line {sub.lineno}: a relative import; the candidate "
                                   "runs alone in the sandbox, not inside the plugin package",
                                   "copy what the program needs into it, or pass it in Instance.args"))
                continue
            modules = [sub.module or ""]
        else:
            continue
        for module in modules:
            if module.split(".")[0] not in importable:
                out.append(Finding(ids["imports"], file, f"line {sub.lineno}: imports {module}, which the "
                                   "sandbox cannot import (the candidate runs without access to installed "
                                   "packages or the disk)",
                                   f"use only {', '.join(sorted(importable - {'__future__'}))}"))
    return out


def _n_args(problem: Problem) -> int | None:
    """How many positional arguments the entry function receives (None when a driver or a wrapper calls it)."""
    if problem.harness.driver is not None or problem.sandbox_entry != problem.entry:
        return None
    try:
        quick = problem.instances("quick")
    except Exception:
        return None
    return len(quick[0].args) if quick and isinstance(quick[0], Instance) else None


def check_seed_source(problem: Problem) -> list[Finding]:
    """initial.py exists, parses, has EVOLVE-BLOCK markers, defines the entry function, imports what it may."""
    path = problem.package_dir / problem.seed_file
    if not path.is_file():
        return [Finding(SEED_FILE, show(path), "the seed program is missing",
                        f"write {problem.seed_file} with the entry function `{problem.entry}` and EVOLVE-BLOCK markers")]
    return check_program_source(problem.initial_program, problem.entry, show(path), n_args=_n_args(problem),
                                importable=_modules(problem))


def check_description(problem: Problem) -> list[Finding]:
    """description.md exists and names the entry function (it is what the LLM is told)."""
    path = problem.package_dir / "description.md"
    try:
        text = problem.description
    except OSError:
        text = ""
    if not text.strip():
        return [Finding(DESCRIPTION, show(path), "the task description is missing or empty",
                        f"describe the task, the signature of `{problem.entry}`, its inputs and output, the "
                        "scoring and the limits")]
    if not re.search(rf"(?<![\w.]){re.escape(problem.entry)}(?!\w)", text):
        return [Finding(DESCRIPTION, show(path), f"never mentions `{problem.entry}`, the entry function",
                        f"state the signature of `{problem.entry}` and what its inputs and output mean")]
    return []


def check_baseline_sources(problem: Problem) -> list[Finding]:
    """Each baselines/*.py parses, defines the entry function and imports only what the sandbox can."""
    out = []
    n_args = _n_args(problem)
    for name, code in problem.baselines().items():
        file = show(problem.package_dir / "baselines" / f"{name}.py")
        out.extend(check_program_source(code, problem.entry, file, seed=False, n_args=n_args,
                                        importable=_modules(problem)))
    return out


def _value_bytes(value: Any) -> bytes:
    """Bytes that change when `value`'s content does (wire format; dataclasses by field)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    try:
        return wire.encode(value)
    except (wire.WireError, TypeError, ValueError):
        text = repr(value)
        return b"" if " at 0x" in text else text.encode()  # a default repr shows an address, not content


def _fingerprint(inst: Instance) -> str:
    """A hash of what an instance feeds the candidate and the scorer."""
    h = hashlib.sha256(repr((inst.id, inst.reference, inst.reference_kind)).encode())
    h.update(wire.encode(list(inst.args)))
    for key in sorted(inst.private):
        h.update(key.encode() + b"\0" + _value_bytes(inst.private[key]))
    return h.hexdigest()


def _inputs_hash(inst: Instance) -> str:
    return hashlib.sha256(wire.encode(list(inst.args))).hexdigest()


def check_instances(problem: Problem) -> list[Finding]:
    """Each split has instances with unique ids and arguments that can cross the sandbox boundary;
    no two splits share an instance."""
    file = _problem_file(problem, "instances")
    out: list[Finding] = []
    seen: dict[str, tuple[str, str]] = {}
    reported: set[str] = set()
    for split in splits_of(problem):
        try:
            items = list(problem.instances(split))
        except Exception as exc:
            out.append(Finding(INSTANCES, blame(exc, problem.package_dir, file),
                               f"instances({split!r}) raised {type(exc).__name__}: "
                               f"{_one_line(str(exc))}", "return the instances of each split "
                               "('quick', 'train', 'holdout')"))
            continue
        if not items:
            out.append(Finding(INSTANCES, file, f"instances({split!r}) is empty",
                               "give every split at least one instance ('quick' a few cheap ones)"))
            continue
        bad = next((x for x in items if not isinstance(x, Instance)), None)
        if bad is not None:
            out.append(Finding(INSTANCES, file, f"instances({split!r}) holds a {type(bad).__name__}",
                               "return evolve.problem.Instance objects"))
            continue
        ids = [i.id for i in items]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup is not None:
            out.append(Finding(INSTANCES, file, f"instances({split!r}) repeats the id {dup!r}",
                               "give every instance a unique id (e.g. split/size-seed-index)"))
        for inst in items:
            if not isinstance(inst.args, tuple):
                if "args" not in reported:
                    reported.add("args")
                    out.append(Finding(INSTANCES, file, f"instance {inst.id!r}: args is a "
                                       f"{type(inst.args).__name__}, not a tuple",
                                       "set args to the tuple of the entry function's positional arguments"))
                break
            try:
                digest = _inputs_hash(inst)
            except (wire.WireError, TypeError, ValueError) as exc:
                if "wire" not in reported:
                    reported.add("wire")
                    out.append(Finding(INSTANCES, file, f"instance {inst.id!r}: its args cannot be sent to the "
                                       f"sandbox ({_one_line(str(exc))})",
                                       "pass numpy arrays of int/uint/float/bool dtypes, lists, tuples, dicts "
                                       "with str keys, ints, floats, str or None"))
                break
            if digest in seen and seen[digest][0] != split:
                if "overlap" not in reported:
                    reported.add("overlap")
                    other_split, other_id = seen[digest]
                    out.append(Finding(SPLIT_OVERLAP, file, f"splits {other_split!r} and {split!r} share the "
                                       f"inputs of {other_id!r} and {inst.id!r}",
                                       "generate each split from its own seed: hold-out results mean nothing "
                                       "when evolution has seen the instances"))
                break
            seen.setdefault(digest, (split, inst.id))
    return out


def check_instances_deterministic(problem: Problem, factory: Callable[..., Problem],
                                  options: Mapping[str, Any] | None = None) -> list[Finding]:
    """A second `make(options)` yields the same instances (ids, inputs, references, private data)."""
    file = _problem_file(problem, "instances")
    try:
        again = factory(dict(options or {}))
    except Exception as exc:
        return [Finding(MAKE, _source_file(factory, problem.package_dir / "__init__.py"),
                        f"a second make() raised {type(exc).__name__}: {_one_line(str(exc))}",
                        "make(options) must be callable more than once (one call per worker process)")]
    for split in splits_of(problem):
        try:
            first, second = list(problem.instances(split)), list(again.instances(split))
            prints = [[_fingerprint(i) for i in x] for x in (first, second)]
        except Exception:
            continue  # check_instances reports broken splits
        if prints[0] != prints[1]:
            diff = next((a.id for a, p, q in zip(first, *prints) if p != q), None)
            what = f"first difference: instance {diff!r}" if diff else f"{len(first)} vs {len(second)} instances"
            return [Finding(INSTANCES_DETERMINISM, file, f"instances({split!r}) differ between two make() calls "
                            f"with the same options ({what})",
                            "draw every random number from a generator seeded by the split's seed and the "
                            "instance index (numpy.random.default_rng([seed, index])), never from the global "
                            "random state, the clock or set/dict iteration order")]
    return []


def check_holdout_secret(problem: Problem, factory: Callable[..., Problem],
                         options: Mapping[str, Any] | None = None) -> list[Finding]:
    """The hold-out instances come from the run's secret (`Problem.holdout_seed`): two secrets give
    hold-outs that share no inputs, one secret gives the same hold-out twice, and the quick and train
    splits do not depend on it. A problem whose hold-out is a published benchmark says so in
    `public_holdout` instead (reports then show that its hold-out is public)."""
    if problem.public_holdout:
        return []
    file = _problem_file(problem, "instances")
    try:
        made = [factory(dict(options or {})) for _ in range(3)]
        for p, secret in zip(made, ("contract-secret-a", "contract-secret-b", "contract-secret-a")):
            p.set_holdout_secret(secret)
        holdouts = [[_inputs_hash(i) for i in p.instances("holdout")] for p in made]
        public = {_inputs_hash(i) for i in factory(dict(options or {})).instances("holdout")}
        others = {split: [[_inputs_hash(i) for i in p.instances(split)] for p in made[:2]]
                  for split in ("quick", "train")}
    except Exception:
        return []  # check_instances reports broken splits
    fix = ("draw the hold-out split from `self.holdout_seed(public_seed)` (the run's secret mixed with your "
           "option's seed), or set `public_holdout` to why your hold-out is a published benchmark")
    if set(holdouts[0]) & set(holdouts[1]) or set(holdouts[0]) & public:
        return [Finding(HOLDOUT_SECRET, file, "the hold-out instances do not depend on the run's secret (two "
                        "secrets, or a secret and none, give instances with the same inputs): a program that "
                        "memorised the public generator's instances scores perfectly on them", fix)]
    if holdouts[0] != holdouts[2]:
        return [Finding(HOLDOUT_SECRET, file, "the same secret gives different hold-out instances",
                        "derive every random number of the hold-out from `self.holdout_seed(...)` alone")]
    for split, (a, b) in others.items():
        if a != b:
            return [Finding(HOLDOUT_SECRET, file, f"instances({split!r}) change with the hold-out secret",
                            "use `holdout_seed` for the hold-out split only: evolution must see the same "
                            "quick and train instances in every run")]
    return []


# --- the validator -----------------------------------------------------------------------------------------
def _with_nan(value: Any) -> Any:
    """`value` with its first number replaced by NaN (None when it holds no number)."""
    if isinstance(value, np.ndarray):
        if value.size == 0 or value.dtype.kind not in "iufb":
            return None
        arr = value.astype(np.float64)
        arr.flat[0] = np.nan
        return arr
    if isinstance(value, (int, float, np.number, np.bool_)):
        return math.nan
    if isinstance(value, (list, tuple)):
        for i, x in enumerate(value):
            sub = _with_nan(x)
            if sub is not None:
                items = list(value)
                items[i] = sub
                return type(value)(items) if isinstance(value, tuple) else items
        return None
    if isinstance(value, dict):
        for k, x in value.items():
            sub = _with_nan(x)
            if sub is not None:
                return {**value, k: sub}
    return None


def bad_outputs(sample: Any) -> list[tuple[str, str, Any]]:
    """Generic malformed outputs: (check id, description, value); the sample is a valid output."""
    out: list[tuple[str, str, Any]] = [(VALIDATOR_NONE, "None", None)]
    size = len(sample) if isinstance(sample, (list, tuple, str, dict)) or (
        isinstance(sample, np.ndarray) and sample.ndim > 0) else None
    text = "x" * size if size else "not an output"
    out.append((VALIDATOR_TYPE, "an int", 1234) if isinstance(sample, str) else (VALIDATOR_TYPE, "a str", text))
    out.append((VALIDATOR_TYPE, "a list", [1, 2, 3]) if isinstance(sample, dict)
               else (VALIDATOR_TYPE, "a dict", {"output": 0}))
    if sample is None:
        return out
    if size:
        shorter: Any
        longer: Any
        if isinstance(sample, np.ndarray):
            shorter, longer = sample[:-1], np.concatenate([sample, sample[:1]])
        elif isinstance(sample, dict):
            shorter, longer = dict(list(sample.items())[:-1]), None
        else:
            shorter, longer = sample[:-1], sample + sample[:1]
        out.append((VALIDATOR_LENGTH, f"a valid output one element shorter ({size - 1} instead of {size})",
                    shorter))
        if longer is not None:
            out.append((VALIDATOR_LENGTH, f"a valid output one element longer ({size + 1} instead of {size})",
                        longer))
    nan = _with_nan(sample)
    if nan is not None:
        out.append((VALIDATOR_NAN, "a valid output with a NaN in place of its first number", nan))
    return out


def check_validator(problem: Problem, sample: Any = None, instance: Instance | None = None,
                    kinds: Sequence[str] | None = None) -> list[Finding]:
    """`check_output` + `score` reject generic bad outputs with InvalidOutput: None and wrong types always;
    wrong lengths and NaN when `sample` (a valid output for `instance`) is given."""
    try:
        instance = instance or problem.instances("quick")[0]
    except Exception:
        return []  # check_instances reports it
    file = _problem_file(problem, "score")
    out = []
    reported: set[str] = set()
    for check, desc, bad in bad_outputs(sample):
        if (kinds is not None and check not in kinds) or check in reported:
            continue
        try:
            problem.check_output(instance, bad)
            metrics = problem.score(instance, bad)
        except InvalidOutput:
            continue
        except Exception as exc:
            reported.add(check)
            out.append(Finding(check, blame(exc, problem.package_dir, file),
                               f"score() raised {type(exc).__name__} ({_one_line(str(exc), 120)}) "
                               f"instead of InvalidOutput on {desc} for instance {instance.id!r}",
                               f"{_NO_SCORE_FIX}: any other exception stops the run instead of marking one "
                               "candidate invalid"))
            continue
        reported.add(check)
        out.append(Finding(check, file, f"score() accepted {desc} as the output for instance {instance.id!r} "
                           f"(metrics {_one_line(repr(metrics), 80)})", _NO_SCORE_FIX))
    return out


# --- running programs ----------------------------------------------------------------------------------------
class _Recorder:
    """A sandbox stand-in that keeps the raw results `run_split` receives (for per-instance metrics)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.results: list[SandboxResult] = []

    def run(self, job: Any) -> SandboxResult:
        res = self.sandbox.run(job)
        self.results.append(res)
        return res


_STATUS_FIX = {
    "invalid": "make the seed return a valid output (or, if the output is right, fix the validator)",
    "timeout": "make the seed faster, or raise timeout_s / split_timeout_s in the problem's Harness",
    "memory": "make the seed use less memory",
    "forbidden": "remove the forbidden operation (files, network, subprocesses) from the seed",
}


def _scorer_finding(problem: Problem, what: str, exc: BaseException) -> Finding:
    return Finding(SCORER, blame(exc, problem.package_dir, _problem_file(problem)),
                   f"scoring {what} raised {type(exc).__name__}: "
                   f"{_one_line(str(exc))}", "score() and aggregate() must only ever raise InvalidOutput; fix "
                   "the bug (it would stop `evolve run`)")


def check_seed_runs(problem: Problem, sandbox: Sandbox, limits: Limits | None = None, *,
                    eval_hint: str = "") -> tuple[list[Finding], Any]:
    """Run the seed twice on every split: it must be valid, and its per-instance metrics (and its score,
    when the harness does not time calls) must be the same both times. Returns the findings and a valid
    output of the first quick instance (for `check_validator`)."""
    limits = limits or Limits()
    seed_file = show(problem.package_dir / problem.seed_file)
    runs: list[dict[str, tuple[StageResult, list[dict[str, float]]]]] = []
    sample = None
    for attempt in range(2):
        per_split = {}
        for split in splits_of(problem):
            rec = _Recorder(sandbox)
            try:
                stage = run_split(problem, cast(Sandbox, rec), problem.initial_program, split, limits)
            except Exception as exc:
                return [_scorer_finding(problem, f"the seed's outputs on {split!r}", exc)], sample
            if stage.status != "ok":
                where = f" at instance {stage.failed_instance!r}" if stage.failed_instance else ""
                hint = f" (`evolve eval {seed_file} {eval_hint} split={split}` shows the details)" \
                    if eval_hint else ""
                return [Finding(SEED_VALID, seed_file, f"the seed is {stage.status} on split {split!r}{where}: "
                                f"{_one_line(stage.error)}",
                                _STATUS_FIX.get(stage.status, "fix the error in the seed") + hint)], sample
            if "score" not in stage.metrics:
                return [Finding(SCORER, _problem_file(problem, "aggregate"), "aggregate() returned no `score`",
                                "return a dict with a scalar `score`, higher is better")], sample
            instances = problem.instances(split)
            outputs = [r.output for r in rec.results[-1].runs]
            if attempt == 0 and split == "quick" and outputs:
                sample = outputs[0]
            try:
                metrics = [problem.score(i, o) for i, o in zip(instances, outputs)]
            except Exception as exc:
                return [_scorer_finding(problem, f"the seed's outputs on {split!r}", exc)], sample
            per_split[split] = (stage, metrics)
        runs.append(per_split)
    out = []
    for split in splits_of(problem):
        (s1, m1), (s2, m2) = runs[0][split], runs[1][split]
        diff = next((i.id for i, a, b in zip(problem.instances(split), m1, m2) if not _same(a, b)), None)
        if diff is None and not problem.harness.timed and not _same(s1.metrics, s2.metrics):
            diff = "(the split's aggregate)"
        if diff is not None:
            out.append(Finding(SEED_DETERMINISM, seed_file, f"two runs of the seed score differently on split "
                               f"{split!r}, instance {diff} (scores {s1.metrics.get('score')!r} and "
                               f"{s2.metrics.get('score')!r})",
                               "make the seed deterministic: draw any random choice from a generator with a "
                               "fixed seed (e.g. random.Random(0)), never from the clock or set iteration order"))
            break
    train = runs[0]["train"][0].metrics
    missing = [m for m in getattr(problem, "summary_metrics", ()) if m not in train]
    if missing:
        out.append(Finding(SUMMARY_METRICS, _problem_file(problem), f"summary_metrics names {', '.join(missing)} "
                           f"but aggregate() returns only {', '.join(sorted(train))}",
                           "list in summary_metrics only keys that aggregate() returns"))
    return out, sample


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    if set(a) != set(b):
        return False
    for k in a:
        x, y = a[k], b[k]
        if not (x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))):
            return False
    return True


def check_baselines(problem: Problem, sandbox: Sandbox, limits: Limits | None = None) -> list[Finding]:
    """Every baseline that passes the source checks is valid on every split."""
    limits = limits or Limits()
    broken = {f.file for f in check_baseline_sources(problem)}
    out = []
    for name, code in problem.baselines().items():
        file = show(problem.package_dir / "baselines" / f"{name}.py")
        if file in broken:
            continue
        try:
            outcome = evaluate(problem, sandbox, code, splits_of(problem), limits)
        except Exception as exc:
            out.append(_scorer_finding(problem, f"baseline {name!r}", exc))
            continue
        if outcome.status != "ok":
            split = outcome.stages[-1].split if outcome.stages else "?"
            out.append(Finding(BASELINE_VALID, file, f"the baseline is {outcome.status} on split {split!r}: "
                               f"{_one_line(outcome.error)}", "fix it, or delete it: baselines are reference "
                               "programs scored exactly like candidates"))
    return out


# --- entry points -----------------------------------------------------------------------------------------
@contextmanager
def _sandbox(problem: Problem | None = None) -> Iterator[Sandbox]:
    from evaluators.dispatch import claim_slot

    slot = claim_slot()
    with Sandbox(slot, **sandbox_imports(problem)) if problem is not None else Sandbox(slot) as sb:
        yield sb


def fast_check(problem: Problem) -> list[str]:
    """The checks `evolve run` makes before spending anything, without the sandbox (milliseconds, plus
    building the instances): attributes, seed and baseline sources (parse, markers, entry function and its
    arity, imports), the description, the instances of every split, and that the validator rejects None
    and wrong types with InvalidOutput. One line per finding; empty when all pass."""
    findings = [*check_attributes(problem), *check_seed_source(problem), *check_description(problem),
                *check_baseline_sources(problem), *check_instances(problem)]
    if not any(f.check == INSTANCES for f in findings):
        findings += check_validator(problem, kinds=(VALIDATOR_NONE, VALIDATOR_TYPE))
    return [str(f) for f in findings]


def check_problem(name: str, path: str | None = None, options: Mapping[str, Any] | None = None, *,
                  skip: Sequence[str] = (), limits: Limits | None = None, sandbox: Sandbox | None = None,
                  eval_hint: str = "") -> list[Finding]:
    """Every contract check of `evolve check-problem`, in order; checks named in `skip` are left out."""
    problem, factory, findings = load_checked(name, path, options)
    if problem is None or factory is None:
        return findings
    findings += check_attributes(problem) + check_seed_source(problem) + check_description(problem)
    findings += check_baseline_sources(problem) + check_instances(problem)
    if any(f.check == INSTANCES for f in findings):
        return [f for f in findings if f.check not in skip]
    findings += check_instances_deterministic(problem, factory, options)
    if not any(f.check == INSTANCES_DETERMINISM for f in findings):
        findings += check_holdout_secret(problem, factory, options)
    seed_ok = not any(f.check in (SEED_FILE, SEED_SYNTAX, SEED_ENTRY, SEED_ARITY, SEED_IMPORTS) for f in findings)
    with _sandbox(problem) if sandbox is None else nullcontext(sandbox) as sb:
        sample = None
        if seed_ok:
            seed_findings, sample = check_seed_runs(problem, sb, limits, eval_hint=eval_hint)
            findings += seed_findings
        findings += check_validator(problem, sample)
        findings += check_baselines(problem, sb, limits)
    return [f for f in findings if f.check not in skip]


# --- contract tests for plugin authors ------------------------------------------------------------------
class ProblemContract:
    """Reusable contract tests. In your plugin's tests::

        class TestContract(ProblemContract):
            factory = make          # your plugin's make(options) -> Problem
            options = {}            # problem.options to test with (optional)
            skip = ()               # check ids to leave out, e.g. ("validator-length",) (optional)

    pytest collects the `test_*` methods; the sandbox is shared by the class and closed after it.
    """

    factory: Callable[..., Problem]
    options: Mapping[str, Any] = {}
    skip: Sequence[str] = ()
    _sandbox: Sandbox | None = None
    _problem: Problem | None = None
    _seed: tuple[list[Finding], Any] | None = None

    @classmethod
    def _factory(cls) -> Callable[..., Problem]:
        found = inspect.getattr_static(cls, "factory", None)
        if found is None:
            raise TypeError(f"{cls.__name__}: set `factory = make` (your plugin's make function)")
        return found.__func__ if isinstance(found, (staticmethod, classmethod)) else found

    @classmethod
    def problem(cls) -> Problem:
        if cls._problem is None:
            built = cls._factory()(dict(cls.options))
            assert isinstance(built, Problem), f"make() returned {type(built).__name__}, not a Problem"
            cls._problem = built
        return cls._problem

    @classmethod
    def sandbox(cls) -> Sandbox:
        if cls._sandbox is None:
            from evaluators.dispatch import claim_slot

            cls._sandbox = Sandbox(slot=claim_slot(), **sandbox_imports(cls.problem()))
        return cls._sandbox

    @classmethod
    def seed_runs(cls) -> tuple[list[Finding], Any]:
        """The seed's findings and a valid output (run once per class: it takes two runs per split)."""
        if cls._seed is None:
            cls._seed = check_seed_runs(cls.problem(), cls.sandbox())
        return cls._seed

    @classmethod
    def teardown_class(cls) -> None:
        if cls._sandbox is not None:
            cls._sandbox.close()
            cls._sandbox = None
        cls._problem = None
        cls._seed = None

    def _assert_none(self, findings: Sequence[Finding]) -> None:
        kept = [f for f in findings if f.check not in self.skip]
        assert not kept, "\n".join(str(f) for f in kept)

    def test_problem_attributes_are_set(self) -> None:
        self._assert_none(check_attributes(self.problem()))

    def test_seed_program_is_well_formed(self) -> None:
        self._assert_none(check_seed_source(self.problem()))

    def test_description_mentions_the_entry_function(self) -> None:
        self._assert_none(check_description(self.problem()))

    def test_instances_are_well_formed(self) -> None:
        self._assert_none(check_instances(self.problem()))

    def test_instances_are_deterministic(self) -> None:
        self._assert_none(check_instances_deterministic(self.problem(), self._factory(), self.options))

    def test_holdout_is_drawn_from_the_run_secret(self) -> None:
        self._assert_none(check_holdout_secret(self.problem(), self._factory(), self.options))

    def test_seed_is_valid_and_deterministic_on_every_split(self) -> None:
        self._assert_none(self.seed_runs()[0])

    def test_validator_rejects_generic_bad_outputs(self) -> None:
        sample = self.seed_runs()[1]
        assert sample is not None, "the seed produced no valid output to derive bad outputs from"
        self._assert_none(check_validator(self.problem(), sample))

    def test_baselines_are_valid(self) -> None:
        self._assert_none(check_baseline_sources(self.problem()) + check_baselines(self.problem(), self.sandbox()))
