"""The spot/on-demand simulator of `cant_be_late`, played by the parent; its `drive` is the child's side.

This file is imported by the trusted parent, which plays every episode (`Play`, a session of
evaluators/session.py) on its own copy of the trace, and executed inside the sandbox child as the harness
driver, where only `drive` runs: it turns each observation the parent sends into the `Observation` the
policy reads and returns the policy's raw decision. So the trace's future is never in the candidate's
process, and the scorer replays the decisions through the same `Episode` to price them.

The rules are those of the ADRS leaderboard's simulator (sky_spot): time advances in ticks of
`gap_seconds`; a trace holds 1 where spot is *unavailable*; a tick's progress is realised at the start of
the next tick, minus any remaining restart overhead; the leaderboard's two overrides apply to every
policy (the "strong guarantee", which forces on-demand once the remaining work plus one restart no longer
fits before the deadline, and the safety override, which turns a spot request into NONE when spot is
unavailable); each tick is billed at the price of what ran in it, and the episode ends one tick after the
work is done.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

NONE, SPOT, ON_DEMAND = 0, 1, 2
NAMES = ("none", "spot", "on_demand")
CODES = {"none": NONE, "spot": SPOT, "on_demand": ON_DEMAND}
#: $/hour of the leaderboard's prices (p3.2xlarge in us-west-2; COST_K = 3.06 / 0.9731)
ON_DEMAND_PRICE = 3.06
SPOT_PRICE = 0.9731
PRICES = (0.0, SPOT_PRICE, ON_DEMAND_PRICE)
#: one character per decision: index = region * 3 + type (so a single region uses "0", "1", "2")
CODE_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_REGIONS = len(CODE_CHARS) // 3


class TraceEnded(Exception):
    """The job had not finished when the trace ran out (the leaderboard fails the whole evaluation)."""


class Observation:
    """What a policy sees at a tick (the attributes the leaderboard's Strategy exposes). The driver writes
    a fresh copy of its own numbers into it every tick and never reads anything back."""

    __slots__ = ("cluster", "deadline_seconds", "elapsed_seconds", "gap_seconds", "has_spot", "last_cluster",
                 "num_regions", "region", "remaining_restart_overhead_seconds", "restart_overhead_seconds",
                 "task_duration_seconds", "tick", "work_done_seconds")


class Episode:
    """One job on one trace (a row per region). `step(request, region)` applies a raw decision."""

    def __init__(self, trace: Any, gap: float, duration: float, deadline: float, overhead: float) -> None:
        self.trace = np.atleast_2d(trace)
        self.regions, self.length = self.trace.shape
        self.region = 0
        self.gap, self.duration = float(gap), float(duration)
        self.deadline, self.overhead = float(deadline), float(overhead)
        self.tick = 0
        self.cluster = NONE  # what runs now (after a preemption is noticed)
        self.last = NONE  # what ran during the previous tick
        self.has_spot = False
        self.done = 0.0
        self.remaining_overhead = 0.0
        self.cost = 0.0
        self.ticks_by_type = [0, 0, 0]
        self.finished = False
        self.finish_tick = -1

    def observe(self) -> None:
        """Start of a tick: bill the previous tick, notice a preemption, realise the previous tick's work."""
        if self.tick >= self.length:
            raise TraceEnded(f"the job was not done after the trace's {self.length} ticks")
        self.has_spot = not self.trace[self.region, self.tick]
        last = self.cluster
        self.last = last
        if self.tick > 0:
            self.cost += PRICES[last] * self.gap / 3600.0
            self.ticks_by_type[last] += 1
        if last == SPOT and not self.has_spot:
            self.cluster = NONE
        if last != NONE and self.tick > 0:
            work = max(self.gap - self.remaining_overhead, 0.0)
            self.remaining_overhead -= self.gap - work
            if self.remaining_overhead < 1e-3:
                self.remaining_overhead = 0.0
            self.done += min(work, self.duration - self.done)
            if self.done >= self.duration - 1e-9 and self.finish_tick < 0:
                self.finish_tick = self.tick  # the work was done by the start of this tick

    def fill(self, obs: Observation) -> None:
        obs.tick = self.tick
        obs.elapsed_seconds = self.tick * self.gap
        obs.gap_seconds = self.gap
        obs.deadline_seconds = self.deadline
        obs.task_duration_seconds = self.duration
        obs.restart_overhead_seconds = self.overhead
        obs.remaining_restart_overhead_seconds = self.remaining_overhead
        obs.work_done_seconds = self.done
        obs.has_spot = self.has_spot
        obs.last_cluster = NAMES[self.last]
        obs.cluster = NAMES[self.cluster]
        obs.region = self.region
        obs.num_regions = self.regions

    def step(self, request: int, region: int | None = None) -> None:
        """Apply a raw decision: the leaderboard's overrides, the restart overhead, then the next tick.

        When the strong guarantee takes over it also cancels a move: the job stays where it is.
        """
        remaining_task = self.duration - self.done
        critical = False
        if remaining_task > 1e-3:
            remaining_time = math.floor((self.deadline - self.tick * self.gap) / self.gap) * self.gap
            needed = math.ceil((remaining_task + self.overhead) / self.gap) * self.gap
            critical = needed >= remaining_time
        moved = region is not None and region != self.region and not critical
        if moved:
            self.region = region
        has_spot = not self.trace[self.region, self.tick] if moved else self.has_spot
        if critical:
            request = SPOT if self.last == SPOT and self.remaining_overhead < 1e-3 else ON_DEMAND
        if request == SPOT and not has_spot:
            request = NONE
        current = NONE if moved or (self.last == SPOT and not self.has_spot) else self.last
        if current != request and request != NONE:
            self.remaining_overhead = self.overhead
        self.cluster = request
        self.tick += 1
        if self.finish_tick >= 0:
            self.finished = True


class Play:
    """The parent's session of one episode (evaluators/session.py): the simulator steps here, on the trace
    the candidate never holds; `step` raises ValueError (a decision that breaks a rule) or TraceEnded."""

    def __init__(self, trace: Any, gap: float, duration: float, deadline: float, overhead: float) -> None:
        self.ep = Episode(trace, gap, duration, deadline, overhead)
        self.obs = Observation()
        self.decisions: list[str] = []

    def begin(self) -> tuple[dict[str, Any]]:
        self.ep.observe()
        return (self._fields(),)

    def _fields(self) -> dict[str, Any]:
        self.ep.fill(self.obs)
        return {name: getattr(self.obs, name) for name in Observation.__slots__}

    def step(self, pick: Any) -> tuple[dict[str, Any]] | None:
        ep = self.ep
        region = ep.region
        if ep.regions > 1 and isinstance(pick, (tuple, list)) and len(pick) == 2:
            pick, region = pick
            if isinstance(region, bool) or not isinstance(region, int) or not 0 <= region < ep.regions:
                raise ValueError(f"region {region!r:.40} is not an index in 0..{ep.regions - 1}")
        code = CODES.get(pick) if isinstance(pick, str) else None
        if code is None:
            allowed = "'spot', 'on_demand' or 'none'" + (" (or a (decision, region) pair)" if ep.regions > 1 else "")
            raise ValueError(f"the policy returned {type(pick).__name__} {pick!r:.40}; return {allowed}")
        self.decisions.append(CODE_CHARS[region * 3 + code])
        ep.step(code, region)
        if ep.finished:
            return None
        ep.observe()
        return (self._fields(),)

    def result(self) -> str:
        """One CODE_CHARS character per tick, which the scorer replays."""
        return "".join(self.decisions)


#: the candidate's per-episode `memory` (the driver runs in the candidate's process, one episode at a time)
_EPISODE: dict[str, Any] = {}


def drive(policy: Any, fields: Any) -> Any:
    """The harness driver, called once per tick with the observation the parent sent: `policy(obs, memory)`.

    A new episode starts at tick 0 with an empty `memory` and the random generators seeded, so that a
    policy that draws random numbers decides the same way in every evaluation.
    """
    obs = Observation()
    for name in Observation.__slots__:
        setattr(obs, name, fields[name])
    if obs.tick == 0:
        _EPISODE["memory"] = {}
        random.seed(0)
        np.random.seed(0)
    pick = policy(obs, _EPISODE.setdefault("memory", {}))
    if isinstance(pick, tuple) and len(pick) == 2 and isinstance(pick[1], np.integer):
        pick = (pick[0], int(pick[1]))  # a numpy index is an index
    return pick


def run_episode(policy: Any, trace: Any, gap: float, duration: float, deadline: float,
                overhead: float) -> tuple[str, str | None]:
    """The episode in this process (tests, tools): `policy(obs, memory)` to the end of the job; returns
    (one CODE_CHARS character per tick, error). The sandbox plays the same `Play` with the policy in the
    child, one observation at a time."""
    play = Play(trace, gap, duration, deadline, overhead)
    try:
        obs: Any = play.begin()
        while obs is not None:
            obs = play.step(drive(policy, *obs))
    except (ValueError, TraceEnded) as exc:
        return play.result(), f"tick {play.ep.tick}: {exc}"
    return play.result(), None


def replay(decisions: str, trace: Any, gap: float, duration: float, deadline: float,
           overhead: float) -> Episode:
    """The parent's replay of raw decisions (CODE_CHARS); raises ValueError if they do not fit."""
    ep = Episode(trace, gap, duration, deadline, overhead)
    for i, ch in enumerate(decisions):
        if ep.finished:
            raise ValueError(f"{len(decisions)} decisions for a job that was done after {i}")
        code = CODE_CHARS.find(ch)
        if not 0 <= code < 3 * ep.regions:
            raise ValueError(f"decision {i} is {ch!r}, not a decision code for {ep.regions} region(s)")
        ep.observe()
        ep.step(code % 3, code // 3)
    if not ep.finished:
        raise ValueError(f"{len(decisions)} decisions leave the job unfinished")
    ep.observe()  # the leaderboard's last observation bills the tick after the work was done
    return ep
