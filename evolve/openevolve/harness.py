"""Runs inside the sandbox child: an OpenEvolve evaluator on one candidate, the way OpenEvolve runs it.

`evolve.openevolve` sends this file's text, followed by the evaluator's files, the settings and the
candidate's source (filling `SPEC`), as the program the sandbox runs; evolve's own process never runs it.
The child writes the files to its private working folder, puts that folder on `sys.path` (OpenEvolve puts
the evaluator's folder there), writes the candidate to a file, and calls `evaluate(program_path)` or the
cascade `evaluate_stage1/2/3`. Only the plain metrics and artifact text `openevolve_evaluate` returns leave
the child, and the parent validates them. An exception from the evaluator propagates: the sandbox records
the program as `crash` with the traceback.
"""

from __future__ import annotations

import base64
import importlib.util
import linecache
import math
import os
import sys
import types

#: filled by the generated program: files {name: text}, evaluator, program, settings
SPEC: dict = {}
#: results of this process's stages: the quick split's stage 1 (or full evaluation) serves the train split
_DONE: dict = {}


class EvaluationResult:
    """OpenEvolve's result type: metrics, plus artifacts (text or bytes) for the next prompt.

    A plain class: a dataclass needs its module in sys.modules, and this program's module is not there."""

    def __init__(self, metrics: dict, artifacts: dict | None = None) -> None:
        self.metrics = metrics
        self.artifacts = {} if artifacts is None else artifacts

    def __repr__(self) -> str:
        return f"EvaluationResult(metrics={self.metrics!r}, artifacts={self.artifacts!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EvaluationResult) and (self.metrics, self.artifacts) == (other.metrics,
                                                                                          other.artifacts)

    @classmethod
    def from_dict(cls, metrics: dict) -> EvaluationResult:
        return cls(metrics=metrics)

    def to_dict(self) -> dict:
        return self.metrics

    def has_artifacts(self) -> bool:
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list:
        return list(self.artifacts)

    def get_artifact_size(self, key: str) -> int:
        value = self.artifacts.get(key, b"")
        return len(value if isinstance(value, bytes) else str(value).encode("utf-8"))

    def get_total_artifact_size(self) -> int:
        return sum(self.get_artifact_size(k) for k in self.artifacts)


def _install_openevolve_module():
    """`from openevolve.evaluation_result import EvaluationResult` works without OpenEvolve installed."""
    if "openevolve" in sys.modules:
        return
    package = types.ModuleType("openevolve")
    package.__path__ = []
    result = types.ModuleType("openevolve.evaluation_result")
    result.EvaluationResult = EvaluationResult
    result.EVALUATION_FAILED_METRIC = "__evaluation_failed__"
    package.EvaluationResult = EvaluationResult
    package.evaluation_result = result
    sys.modules["openevolve"] = package
    sys.modules["openevolve.evaluation_result"] = result


def _quote_only_local_sources(folder):
    """Tracebacks quote source lines of files in `folder` only.

    Evaluators format tracebacks (`traceback.format_exc()`) that pass through standard modules; quoting
    their lines would read the interpreter's files, which the sandbox forbids (and the candidate's
    evaluation would end `forbidden`). Lines of those frames are left out instead.
    """
    read = linecache.updatecache
    inside = folder.rstrip(os.sep) + os.sep

    def updatecache(filename, module_globals=None):
        path = os.path.abspath(filename) if filename and not filename.startswith("<") else ""
        if not path.startswith(inside):
            return []
        return read(filename, module_globals)

    linecache.updatecache = updatecache


def _setup():
    """Write the files, load the evaluator module; once per process."""
    if "module" in _DONE:
        return _DONE["module"], _DONE["program_path"]
    _install_openevolve_module()
    folder = os.getcwd()
    _quote_only_local_sources(folder)
    for name, content in SPEC["files"].items():
        data = base64.b64decode(content["base64"]) if isinstance(content, dict) else content.encode("utf-8")
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(data)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    program_path = os.path.join(folder, SPEC["program_file"])
    with open(program_path, "w", encoding="utf-8") as fh:
        fh.write(SPEC["program"])
    spec = importlib.util.spec_from_file_location("evaluation_module", os.path.join(folder, SPEC["evaluator"]))
    module = importlib.util.module_from_spec(spec)
    sys.modules["evaluation_module"] = module
    spec.loader.exec_module(module)
    _DONE["module"], _DONE["program_path"] = module, program_path
    return module, program_path


