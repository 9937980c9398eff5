"""Seed policy for cant_be_late: the leaderboard's "greedy safety" program.

Run on spot while it is available and wait while it is not, until deadline pressure says to switch to
on-demand. `decide(obs, memory)` is called once per tick.
"""

import math


# EVOLVE-BLOCK-START
def decide(obs, memory):
    """Return "spot", "on_demand" or "none" for the coming tick."""
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
