"""vLLM's default policy (first come, first served; prefill-first batches).

Each iteration: if no request is swapped out, start waiting requests in arrival order with their whole
prompt, as many as fit the token limit, the batch size and the free KV blocks (keeping a small watermark
free); if any started, the iteration is prefill-only. Otherwise decode every running request, in arrival
order; when the KV cache is full, preempt the latest arrival by recompute until the rest fit.
(The seed program is this policy.)
"""


WATERMARK = 0.01        # share of all KV blocks kept free when starting new requests
MAX_PREFILL_TOKENS = 4096


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
    """Return ({request id: tokens}, {request id: 'recompute' | 'swap'}) for this iteration."""
    batch, preempt = {}, {}
    free = view.free_blocks
    if not view.swapped:
        tokens = 0
        for r in view.waiting:
            n = r.prefill_left
            need = blocks_needed(view, r, n)
            if tokens + n > min(view.max_batch_tokens, MAX_PREFILL_TOKENS) \
                    or len(batch) >= view.max_batch_size \
                    or free - need < WATERMARK * view.total_blocks:
                break
            batch[r.rid] = n
            tokens += n
            free -= need
        if batch:
            return batch, preempt
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
    for r in view.swapped:
        if r.blocks + blocks_needed(view, r, 1) <= free and len(batch) < view.max_batch_size:
            batch[r.rid] = r.prefill_left or 1
            free -= r.blocks + blocks_needed(view, r, 1)
    return batch, preempt
