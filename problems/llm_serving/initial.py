"""Seed scheduler: vLLM's default policy (first come, first served; prefill-first batches).

Each iteration: if no request is swapped out, start waiting requests in arrival order with their whole
prompt, as many as fit the token limit, the batch size and the free KV blocks (keeping a small watermark
free); if any started, the iteration is prefill-only. Otherwise decode every running request, in arrival
order; when the KV cache is full, preempt the latest arrival by recompute until the rest fit. The constants
span other policies too: a smaller CHUNK cuts prompts into chunks, DECODES_WITH_PREFILLS = 1 makes hybrid
batches, and with FIT_TO_BUDGET = 1 and a small TOKEN_BUDGET it is close to Sarathi-Serve's stall-free
batching.
`schedule` is the entry point.
"""


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


# EVOLVE-BLOCK-START
WATERMARK = 0.01            # share of all KV blocks kept free when starting new requests
TOKEN_BUDGET = 4096         # tokens per iteration
CHUNK = 4096                # most prefill tokens one request gets per iteration (4096: whole prompts)
DECODES_WITH_PREFILLS = 0   # 0: iterations that start prefills run nothing else (vLLM); 1: decodes join them
FIT_TO_BUDGET = 0           # 1: cut a prefill to the budget's remainder; 0: a prefill runs whole or waits


def add_prefills(view, batch, free, tokens):
    """Start or continue prefills in arrival order while the token budget and the KV cache allow."""
    partial = [r for r in view.running if r.prefill_left > 0]
    for r in partial + (list(view.waiting) if not view.swapped else []):
        want = min(r.prefill_left, CHUNK)
        n = min(want, min(view.max_batch_tokens, TOKEN_BUDGET) - tokens)
        if n <= 0 or (n < want and not FIT_TO_BUDGET) or r.rid in batch or len(batch) >= view.max_batch_size:
            break
        need = blocks_needed(view, r, r.prefill_left if r.cached == 0 else n)  # new: reserve the whole prompt
        if free - need < WATERMARK * view.total_blocks:
            break
        batch[r.rid] = n
        tokens += n
        free -= need
    return free, tokens


def add_decodes(view, batch, preempt, free):
    """Decode every running request in arrival order; out of blocks, preempt the latest arrival."""
    running = [r for r in view.running if r.prefill_left == 0]
    i = 0
    while i < len(running):
        r = running[i]
        need = blocks_needed(view, r, 1)
        if need <= free:
            batch[r.rid] = 1
            free -= need
            i += 1
            continue
        victim = running.pop()
        preempt[victim.rid] = "recompute"
        free += victim.blocks
    return free


def schedule(view):
    """Return ({request id: tokens}, {request id: 'recompute' | 'swap'}) for this iteration."""
    batch, preempt = {}, {}
    free = view.free_blocks
    if not DECODES_WITH_PREFILLS:
        free, tokens = add_prefills(view, batch, free, 0)
        if batch:
            return batch, preempt
    free = add_decodes(view, batch, preempt, free)
    if preempt:
        return batch, preempt
    if DECODES_WITH_PREFILLS:
        free, tokens = add_prefills(view, batch, free, len(batch))
    for r in view.swapped:
        if r.blocks + blocks_needed(view, r, 1) <= free and len(batch) < view.max_batch_size:
            batch[r.rid] = r.prefill_left or 1
            free -= r.blocks + blocks_needed(view, r, 1)
    return batch, preempt
# EVOLVE-BLOCK-END
