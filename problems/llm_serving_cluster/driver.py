"""Child-side driver of `llm_serving_cluster`, and the cluster both sides run.

Several copies of the `llm_serving` engine (one GPU each) sit behind a dispatcher. The candidate is the
dispatcher: at every arrival it names the instance that takes the request and may start migrations of
running requests between instances (as Llumnix does). Each instance runs a fixed, trusted local scheduler
(Sarathi-Serve's stall-free chunked prefills). The sandbox child runs this file after the `llm_serving`
driver's text (see `LlmServingCluster.driver_source`), so it shares its engine and its frame wall; the
parent imports it and replays the episode with the logged decisions, re-running the local schedulers
itself, so it trusts nothing of the child's but the decisions, which it checks one by one.

A migration moves the request's KV cache: it starts when the source's current iteration ends, frees the
source's blocks, holds as many on the destination from the start, and takes `per_migrate_token_s` per
cached token (KV of 800 KiB per token over a ~12 GB/s link); meanwhile the request makes no progress.
"""

if __name__ != "evolve_driver":  # the parent; in the child the llm_serving driver's text precedes this one
    import time
    from types import SimpleNamespace
    from typing import Any

    import numpy as np

    from problems.llm_serving.driver import RECOMPUTE, Illegal, _describe, make_view, new_engine, step

# bound here (in the child, over the builtins module the candidate could patch): see the llm_serving driver
from builtins import float, int, isinstance, len, list, max, min, sum, tuple  # noqa: UP029

ROUTE, MIGRATE = 0, 1
#: the local scheduler's share of the TBT SLO for one iteration and its chunk step (Sarathi-Serve's rule)
LOCAL_SLO_SHARE, LOCAL_STEP, LOCAL_WATERMARK = 0.9, 32, 0.01


