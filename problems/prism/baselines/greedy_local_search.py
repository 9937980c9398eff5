"""The seed's greedy, then a descent on the worst GPU: move one of its models, or swap one with a model of
another GPU, whenever that lowers the larger of the two GPUs' pressures; stop when nothing helps."""

GPU_MEM_SIZE = 80


def place(gpu_num, sizes, rates, slos):
    n = len(sizes)
    w = [rates[j] / slos[j] for j in range(n)]
    order = sorted(range(n), key=lambda j: w[j], reverse=True)
    free, load, gpu_of = [float(GPU_MEM_SIZE)] * gpu_num, [0.0] * gpu_num, [0] * n
    for j in order:
        fits = [g for g in range(gpu_num) if sizes[j] <= free[g]]
        best = min(fits, key=lambda g: (load[g] + w[j]) / (free[g] - sizes[j]) if free[g] > sizes[j] else 1e9)
        gpu_of[j] = best
        load[best] += w[j]
        free[best] -= sizes[j]

    def kv(g):
        return load[g] / free[g] if free[g] > 0 else 1e6

    for _ in range(500):
        worst = max(range(gpu_num), key=kv)
        current = kv(worst)
        improved = False
        for j in [j for j in range(n) if gpu_of[j] == worst]:
            for g in range(gpu_num):
                if g == worst:
                    continue
                if sizes[j] < free[g]:  # move j to g
                    a = (load[worst] - w[j]) / (free[worst] + sizes[j])
                    b = (load[g] + w[j]) / (free[g] - sizes[j])
                    if max(a, b) < current - 1e-12:
                        load[worst] -= w[j]
                        free[worst] += sizes[j]
                        load[g] += w[j]
                        free[g] -= sizes[j]
                        gpu_of[j] = g
                        improved = True
                        break
                for k in [k for k in range(n) if gpu_of[k] == g]:  # swap j and k
                    fw, fg = free[worst] + sizes[j] - sizes[k], free[g] - sizes[j] + sizes[k]
                    if fw <= 0 or fg <= 0:
                        continue
                    a, b = (load[worst] - w[j] + w[k]) / fw, (load[g] + w[j] - w[k]) / fg
                    if max(a, b) < current - 1e-12:
                        load[worst] += w[k] - w[j]
                        load[g] += w[j] - w[k]
                        free[worst], free[g] = fw, fg
                        gpu_of[j], gpu_of[k] = g, worst
                        improved = True
                        break
                if improved:
                    break
            if improved:
                break
        if not improved:
            break
    return gpu_of
