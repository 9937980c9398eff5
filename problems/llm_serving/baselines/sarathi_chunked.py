"""Sarathi-Serve's stall-free batching with chunked prefills (OSDI'24, Algorithm 3): each iteration takes
every running decode first, then continues the prefill already under way, then starts waiting requests in
arrival order, cutting prefills into chunks so that the batch stays within a token budget. The paper sets
the budget by profiling, as the largest that keeps an iteration within the TBT SLO; here the budget is read
off the engine's cost model the same way (the batch's predicted time within 90% of the SLO), in steps of
32 tokens. A new request starts only when its whole prompt fits. Out of blocks, the latest arrival is preempted by recompute."""

SLO_SHARE = 0.9
STEP = 32
WATERMARK = 0.01


def schedule(view):
    batch, preempt = {}, {}
    free = view.free_blocks
    running = list(view.running)
    decoding = [r for r in running if r.prefill_left == 0]
    prefilling = [r for r in running if r.prefill_left > 0]
    i = 0
    while i < len(decoding):
        r = decoding[i]
        need = view.blocks_needed(r, 1)
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
        if r.cached == 0 and view.blocks_needed(r, r.prefill_left) > free - WATERMARK * view.total_blocks:
            break
        n = min(r.prefill_left, view.max_batch_tokens - tokens)
        while n > 0 and (view.blocks_needed(r, n) > free or view.iteration_time({**batch, r.rid: n}) > limit):
            n = min(n - STEP, (n - 1) // STEP * STEP) if n > STEP else 0
        if n <= 0:
            if not batch:  # an idle server always makes progress on the oldest prefill
                n = min(r.prefill_left, STEP)
                if view.blocks_needed(r, n) > free:
                    break
            else:
                break
        batch[r.rid] = n
        # a new request reserves its whole prompt's blocks, as Sarathi-Serve's (vLLM's) allocator does
        free -= view.blocks_needed(r, r.prefill_left if r.cached == 0 else n)
        tokens += n
    return batch, preempt
