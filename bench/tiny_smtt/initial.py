# EVOLVE-BLOCK-START
def priority(p, d):
    return d
# EVOLVE-BLOCK-END


def schedule(p, d):
    return sorted(range(len(p)), key=lambda j: (priority(int(p[j]), int(d[j])), j))
