"""Uniform Progress (NSDI'24) with zone probing: the paper's four rules in the current zone, and while
idle without spot, move to the next zone to look for spot there."""


def decide(obs, memory):
    total, done = obs.task_duration_seconds, obs.work_done_seconds
    if done >= total - 1e-9:
        return "none"
    t, d, deadline = obs.elapsed_seconds, obs.restart_overhead_seconds, obs.deadline_seconds

    def expected(time):
        return total * time / deadline

    if memory.get("safety_net") or (obs.cluster == "none" and deadline - t < total - done + 2 * d):
        memory["safety_net"] = True
        return "on_demand"
    if obs.cluster == "on_demand" and done < expected(t + 2 * d):
        return "on_demand"
    if obs.has_spot:
        return "spot"
    if done < expected(t):
        return "on_demand"
    return ("none", (obs.region + 1) % obs.num_regions)
