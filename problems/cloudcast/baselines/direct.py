"""The direct-path baseline: every partition from the source straight to each destination."""


def broadcast(src, dsts, nodes, cost, throughput, num_partitions):
    return {dst: [[src, dst] for _ in range(num_partitions)] for dst in dsts}
