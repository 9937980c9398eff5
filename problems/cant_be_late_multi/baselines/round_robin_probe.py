"""Greedy across zones: stay on spot while it lasts; when spot is gone here, move to the next zone (a
free probe while nothing runs) and wait; the simulator's guarantee switches to on-demand in time."""


def decide(obs, memory):
    if obs.work_done_seconds >= obs.task_duration_seconds - 1e-9:
        return "none"
    if obs.has_spot:
        return "spot"
    return ("none", (obs.region + 1) % obs.num_regions)
