"""Spot availability traces: a seeded generator, and the ADRS leaderboard's JSON trace files.

A trace is a uint8 array with one entry per tick of `gap_seconds`: 1 where spot is unavailable
(preempted), 0 where it can be had, as in the leaderboard's files
(`{"metadata": {"gap_seconds": 600, ...}, "data": [0, 1, ...]}`). The leaderboard's traces carry no
licence, so the package ships none; `load_dir` reads them from a folder the user gives.

The generator is an alternating renewal process: spot-up and spot-down periods with lognormal lengths,
started at a random phase. Each environment (the six zone/instance-type pairs the leaderboard evaluates)
has its own mean availability and mean up-period length, and each trace draws its own availability around
that mean, so traces of one environment differ as the real ones do. The parameters are ours, chosen to
span low to high availability; they are not fitted to the real files.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evolve.errors import ProblemError


@dataclass(frozen=True)
class Profile:
    """Spot behaviour of one environment: mean availability and mean length of a spot-up period (h)."""

    env: str
    availability: float
    mean_up_hours: float


#: the leaderboard's six environments, with the generator's parameters for each
PROFILES = (
    Profile("us-west-2a_k80_8", 0.45, 3.0),
    Profile("us-west-2b_k80_1", 0.80, 10.0),
    Profile("us-west-2b_k80_8", 0.35, 2.0),
    Profile("us-west-2a_v100_1", 0.60, 5.0),
    Profile("us-west-2a_v100_8", 0.25, 1.5),
    Profile("us-west-2b_v100_1", 0.70, 6.0),
)
ENVS = tuple(p.env for p in PROFILES)
_ENV_NAME = re.compile(r"^[a-z]{2}-[a-z]+-\d+[a-z]?_[a-z0-9]+_\d+$")
#: spread of the lognormal period lengths (sigma of the underlying normal)
SIGMA = 1.0


def profile(env: str) -> Profile:
    for p in PROFILES:
        if p.env == env:
            return p
    raise ValueError(f"unknown environment {env!r}; known: {list(ENVS)}")


def _lognormal(rng: np.random.Generator, mean: float, size: int) -> np.ndarray:
    return rng.lognormal(math.log(mean) - SIGMA * SIGMA / 2.0, SIGMA, size)


def generate(env: str, ticks: int, gap_seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A trace of `ticks` ticks for `env` (1 = spot unavailable), drawn from `rng`."""
    p = profile(env)
    avail = float(np.clip(rng.beta(8.0 * p.availability, 8.0 * (1.0 - p.availability)), 0.03, 0.97))
    up_mean = p.mean_up_hours * 3600.0 / gap_seconds
    down_mean = up_mean * (1.0 - avail) / avail
    state = 0 if rng.random() < avail else 1  # random phase: start inside an up (0) or a down (1) period
    parts, total, first = [], 0, True
    while total < ticks:
        length = float(_lognormal(rng, up_mean if state == 0 else down_mean, 1)[0])
        if first:
            length *= rng.random()
            first = False
        n = max(1, round(length))
        parts.append(np.full(n, state, dtype=np.uint8))
        total += n
        state = 1 - state
    out = np.concatenate(parts)
    return out[:ticks]


@dataclass(frozen=True)
class TraceFile:
    """One trace read from disk, with where it came from."""

    env: str
    path: Path
    gap_seconds: float
    data: np.ndarray


def read(path: Path) -> tuple[float, np.ndarray]:
    """(gap_seconds, trace) of a leaderboard JSON trace file; a clear ProblemError if it is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProblemError(f"{path}: cannot read a spot trace ({exc}); a trace is JSON "
                           '{"metadata": {"gap_seconds": …}, "data": [0, 1, …]}') from None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    data = doc.get("data") if isinstance(doc, dict) else None
    gap = meta.get("gap_seconds") if isinstance(meta, dict) else None
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not gap > 0:
        raise ProblemError(f"{path}: metadata.gap_seconds must be a positive number, got {gap!r:.40}")
    if not isinstance(data, list) or not data:
        raise ProblemError(f"{path}: data must be a non-empty list of 0/1 (1 = spot unavailable)")
    bad = next((v for v in data if v not in (0, 1) or (isinstance(v, float) and not v.is_integer())), None)
    if bad is not None:
        raise ProblemError(f"{path}: data holds {bad!r:.40}; every entry must be 0 (spot available) or 1")
    return float(gap), np.asarray(data, dtype=np.uint8)


def write(path: Path, trace: np.ndarray, gap_seconds: float) -> None:
    """Write `trace` in the leaderboard's format (used to export generated traces, and by the tests)."""
    path.write_text(json.dumps({"metadata": {"gap_seconds": gap_seconds},
                                "data": [int(v) for v in trace]}), encoding="utf-8")


def env_of(path: Path, root: Path) -> str:
    """The environment a trace file belongs to: the nearest folder named like `us-west-2a_v100_1`."""
    for part in reversed(path.relative_to(root).parts[:-1]):
        if _ENV_NAME.match(part):
            return part
    return path.parent.name


def load_dir(root: Path, envs: Iterable[str], min_hours: float) -> dict[str, list[TraceFile]]:
    """The traces under `root` per environment, sorted by path, keeping those that cover `min_hours`.

    Accepts the leaderboard's layout (`…/overhead=0.02/real/<env>/traces/random_start/<n>.json`) or
    simply `<root>/<env>/*.json`; when the same file name appears under several overhead folders, the
    first is used (the leaderboard's overhead folders hold the same traces).
    """
    if not root.is_dir():
        raise ProblemError(f"traces={root}: no such folder; give the folder that holds the leaderboard's "
                           "trace files (e.g. …/cant-be-late-simulator/data/real)")
    wanted = set(envs)
    found: dict[str, dict[str, TraceFile]] = {e: {} for e in wanted}
    for path in sorted(root.rglob("*.json")):
        env = env_of(path, root)
        if env not in wanted or path.name in found[env]:
            continue
        gap, data = read(path)
        if data.size * gap / 3600.0 + 1e-9 >= min_hours:
            found[env][path.name] = TraceFile(env, path, gap, data)
    out = {e: sorted(f.values(), key=lambda t: _numeric_key(t.path)) for e, f in found.items()}
    empty = sorted(e for e, files in out.items() if not files)
    if empty:
        raise ProblemError(f"traces={root}: no trace of at least {min_hours:g} h for {empty}; expected JSON "
                           "trace files in folders named after the environments")
    return out


def _numeric_key(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 30, path.stem)


def evenly_spaced(items: list[TraceFile], k: int) -> list[TraceFile]:
    """Up to k items spread evenly over the list, first and last included (the leaderboard's pick)."""
    if len(items) <= k:
        return list(items)
    idx = [round(j * (len(items) - 1) / (k - 1)) for j in range(k)] if k > 1 else [0]
    return [items[i] for i in sorted(set(idx))]
