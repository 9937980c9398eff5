"""What a resumed run runs with: the configuration stored with it, changed only where the command names a key.

Hydra composes the command's configuration from the defaults, which for a resumed run are not the run's
own settings. The stored configuration is laid over the composed one, key by key, except where an
override of the command names the key (or a group holding it): `search.iterations=3000` changes only the
budget, `llm=openai` replaces the whole `llm` group. The result keeps the schema's types.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from evolve.archive import RunRecord, Storage
from evolve.archive.locate import pick_run
from evolve.config import plain
from evolve.errors import ConfigError

#: top-level keys of the invocation, not of the run: they always come from the command
INVOCATION_KEYS = ("resume", "quiet", "archive")
#: stop conditions an override can raise to continue a finished run (None: no limit)
BUDGETS = ("search.iterations", "search.max_seconds", "search.target_score", "search.stagnation",
           "llm.max_cost_usd", "llm.max_tokens_total")


@dataclass(frozen=True)
class Resumed:
    """The configuration a resumed run goes on with, and how it differs from the stored one."""

    cfg: DictConfig
    #: (key, stored value, value now) for every key the command changed
    changes: tuple[tuple[str, Any, Any], ...]
    #: stored keys this version of evolve has no setting for (ignored)
    dropped: tuple[str, ...]
    #: the budgets (BUDGETS) the command raised
    raised: tuple[str, ...]

    def describe(self) -> list[str]:
        """One line per difference, for the terminal and the log."""
        lines = [f"{key}: {_show(old)} -> {_show(new)}" for key, old, new in self.changes]
        lines += [f"{key}: stored, but no longer a setting (ignored)" for key in self.dropped]
        return lines


def named_keys(overrides: Sequence[str]) -> list[str]:
    """The config keys (or groups) the command's overrides name, without Hydra's own."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys = []
    for o in OverridesParser.create().parse_overrides(list(overrides)):
        key = o.key_or_group
        if key != "hydra" and not key.startswith("hydra."):
            keys.append(key)
    return keys


def resume_config(cfg: DictConfig, stored: Mapping[str, Any], overrides: Sequence[str]) -> Resumed:
    """`cfg` (composed from the command) with the stored configuration laid over every key it does not name."""
    named = named_keys(overrides)
    stored = _moved(stored)
    merged = copy.deepcopy(cfg)
    dropped: list[str] = []
    _overlay(merged, stored, "", named, dropped)
    now = plain(merged, resolve=True)
    before, after = dict(_flat(stored)), dict(_flat(now))
    changes = tuple((k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
                    if k.split(".", 1)[0] not in INVOCATION_KEYS and k not in dropped
                    and (k in before or _named(k, named)) and before.get(k) != after.get(k))
    moved = [(k, old, new) for k, old, new in changes if k.startswith("problem.")]
    if moved:
        key, old, new = moved[0]
        raise ConfigError(f"{key}: a resumed run keeps its problem ({_show(old)}, not {_show(new)}): its programs "
                          "were scored on it; drop that override, or start a new run")
    raised = tuple(k for k, old, new in changes if k in BUDGETS and _raises(old, new, k))
    return Resumed(merged, changes, tuple(dropped), raised)


def find_run(archive: Storage, run_dir: Path, resume: str = "") -> RunRecord:
    """The run to resume: `resume=` names a run id (a database shared by many runs) unless it is a folder;
    else the run of this run directory."""
    if resume and not Path(resume).is_dir():
        return pick_run(archive, run_id=resume)
    return pick_run(archive, run_dir=run_dir)


def updated_config(stored: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, Any]:
    """The stored configuration with the values of `now` laid over it; stored keys `now` lacks are kept."""
    out = dict(stored)
    for key, value in now.items():
        old = out.get(key)
        out[key] = updated_config(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return out


def _moved(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The stored configuration with settings that moved since (MOVED_KEYS) under their new keys."""
    from evolve.config import MOVED_KEYS

    out = copy.deepcopy(dict(stored))
    for old, new in MOVED_KEYS.items():
        section, key = old.split(".", 1)
        node = out.get(section)
        if isinstance(node, Mapping) and key in node:
            node = dict(node)
            value = node.pop(key)
            out[section] = node
            to_section, to_key = new.split(".", 1)
            target = dict(out.get(to_section) or {})
            target.setdefault(to_key, value)
            out[to_section] = target
    return out


def _named(path: str, named: Sequence[str]) -> bool:
    return any(n == path or path.startswith(n + ".") for n in named)


def _overlay(node: DictConfig, stored: Mapping[str, Any], prefix: str, named: Sequence[str],
             dropped: list[str]) -> None:
    open_keys = OmegaConf.get_type(node) is dict  # a Dict[str, Any] field (problem.options): any key
    for key, value in stored.items():
        path = f"{prefix}{key}"
        if (not prefix and key in INVOCATION_KEYS) or _named(path, named):
            continue
        if key not in node and not open_keys:
            dropped.append(path)
            continue
        child = node.get(key) if key in node else None
        inside = any(n.startswith(path + ".") for n in named)
        if isinstance(value, Mapping) and isinstance(child, DictConfig) and (
                inside or OmegaConf.get_type(child) is not dict):
            _overlay(child, value, path + ".", named, dropped)
            continue
        try:
            node[key] = value
        except Exception:  # a value the schema no longer accepts: keep the command's, and say so
            dropped.append(path)


def _flat(d: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in d.items():
        if isinstance(value, Mapping):  # an empty one yields nothing: {} and a missing key are alike
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _raises(old: Any, new: Any, key: str = "") -> bool:
    if key == "search.max_seconds":  # 0 lifts the time cap; unset is the default (100 s offline, none with an LLM)
        if new == 0:
            return old != 0
        if old == 0:
            return False
    if new is None:
        return old is not None
    return old is not None and isinstance(new, (int, float)) and isinstance(old, (int, float)) and new > old


def _show(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return "null" if value is None else str(value)


__all__ = ["BUDGETS", "Resumed", "find_run", "named_keys", "resume_config", "updated_config"]
