"""Seed dispatcher: least loaded by a weighted count of queued work (no migration).

At each arrival every instance is scored by the prefill tokens it still has to compute, plus a weight times
the KV blocks its running requests hold; the request goes to the lowest score. `dispatch` is the entry
point; it may also return (instance, [(request id, destination instance), ...]) to migrate running requests.
"""


# EVOLVE-BLOCK-START
PREFILL_WEIGHT = 1.0
BLOCK_WEIGHT = 16.0
MIGRATE_GAP = 10 ** 9   # migrate when the scores of the busiest and idlest instances differ by more


def score(inst):
    prefill = sum(r.prefill_left for r in inst.waiting + inst.running)
    held = inst.total_blocks - inst.free_blocks
    return PREFILL_WEIGHT * prefill + BLOCK_WEIGHT * held


def dispatch(view, request):
    scores = [score(inst) for inst in view.instances]
    dst = min(range(view.n_instances), key=lambda i: (scores[i], i))
    src = max(range(view.n_instances), key=lambda i: (scores[i], -i))
    moves = []
    if scores[src] - scores[dst] > MIGRATE_GAP:
        movable = [r for r in view.instances[src].running if r.prefill_left == 0
                   and r.blocks <= view.instances[dst].free_blocks]
        if movable:
            moves.append((min(movable, key=lambda r: r.blocks).rid, dst))
    return dst, moves
# EVOLVE-BLOCK-END
