"""Uniform Progress (Wu et al., "Can't Be Late", NSDI'24), written from the paper's four rules.

With ep(t) = C·t/D the expected progress (job length C, deadline D) and cp(t) the work done:
1. Uniform progress: idle and behind (cp(t) < ep(t)) -> on-demand, to catch up.
2. Taking risks: spot whenever it is available, even when behind; stay on it until preempted.
3. Hysteresis: on on-demand, stay until cp(t) >= ep(t + 2d), d the restart overhead.
4. Safety net: idle and the remaining time R(t) < remaining work + 2d -> on-demand until the end.
"""


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
    return "none"
