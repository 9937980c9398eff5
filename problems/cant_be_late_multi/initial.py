"""Seed policy for cant_be_late_multi: the leaderboard's greedy safety rule, never leaving its first zone.

`decide(obs, memory)` is called once per tick; it returns "spot", "on_demand" or "none" to stay in the
current zone, or a pair (decision, zone index) to run in another zone.
"""

import math


# EVOLVE-BLOCK-START
def decide(obs, memory):
    """Return the decision for the coming tick, optionally with the zone to run it in."""
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
# EVOLVE-BLOCK-END