def local_schedule(engine: Any) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Sarathi-Serve-like stall-free batching of one instance, on the engine's own state (trusted: it runs on
    both sides): decodes first, then chunked prefills within the TBT SLO; out of blocks, the latest
    arrival is recomputed."""
    cfg, cost = engine.cfg, engine.cost
    bsize, free = cfg["block_size"], engine.free
    decoding, prefilling, waiting = [], [], []
    for r in engine.live.values():
        if r.swapped:
            continue
        (waiting if r.cached == 0 else decoding if r.cached == r.target else prefilling).append(r)
    batch: list[tuple[int, int]] = []
    preempt: list[tuple[int, int]] = []
    i = 0
    while i < len(decoding):
        r = decoding[i]
        need = max(0, -(-(r.cached + 1) // bsize) - r.blocks)
        if need <= free:
            batch.append((r.rid, 1))
            free -= need
            i += 1
            continue
        victim = (prefilling or decoding).pop()
        preempt.append((victim.rid, RECOMPUTE))
        free += victim.blocks
    if preempt:
        return batch, preempt
    per_tok, per_kv, per_pair = cost["per_token_s"], cost["per_kv_token_s"], cost["per_pair_s"]
    t = cost["fixed_s"] + sum(per_tok + per_kv * r.cached for r in decoding)
    limit = LOCAL_SLO_SHARE * cfg["tbt_slo_s"]
    tokens = len(batch)
    for r in prefilling + waiting:
        left = r.target - r.cached
        whole = -(-(r.cached + left) // bsize) - r.blocks
        if r.cached == 0 and whole > free - LOCAL_WATERMARK * cfg["num_blocks"]:
            break
        n = min(left, cfg["max_batch_tokens"] - tokens)
        while n > 0 and (max(0, -(-(r.cached + n) // bsize) - r.blocks) > free
                         or t + per_tok * n + per_kv * r.cached + per_pair * n * (r.cached + n / 2) > limit):
            n = min(n - LOCAL_STEP, (n - 1) // LOCAL_STEP * LOCAL_STEP) if n > LOCAL_STEP else 0
        if n <= 0:
            if batch:
                break
            n = min(left, LOCAL_STEP)
        need = whole if r.cached == 0 else max(0, -(-(r.cached + n) // bsize) - r.blocks)
        if need > free:
            break
        batch.append((r.rid, n))
        free -= need
        tokens += n
        t += per_tok * n + per_kv * r.cached + per_pair * n * (r.cached + n / 2)
    return batch, preempt


def new_cluster(arrival_s: Any, prompt_len: Any, output_len: Any, ttft_slo_s: Any, config: dict[str, Any],
                n_instances: int, record: bool = False) -> Any:
    """N engines sharing one trace and one set of request objects and per-request statistics (a plain
    namespace, like the engine: no class of the driver carries code a scheduler could patch)."""
    engines = []
    for _ in range(n_instances):
        e = new_engine(arrival_s, prompt_len, output_len, ttft_slo_s, config, record=record)
        e.next = e.n  # requests reach an instance only through the dispatcher
        engines.append(e)
    first = engines[0]
    for e in engines[1:]:
        e.reqs, e.bad_gaps, e.n_gaps, e.finish_s = first.reqs, first.bad_gaps, first.n_gaps, first.finish_s
    return SimpleNamespace(cfg=config, engines=engines, reqs=first.reqs, bad_gaps=first.bad_gaps,
                           n_gaps=first.n_gaps, finish_s=first.finish_s, arrival=[float(a) for a in arrival_s],
                           n=first.n, transit=[], migrations=0, location=[-1] * first.n, gaps=[], tokens_out=0)


def dispatcher_view(c: Any, now: float) -> Any:
    insts = []
    for i, e in enumerate(c.engines):
        v = make_view(e)
        v.now = max(now, e.now)
        v.incoming = [rid for _, rid, dst in c.transit if dst == i]
        insts.append(v)
    return SimpleNamespace(now=now, instances=insts, n_instances=len(insts))


def migrate(c: Any, rid: int, dst: int, now: float) -> None:
    """Start moving request `rid` to instance `dst`; raise Illegal if it cannot go."""
    if isinstance(rid, bool) or not isinstance(rid, int) or isinstance(dst, bool) or not isinstance(dst, int):
        raise Illegal(f"a migration must be (int request id, int instance), got ({rid!r:.30}, {dst!r:.30})")
    if not 0 <= dst < len(c.engines):
        raise Illegal(f"migrates request {rid} to instance {dst}; instances are 0..{len(c.engines) - 1}")
    src = c.location[rid] if 0 <= rid < c.n else -1
    e = c.engines[src] if src >= 0 else None
    r = e.live.get(rid) if e is not None else None
    if r is None:
        raise Illegal(f"migrates request {rid}, which is on no instance (not arrived, in transit or done)")
    if src == dst:
        raise Illegal(f"migrates request {rid} to instance {dst}, where it already is")
    if r.swapped or r.blocks == 0:
        raise Illegal(f"migrates request {rid}, which holds no KV cache on its instance")
    d = c.engines[dst]
    if r.blocks > d.free:
        raise Illegal(f"migrates request {rid} ({r.blocks} blocks) to instance {dst} with {d.free} blocks free")
    e.free += r.blocks
    d.free -= r.blocks
    del e.live[rid]
    c.transit.append((max(now, e.now) + c.cfg["per_migrate_token_s"] * r.cached, rid, dst))
    c.location[rid] = -1
    c.migrations += 1


def run_cluster(c: Any, route: Any, max_iterations: int) -> int:
    """Simulate to the end; `route(k, c)` gives (instance, [(rid, destination)]) for arrival k. Returns the
    number of iterations; raises Illegal on a bad decision."""
    k = iterations = 0
    inf = float("inf")
    engines = c.engines
    while True:
        e_min = None
        for e in engines:
            if e.live and (e_min is None or e.now < e_min.now):
                e_min = e
        t_arr = c.arrival[k] if k < c.n else inf
        t_mig = min(c.transit)[0] if c.transit else inf
        t_evt = min(t_arr, t_mig)
        if e_min is not None and e_min.now < t_evt:
            if iterations >= max_iterations:
                raise Illegal(f"the episode needed more than {max_iterations} iterations")
            batch, preempt = local_schedule(e_min)
            if not batch and not preempt:  # nothing it can run: it waits for the next event
                if t_evt == inf:
                    raise Illegal(f"{len(e_min.live)} request(s) are stuck with nothing left to happen")
                e_min.now = t_evt
            else:
                step(e_min, batch, preempt)
            iterations += 1
            continue
        if t_evt == inf:
            break
        if t_mig <= t_arr:
            c.transit.sort()
            done_at, rid, dst = c.transit.pop(0)
            d = engines[dst]
            if not d.live:
                d.now = max(d.now, done_at)
            d.live[rid] = c.reqs[rid]
            c.location[rid] = dst
            continue
        for e in engines:
            if not e.live and e.now < t_arr:
                e.now = t_arr
        dst, moves = route(k, c)
        if isinstance(dst, bool) or not isinstance(dst, int) or not 0 <= dst < len(engines):
            raise Illegal(f"arrival {k}: instance {dst!r:.30} is not one of 0..{len(engines) - 1}")
        for rid, to in moves:
            migrate(c, rid, to, t_arr)
        engines[dst].live[k] = c.reqs[k]
        c.location[k] = dst
        k += 1
    done = sum(1 for f in c.finish_s if f == f)
    if done != c.n:
        raise Illegal(f"{c.n - done} request(s) never finished")
    c.gaps = [g for e in engines for g in e.gaps]
    c.tokens_out = sum(e.tokens_out for e in engines)
    return iterations


def parse_route(out: Any) -> tuple[int, list[tuple[int, int]]]:
    """The dispatcher's answer as (instance, [(rid, destination)]); raise Illegal if malformed."""
    moves: Any = []
    if isinstance(out, tuple) and len(out) == 2:
        out, moves = out
    if isinstance(out, (bool, np.bool_)) or not isinstance(out, (int, np.integer)) \
            or not isinstance(moves, (list, tuple)):
        raise Illegal("dispatch must return an instance index, or (index, [(request id, instance), ...]); got "
                      f"{type(out).__name__} {out!r:.60}")
    pairs = []
    for m in moves:
        if not isinstance(m, (list, tuple)) or len(m) != 2 or any(
                isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) for x in m):
            raise Illegal(f"a migration must be (request id, instance), got {m!r:.60}")
        pairs.append((int(m[0]), int(m[1])))
    return int(out), pairs


