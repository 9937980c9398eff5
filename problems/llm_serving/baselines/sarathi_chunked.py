"""Sarathi-Serve's stall-free batching with chunked prefills (OSDI'24, Algorithm 3): each iteration takes
every running decode first, then continues the prefill already under way, then starts waiting requests in
arrival order, cutting prefills into chunks so that the batch stays within a token budget. The paper sets
the budget by profiling, as the largest that keeps an iteration within the TBT SLO; here the budget is read
off the engine's cost model the same way (the batch's predicted time within 90% of the SLO), in steps of
32 tokens. A new request starts only when its whole prompt fits. Out of blocks, the latest arrival is preempted by recompute."""

SLO_SHARE = 0.9
STEP = 32
WATERMARK = 0.01


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
    reqs = {r.rid: r for r in (*view.waiting, *view.running, *view.swapped)}
    free = view.free_blocks
    running = list(view.running)
    decoding = [r for r in running if r.prefill_left == 0]
    prefilling = [r for r in running if r.prefill_left > 0]
    i = 0
    while i < len(decoding):
        r = decoding[i]
        need = blocks_needed(view, r, 1)
        if need <= free:
            batch[r.rid] = 1
            free -= need
            i += 1
            continue
        victim = (prefilling or decoding).pop()
        preempt[victim.rid] = "recompute"
        free += victim.blocks
    if preempt:
        return batch, preempt
    limit = SLO_SHARE * view.tbt_slo_s
    tokens = len(batch)
    for r in prefilling + list(view.waiting):
        if len(batch) >= view.max_batch_size:
            break
        if r.cached == 0 and blocks_needed(view, r, r.prefill_left) > free - WATERMARK * view.total_blocks:
            break
        n = min(r.prefill_left, view.max_batch_tokens - tokens)
        while n > 0 and (blocks_needed(view, r, n) > free or iteration_time(view, {**batch, r.rid: n}, reqs) > limit):
            n = min(n - STEP, (n - 1) // STEP * STEP) if n > STEP else 0
        if n <= 0:
            if not batch:  # an idle server always makes progress on the oldest prefill
                n = min(r.prefill_left, STEP)
                if blocks_needed(view, r, n) > free:
                    break
            else:
                break
        batch[r.rid] = n
        # a new request reserves its whole prompt's blocks, as Sarathi-Serve's (vLLM's) allocator does
        free -= blocks_needed(view, r, r.prefill_left if r.cached == 0 else n)
        tokens += n
    return batch, preempt
