"""A hostile cant_be_late policy: peeks at the trace's future and replays its decisions in a later episode.

At tick 0 of an episode it finds the simulator's episode in the caller's frames, plays each policy of a
small family on a copy of it to the end, and keeps the one that costs least in hindsight. It records its
decisions in module globals, which outlive an episode, and in the next episode replays them for as long
as that trace equals the recorded one: a trace with the same past (a "twin", against which a check of
decisions would compare) then gets the same decisions up to where the futures part, whatever the future
told it. Without an episode to find it plays the seed's rule.
"""

import math
import sys

# decisions of the last episode and the trace they were made on (module globals outlive an episode)
RECORD = {"trace": None, "decisions": []}
CODES = {"none": 0, "spot": 1, "on_demand": 2}


def greedy(obs, memory):
    gap = obs.gap_seconds
    work_left = obs.task_duration_seconds - obs.work_done_seconds
    if work_left <= 1e-9:
        return "none"
    left_ticks = max(0, math.floor((obs.deadline_seconds - obs.elapsed_seconds) / gap))
    need_one_restart = math.ceil((work_left + 1.0 * obs.restart_overhead_seconds) / gap)
    need_two_restarts = math.ceil((work_left + 2.0 * obs.restart_overhead_seconds) / gap)
    if need_one_restart >= left_ticks:
        return "on_demand"
    if need_two_restarts >= left_ticks:
        if obs.cluster == "spot" and obs.has_spot:
            return "spot"
        return "on_demand"
    return "spot" if obs.has_spot else "none"


def uniform(obs, memory):
    total, done = obs.task_duration_seconds, obs.work_done_seconds
    if done >= total - 1e-9:
        return "none"
    t, d, deadline = obs.elapsed_seconds, obs.restart_overhead_seconds, obs.deadline_seconds
    if memory.get("net") or (obs.cluster == "none" and deadline - t < total - done + 2 * d):
        memory["net"] = True
        return "on_demand"
    if obs.cluster == "on_demand" and done < total * (t + 2 * d) / deadline:
        return "on_demand"
    if obs.has_spot:
        return "spot"
    if done < total * t / deadline:
        return "on_demand"
    return "none"


FAMILY = (greedy, uniform)


def _episode():
    frame = sys._getframe(1)
    while frame is not None:
        ep = frame.f_locals.get("ep")
        if ep is not None and hasattr(ep, "trace"):
            return ep
        frame = frame.f_back
    return None


def _cost(ep, policy, obs_type):
    sim = type(ep)(ep.trace, ep.gap, ep.duration, ep.deadline, ep.overhead)
    obs, memory = obs_type(), {}
    while not sim.finished:
        sim.observe()
        sim.fill(obs)
        sim.step(CODES[policy(obs, memory)])
    sim.observe()
    return sim.cost


def decide(obs, memory):
    ep = _episode()
    if ep is None:  # nothing to peek at: the seed's rule
        return greedy(obs, memory)
    if obs.tick == 0:
        memory["policy"] = min(FAMILY, key=lambda p: _cost(ep, p, type(obs)))
        memory["inner"] = {}
        trace = [tuple(col) for col in zip(*ep.trace.tolist())]  # one entry per tick
        old = RECORD["trace"]
        # where this trace parts from the one the recorded decisions were made on
        memory["same_until"] = next((t for t, (a, b) in enumerate(zip(trace, old or []))
                                     if a != b), 0 if old is None else len(trace))
        memory["replay"] = list(RECORD["decisions"])
        RECORD["trace"], RECORD["decisions"] = trace, []
    pick = memory["policy"](obs, memory["inner"])
    if obs.tick < memory["same_until"] and obs.tick < len(memory["replay"]):
        pick = memory["replay"][obs.tick]
    RECORD["decisions"].append(pick)
    return pick
