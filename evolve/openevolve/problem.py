"""An OpenEvolve problem folder as an evolve Problem: its evaluator runs with the candidate in the sandbox.

OpenEvolve imports the candidate into the evaluator's own process. Here the evaluator's files, the
candidate and `harness.py` run together in evolve's sandbox child (`sandbox_program`), never in evolve's
process; only plain metrics and artifact text come back, through the sandbox's result channel, and this
class checks their shape. The score is the evaluator's own number: it is as trustworthy as the evaluator
(a candidate in the same process can reach it), unlike a native plugin, which scores in the parent.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.errors import ProblemError
from evolve.openevolve.settings import OpenEvolveSettings
from evolve.problem import SPLITS, Harness, Instance, InvalidOutput, Problem

HARNESS = Path(__file__).with_name("harness.py")
#: what harness.py imports beyond the sandbox's default preload
HARNESS_MODULES = ("importlib.util", "types", "base64")
#: the function of harness.py the sandbox calls
ENTRY = "openevolve_evaluate"
#: the candidate's file name in the child's working folder (OpenEvolve uses a temporary .py file)
PROGRAM_FILE = "evolve_candidate.py"
#: at most this many metrics are kept from one evaluation (names beyond it are dropped)
MAX_METRICS = 200
#: standard modules that import parts of themselves on first use, which the sandbox child cannot do
LAZY_SUBMODULES = {"concurrent.futures": ("concurrent.futures.thread", "concurrent.futures.process"),
                   "concurrent": ("concurrent.futures", "concurrent.futures.thread"),
                   "multiprocessing": ("multiprocessing.pool", "multiprocessing.context", "multiprocessing.queues"),
                   "importlib": ("importlib.util",), "xml": ("xml.etree.ElementTree",),
                   "email": ("email.message",)}
#: the end of the evaluation's stdout and stderr shown with the artifacts, at most this many characters each
PRINTED_CHARS = 2000
#: sibling files of the evaluator shipped with it, at most this many bytes in all
MAX_FILES_BYTES = 4 << 20


@dataclass(frozen=True)
class Layout:
    """The files of an OpenEvolve problem folder that a run uses."""

    folder: Path
    initial: Path
    evaluator: Path
    config: Path | None
    holdout_file: Path | None
    holdout_function: str | None
    score_metric: str | None
    entry: str | None


class OpenEvolveProblem(Problem):
    """The problem of one OpenEvolve folder: quick = stage 1, train = the whole cascade, hold-out if named."""

    allowed_imports: tuple[str, ...] = ()
    public_holdout = ("the hold-out is the folder's own evaluator (problem.options.holdout=FUNCTION or "
                      "holdout_file=FILE): evolve runs it as written and cannot draw it from a run's secret")

    def __init__(self, layout: Layout, settings: OpenEvolveSettings) -> None:
        self.layout, self.settings = layout, settings
        self.name = layout.folder.name
        self.package_dir = layout.folder
        self.seed_file = layout.initial.name
        seed = layout.initial.read_text(encoding="utf-8")
        evaluator = layout.evaluator.read_text(encoding="utf-8")
        self.entry = layout.entry or _called_function(seed, evaluator, layout.initial)
        self.has_holdout = layout.holdout_file is not None or layout.holdout_function is not None
        files = _sibling_files(layout)
        self.sandbox_modules = tuple(dict.fromkeys((*HARNESS_MODULES, *_imports_of(
            [seed, *(t for n, t in files.items() if n.endswith(".py") and isinstance(t, str))],
            {Path(n).stem for n in files}))))
        stages = 3 if settings.cascade and "evaluate_stage1" in _functions(evaluator) else 1
        budget = settings.timeout_s * stages  # OpenEvolve's timeout holds per stage function
        self.harness = Harness(timeout_s=budget, split_timeout_s=budget)
        self.allowed_imports = tuple(sorted({m.split(".")[0] for m in _imports_of([seed], set())}))
        shipped = {n: f for n, f in files.items() if layout.holdout_file is None or n != layout.holdout_file.name}
        self._programs = {"run": self._prefix(shipped, holdout=False), "holdout": self._prefix(files, holdout=True)}
        self._instances = {split: [Instance(f"openevolve/{split}", (split,))] for split in SPLITS}

    # --- what the sandbox runs --------------------------------------------------------------------
    @property
    def sandbox_entry(self) -> str:
        return ENTRY

    def sandbox_program(self, code: str, split: str) -> str:
        return self._programs["holdout" if split == "holdout" else "run"] + f"SPEC['program'] = {code!r}\n"

    def _prefix(self, files: Mapping[str, Any], holdout: bool) -> str:
        s, lay = self.settings, self.layout
        spec = {"files": dict(files), "evaluator": lay.evaluator.name, "program_file": PROGRAM_FILE,
                "cascade": s.cascade, "thresholds": list(s.thresholds), "evaluator_args": dict(s.evaluator_args),
                "holdout_file": lay.holdout_file.name if lay.holdout_file and holdout else None,
                "holdout_function": lay.holdout_function if holdout else None, "max_artifact_bytes": s.max_artifact_bytes}
        return HARNESS.read_text(encoding="utf-8") + f"\nSPEC.update({spec!r})\n"

    # --- what the LLM is told ---------------------------------------------------------------------
    @property
    def description(self) -> str:
        intro = self.settings.system_message or (
            f"Improve the program so that its OpenEvolve evaluator ({self.layout.evaluator.name}) scores it higher.")
        return (f"{intro}\n\nThe evaluator loads the program as a module from a file and calls `{self.entry}`. "
                f"The score is the evaluator's {self._metric_label()} (higher is better); the evaluator's other "
                "metrics and its notes on the program are shown with it.\n")

    def describe_metrics(self) -> dict[str, str]:
        notes = {"score": f"the evaluator's {self._metric_label()}, higher is better"}
        if not self.has_holdout:
            notes["holdout"] = ("none: this OpenEvolve problem names no hold-out evaluator (problem.options.holdout="
                                "FUNCTION or holdout_file=FILE), so no program was scored on unseen data")
        return notes

    def _metric_label(self) -> str:
        if self.layout.score_metric:
            return f"`{self.layout.score_metric}`"
        return "`combined_score` (without one, the mean of its numeric metrics)"

    # --- data and scoring -------------------------------------------------------------------------
    def instances(self, split: str) -> Sequence[Instance]:
        return self._instances[split] if split != "holdout" or self.has_holdout else []

    def baselines(self) -> dict[str, str]:
        return {}

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        metrics = _checked(output)["metrics"]
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        name = self.layout.score_metric
        if name is not None:
            if name not in numeric:
                raise InvalidOutput(f"the evaluator returned no numeric `{name}` (problem.options.score_metric); "
                                    f"it returned {', '.join(sorted(metrics)) or 'no metrics'}")
            score = numeric[name]
        else:
            score = openevolve_fitness(metrics, self.settings.feature_dimensions)
        out = {(f"openevolve_{k}" if k == "score" else k): v for k, v in list(numeric.items())[:MAX_METRICS]}
        return {**out, "score": score}

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        if len(metrics) != 1:
            raise InvalidOutput(f"expected one evaluation, got {len(metrics)}")
        return dict(metrics[0])

    def set_holdout_secret(self, secret: str | None) -> None:
        """Nothing to redraw: the hold-out is whatever the folder's evaluator computes (see public_holdout)."""

    def evaluator_notes(self, instances: Sequence[Instance], outputs: Sequence[Any], stdout: str = "",
                        stderr: str = "") -> str:
        """The evaluator's artifacts and text metrics (e.g. `error`), as OpenEvolve puts them in the prompt,
        and the end of what the evaluator and the program printed."""
        if not self.settings.artifacts:
            return ""
        parts: list[str] = []
        for output in outputs:
            try:
                checked = _checked(output)
            except InvalidOutput:
                continue
            for name, value in checked["metrics"].items():
                if isinstance(value, str):
                    parts.append(f"{name}: {value}")
            for name, value in checked["artifacts"].items():
                parts.append(f"--- {name} ---\n{value.rstrip()}")
        for name, text in (("stdout", stdout), ("stderr", stderr)):
            if text.strip():
                tail = text.strip()[-PRINTED_CHARS:]
                parts.append(f"--- printed to {name} (last {len(tail)} characters) ---\n{tail}")
        text = "\n".join(parts)
        cap = self.settings.max_artifact_bytes
        return text if len(text) <= cap else text[:cap] + f"\n… [{len(text) - cap} more characters cut]"