def _as_result(value, what):
    """A dict of metrics or an EvaluationResult (OpenEvolve's or ours), as {"metrics", "artifacts"}."""
    if isinstance(value, dict):
        return {"metrics": dict(value), "artifacts": {}}
    metrics, artifacts = getattr(value, "metrics", None), getattr(value, "artifacts", None)
    if isinstance(metrics, dict):
        return {"metrics": dict(metrics), "artifacts": dict(artifacts) if isinstance(artifacts, dict) else {}}
    raise TypeError(f"{what} returned a {type(value).__name__}; an OpenEvolve evaluator returns a dict of "
                    "metrics or an EvaluationResult(metrics=..., artifacts=...)")


def _numeric(value):
    return isinstance(value, (int, float))


def _passes(metrics, threshold):
    """OpenEvolve's cascade gate: combined_score when numeric, else the mean of numeric metrics but `error`."""
    if not metrics:
        return False
    score = metrics.get("combined_score")
    if _numeric(score):
        return float(score) >= threshold
    values = [float(v) for k, v in metrics.items() if k != "error" and _numeric(v)]
    return bool(values) and sum(values) / len(values) >= threshold


def _merge(into, result):
    """OpenEvolve's merge of a later stage: its numeric metrics (not `error`) as floats, its artifacts."""
    for name, value in result["metrics"].items():
        if _numeric(value) and name != "error":
            into["metrics"][name] = float(value)
    into["artifacts"].update(result["artifacts"])


def _call(module, function, path, **kwargs):
    return _as_result(getattr(module, function)(path, **kwargs), f"{SPEC['evaluator']}: {function}()")


def _stage1(module, path):
    if "stage1" not in _DONE:
        _DONE["stage1"] = _call(module, "evaluate_stage1", path)
    return _DONE["stage1"]


def _direct(module, path):
    if "direct" not in _DONE:
        _DONE["direct"] = _call(module, "evaluate", path, **SPEC["evaluator_args"])
    return _DONE["direct"]


def _cascade(module, path):
    """OpenEvolve's cascade: stage 1; stage 2 if it passes the first threshold; stage 3 if the merged
    result passes the second."""
    first = _stage1(module, path)
    thresholds = SPEC["thresholds"]
    if not thresholds or not _passes(first["metrics"], thresholds[0]) or not hasattr(module, "evaluate_stage2"):
        return {**first, "stages": 1}
    merged = {"metrics": {}, "artifacts": {}}
    _merge(merged, first)
    _merge(merged, _call(module, "evaluate_stage2", path))
    if len(thresholds) < 2 or not _passes(merged["metrics"], thresholds[1]) or not hasattr(module, "evaluate_stage3"):
        return {**merged, "stages": 2}
    _merge(merged, _call(module, "evaluate_stage3", path))
    return {**merged, "stages": 3}


def _holdout(path):
    """The hold-out evaluator: a function of evaluator.py, or `evaluate` of a second file."""
    if SPEC.get("holdout_file"):
        folder = os.getcwd()
        spec = importlib.util.spec_from_file_location("holdout_module", os.path.join(folder, SPEC["holdout_file"]))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return _call(module, "evaluate", path)
    return _call(_DONE["module"], SPEC["holdout_function"], path)


def _plain_metric(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, str)):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            value = item()
        except Exception:
            return str(value)[:1000]
        if isinstance(value, (bool, int, float, str)):
            return value
    return str(value)[:1000]


def _plain(result):
    """Plain JSON-able data for the result channel (numpy scalars become numbers, the rest text)."""
    cap = SPEC["max_artifact_bytes"]
    metrics = {}
    for name, value in result["metrics"].items():
        value = _plain_metric(value)
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        metrics[str(name)[:200]] = value
    artifacts = {}
    for name, value in result["artifacts"].items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        artifacts[str(name)[:200]] = str(value)[:cap]
    return {"metrics": metrics, "artifacts": artifacts, "stages": int(result.get("stages", 1))}


def openevolve_evaluate(role: str) -> dict:
    """Evaluate the candidate for one of evolve's splits: `quick` (stage 1 of the cascade, or the full
    evaluation), `train` (OpenEvolve's whole cascade, or the full evaluation) or `holdout`."""
    module, path = _setup()
    cascade = SPEC["cascade"] and hasattr(module, "evaluate_stage1")
    if role == "holdout":
        return _plain(_holdout(path))
    if role == "quick":
        return _plain(_stage1(module, path) if cascade else _direct(module, path))
    return _plain(_cascade(module, path) if cascade else _direct(module, path))
