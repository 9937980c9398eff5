"""Least loaded by queued tokens: the instance with the fewest prefill tokens still to compute plus running
requests' context (a proxy of the work and memory it holds); ties to the lowest index. No migration."""


def load(inst):
    return sum(r.prefill_left for r in inst.waiting + inst.running) + sum(r.cached for r in inst.running)


def dispatch(view, request):
    return min(range(view.n_instances), key=lambda i: (load(view.instances[i]), i))