def _checked(output: Any) -> dict[str, Any]:
    """The harness's result, or InvalidOutput naming what is wrong (it came from the sandbox child)."""
    if not isinstance(output, dict) or set(output) != {"metrics", "artifacts", "stages"} \
            or not isinstance(output["metrics"], dict):
        raise InvalidOutput(f"the evaluator's result is not what the harness returns (metrics, artifacts, stages): "
                            f"{type(output).__name__} {sorted(output) if isinstance(output, dict) else ''}")
    metrics, artifacts = output["metrics"], output["artifacts"]
    if not isinstance(artifacts, dict) or not all(isinstance(v, str) for v in artifacts.values()):
        raise InvalidOutput("the evaluator's artifacts are not text")
    for name, value in metrics.items():
        if not (value is None or isinstance(value, (bool, int, float, str))):
            raise InvalidOutput(f"metric {name!r} is a {type(value).__name__}, not a number or text")
        if isinstance(value, float) and not math.isfinite(value):  # the harness sends these as text
            raise InvalidOutput(f"metric {name!r} is {value}, which the harness never sends")
    return {"metrics": metrics, "artifacts": artifacts}


def openevolve_fitness(metrics: Mapping[str, Any], feature_dimensions: Sequence[str]) -> float:
    """OpenEvolve's fitness: `combined_score` if numeric, else the mean of the numeric metrics that are not
    feature dimensions (of all numeric metrics when none is left), 0 without any."""
    def numbers(items: Any) -> list[float]:
        return [float(v) for k, v in items if isinstance(v, (int, float)) and not math.isnan(float(v))]

    combined = metrics.get("combined_score")
    if isinstance(combined, (int, float)) and math.isfinite(combined):
        return float(combined)
    values = numbers((k, v) for k, v in metrics.items() if k not in feature_dimensions) or numbers(metrics.items())
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else 0.0