def drive(dispatch: Any, arrival_s: Any, prompt_len: Any, output_len: Any, ttft_slo_s: Any,
          config: dict[str, Any], n_instances: int, budget_ms: float, max_iterations: int) -> dict[str, Any]:
    """Run the episode with the dispatcher; return {"log": int64 rows (arrival, kind, a, b), "error": …}."""
    clock = time.process_time
    cluster = new_cluster(arrival_s, prompt_len, output_len, ttft_slo_s, config, n_instances)
    rows: list[int] = []

    def route(k: int, c: Any) -> tuple[int, list[tuple[int, int]]]:
        r = c.reqs[k]
        arrival = SimpleNamespace(rid=k, arrival_s=r.arrival_s, prompt_len=r.prompt_len, ttft_slo_s=r.ttft_slo_s)
        view = dispatcher_view(c, r.arrival_s)
        begin = clock()
        try:
            out = dispatch(view, arrival)
        except Exception as exc:
            raise Illegal(f"dispatch raised {_describe(exc)}") from None
        used_ms = (clock() - begin) * 1000.0
        if used_ms > budget_ms:
            raise Illegal(f"dispatch used {used_ms:.1f} ms of CPU time; the budget is {budget_ms:g} ms")
        dst, moves = parse_route(out)
        rows.extend((k, ROUTE, dst, 0))
        for rid, to in moves:
            rows.extend((k, MIGRATE, rid, to))
        return dst, moves

    error = None
    try:
        run_cluster(cluster, route, max_iterations)
    except Illegal as exc:
        error = str(exc)
    return {"log": np.array(rows, dtype=np.int64).reshape(-1, 4), "error": error}
