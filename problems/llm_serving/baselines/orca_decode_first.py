"""Orca-like iteration-level batching, decode first: every running request decodes each iteration, and
waiting requests join the same batch with their whole prompt (a hybrid batch) while the token limit and
the KV cache allow, keeping 5% of the blocks free for the decodes to grow into. Out of blocks, the latest
arrival is preempted by recompute."""

RESERVE = 0.05


def blocks_needed(view, r, n):
    """KV blocks request `r` must add to run `n` more tokens (for a swapped request, on top of its own)."""
    return max(0, -(-(r.cached + n) // view.block_size) - r.blocks)


def iteration_time(view, batch, reqs):
    """Seconds the batch {rid: tokens} takes by the server's cost model; `reqs` maps rid -> request."""
    c = view.cost
    t = c["fixed_s"]
    for rid, n in batch.items():
        r = reqs[rid]
        t += c["per_token_s"] * n + c["per_kv_token_s"] * r.cached
        if r.cached < r.target:
            t += c["per_pair_s"] * n * (r.cached + n / 2)
        if r.swapped:
            t += c["per_swap_token_s"] * r.cached
    return t


def schedule(view):
    batch, preempt = {}, {}
    free = view.free_blocks
    running = list(view.running)
    i = 0
    while i < len(running):
        r = running[i]
        n = r.prefill_left or 1
        need = blocks_needed(view, r, n)
        if need <= free:
            batch[r.rid] = n
            free -= need
            i += 1
            continue
        victim = running.pop()
        preempt[victim.rid] = "recompute"
        free += victim.blocks
    if preempt:
        return batch, preempt
    tokens = sum(batch.values())
    for r in view.waiting:
        n = r.prefill_left
        need = blocks_needed(view, r, n)
        if tokens + n > view.max_batch_tokens or len(batch) >= view.max_batch_size \
                or free - need < RESERVE * view.total_blocks:
            break
        batch[r.rid] = n
        tokens += n
        free -= need
    return batch, preempt
