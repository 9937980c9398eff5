"""Everything on on-demand: the leaderboard's 0-point anchor (slightly above it: one restart and the
billed tick after the end)."""


def decide(obs, memory):
    if obs.work_done_seconds >= obs.task_duration_seconds - 1e-9:
        return "none"
    return "on_demand"
