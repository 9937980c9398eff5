"""The paper's greedy policy: spot whenever available, otherwise wait; on-demand only when the deadline
forces it (the simulator's override does that part)."""


def decide(obs, memory):
    if obs.work_done_seconds >= obs.task_duration_seconds - 1e-9:
        return "none"
    return "spot" if obs.has_spot else "none"
