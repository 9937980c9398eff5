"""Llumnix-style (OSDI'24) "virtual usage": an instance's load is the KV blocks its running requests hold
plus the blocks its queued requests will need, over its capacity; a new request goes to the instance of
lowest virtual usage. When the most and least loaded instances differ by more than GAP, the running request
with the smallest KV cache on the most loaded one migrates to the least loaded (Llumnix migrates to
de-fragment and balance, preferring short contexts because they move fastest)."""

GAP = 0.5


def virtual_usage(inst):
    b = inst.block_size
    queued = sum(-(-(r.cached + r.prefill_left) // b) for r in inst.waiting)
    used = inst.total_blocks - inst.free_blocks
    return (used + queued) / inst.total_blocks


def dispatch(view, request):
    usage = [virtual_usage(inst) for inst in view.instances]
    dst = min(range(view.n_instances), key=lambda i: (usage[i], i))
    src = max(range(view.n_instances), key=lambda i: (usage[i], -i))
    moves = []
    if usage[src] - usage[dst] > GAP:
        movable = [r for r in view.instances[src].running if r.prefill_left == 0 and not r.swapped
                   and r.blocks <= view.instances[dst].free_blocks]
        if movable:
            moves.append((min(movable, key=lambda r: r.blocks).rid, dst))
    return dst, moves
