"""Seed for prism: the leaderboard's initial program (PRISM's greedy, Algorithm 1 without the τ check).

Models in decreasing order of rate/SLO, each to the GPU with the lowest current KV-cache pressure
among those it fits on. `place(gpu_num, sizes, rates, slos)` returns the GPU id of every model.
"""

GPU_MEM_SIZE = 80  # GB


# EVOLVE-BLOCK-START
def place(gpu_num, sizes, rates, slos):
    order = sorted(range(len(sizes)), key=lambda j: rates[j] / slos[j], reverse=True)
    free = [float(GPU_MEM_SIZE)] * gpu_num
    load = [0.0] * gpu_num
    gpu_of = [0] * len(sizes)
    for j in order:
        best, best_ratio = None, float("inf")
        for g in range(gpu_num):
            if sizes[j] <= free[g] and free[g] > 0:
                ratio = load[g] / free[g]
                if ratio < best_ratio:
                    best, best_ratio = g, ratio
        if best is None:
            raise ValueError(f"model {j} of {sizes[j]} GB fits on no GPU")
        gpu_of[j] = best
        load[best] += rates[j] / slos[j]
        free[best] -= sizes[j]
    return gpu_of
# EVOLVE-BLOCK-END
