"""The parts of an OpenEvolve `config.yaml` that apply to the problem itself (not to the search).

OpenEvolve's defaults are kept where evolve applies a key: cascade on, thresholds [0.5, 0.75, 0.9], a
300 s evaluation timeout, 20 KB of artifacts in a prompt. Search, LLM and database keys map to evolve's own
configuration (docs/openevolve.md has the table); they are read here only to say which ones do not apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evolve.errors import ProblemError

#: OpenEvolve's name of its default system-message template (a template name, not a message)
_TEMPLATE_NAME = "system_message"


@dataclass(frozen=True)
class OpenEvolveSettings:
    """What evolve takes from config.yaml: the system message and the evaluator's settings."""

    system_message: str | None = None
    cascade: bool = True
    thresholds: tuple[float, ...] = (0.5, 0.75, 0.9)
    timeout_s: float = 300.0
    evaluator_args: dict[str, Any] = field(default_factory=dict)
    artifacts: bool = True
    max_artifact_bytes: int = 20 * 1024
    feature_dimensions: tuple[str, ...] = ()
    #: keys present in the file that a run does not take from it (they have evolve equivalents)
    not_applied: tuple[str, ...] = ()


#: config.yaml keys read here (section.key); every other key present is listed in `not_applied`
APPLIED = frozenset({"prompt.system_message", "llm.system_message", "evaluator.cascade_evaluation",
                     "evaluator.cascade_thresholds", "evaluator.timeout", "evaluator.evaluator_args",
                     "evaluator.enable_artifacts", "prompt.include_artifacts", "prompt.max_artifact_bytes",
                     "database.feature_dimensions", "language", "file_suffix"})


def _section(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ProblemError(f"{path}: `{name}` must be a mapping of settings, not {type(value).__name__}")
    return value


def _number(value: Any, key: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProblemError(f"{path}: `{key}` must be a finite number, not {value!r}")
    return float(value)


def _plain(value: Any) -> bool:
    """A value that can be written into the sandbox program as a Python literal."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, dict) and all(isinstance(k, str) and _plain(v) for k, v in value.items())


def read_settings(path: Path | None) -> OpenEvolveSettings:
    """Settings from an OpenEvolve config.yaml (OpenEvolve's defaults when `path` is None)."""
    if path is None:
        return OpenEvolveSettings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProblemError(f"{path}: cannot read this OpenEvolve config ({exc}); fix the YAML or pass "
                           "problem.options.config=null to run without it") from exc
    if not isinstance(data, dict):
        raise ProblemError(f"{path}: an OpenEvolve config is a mapping of settings, not {type(data).__name__}")
    language = data.get("language")
    suffix = data.get("file_suffix", ".py")
    if (language not in (None, "python")) or suffix != ".py":
        raise ProblemError(f"{path}: language={language!r}, file_suffix={suffix!r}: evolve evolves Python "
                           "programs only")
    prompt, evaluator = _section(data, "prompt", path), _section(data, "evaluator", path)
    llm, database = _section(data, "llm", path), _section(data, "database", path)
    message = prompt.get("system_message") or llm.get("system_message")
    if message == _TEMPLATE_NAME or not isinstance(message, str) or not message.strip():
        message = None
    thresholds = evaluator.get("cascade_thresholds", [0.5, 0.75, 0.9])
    if not isinstance(thresholds, list):
        raise ProblemError(f"{path}: `evaluator.cascade_thresholds` must be a list of numbers")
    timeout = _number(evaluator.get("timeout", 300), "evaluator.timeout", path)
    if timeout <= 0:
        raise ProblemError(f"{path}: `evaluator.timeout` must be a positive number of seconds")
    args = evaluator.get("evaluator_args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) and k.isidentifier() for k in args) \
            or not all(_plain(v) for v in args.values()):
        raise ProblemError(f"{path}: `evaluator.evaluator_args` must map argument names to plain values (numbers, "
                           "text, booleans, null, lists and mappings of them)")
    dims = database.get("feature_dimensions") or []
    present = [f"{k}.{sub}" if isinstance(v, dict) else k for k, v in data.items()
               for sub in (v if isinstance(v, dict) else [None])]
    return OpenEvolveSettings(
        system_message=message.strip() if message else None,
        cascade=bool(evaluator.get("cascade_evaluation", True)),
        thresholds=tuple(_number(t, "evaluator.cascade_thresholds", path) for t in thresholds),
        timeout_s=timeout,
        evaluator_args=dict(args),
        artifacts=bool(evaluator.get("enable_artifacts", True)) and bool(prompt.get("include_artifacts", True)),
        max_artifact_bytes=int(_number(prompt.get("max_artifact_bytes", 20 * 1024), "prompt.max_artifact_bytes",
                                       path)),
        feature_dimensions=tuple(str(d) for d in dims) if isinstance(dims, list) else (),
        not_applied=tuple(k for k in present if k not in APPLIED),
    )