def _functions(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _called_function(seed: str, evaluator: str, seed_path: Path) -> str:
    """The seed's module-level function the evaluator calls: the first (in the seed's order) whose name the
    evaluator's source uses; else the seed's first function."""
    defined = _functions(seed)
    if not defined:
        raise ProblemError(f"{seed_path}: defines no module-level function for the evaluator to call; "
                           "check that it is the initial program (problem.options.initial=FILE)")
    try:
        used = {n.attr for n in ast.walk(ast.parse(evaluator)) if isinstance(n, ast.Attribute)} | {
            n.value for n in ast.walk(ast.parse(evaluator)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    except SyntaxError:
        used = set()
    return next((f for f in defined if f in used), defined[0])


def _sibling_files(layout: Layout) -> dict[str, Any]:
    """The evaluator and the files beside it (modules it imports, data it reads), not the seed or config:
    text as text, other files as {"base64": …}."""
    skip = {layout.initial.resolve(), *((layout.config.resolve(),) if layout.config else ())}
    files: dict[str, Any] = {}
    total = 0
    extra = [layout.holdout_file] if layout.holdout_file and layout.holdout_file.parent != layout.folder else []
    for path in [*sorted(layout.folder.iterdir()), *extra]:
        if not path.is_file() or path.resolve() in skip or path.name.startswith("."):
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProblemError(f"{path}: cannot read it ({exc}); every file beside the evaluator is shipped "
                               "with it") from exc
        total += len(data)
        if total > MAX_FILES_BYTES:
            raise ProblemError(f"{layout.folder}: its files hold more than {MAX_FILES_BYTES >> 20} MB; every "
                               "evaluation ships them to the sandbox: move large data out of the folder")
        try:
            files[path.name] = data.decode("utf-8")
        except UnicodeDecodeError:
            files[path.name] = {"base64": base64.b64encode(data).decode("ascii")}
    return files


def _imports_of(sources: Sequence[str], local: set[str]) -> tuple[str, ...]:
    """Modules the evaluator, its siblings and the seed import that the sandbox child must preload: the
    installed ones, minus the folder's own modules and `openevolve` (harness.py stands in for it)."""
    found: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.append(node.module)
    out = []
    found += [sub for name in found for sub in LAZY_SUBMODULES.get(name, ())]
    for name in dict.fromkeys(found):
        top = name.split(".")[0]
        if top in local or top == "openevolve" or top == "__future__":
            continue
        if top in sys.stdlib_module_names or _installed(name):
            out.append(name)
    return tuple(out)


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
