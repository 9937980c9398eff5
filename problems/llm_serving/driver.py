"""Child-side driver of `llm_serving`, and the serving engine that both sides run.

`drive` runs inside the sandbox child, in the same untrusted process as the scheduler, so the parent
trusts nothing it returns: it builds its own `Engine` from the trace it kept, replays the logged decisions
one iteration at a time (`step` rejects every illegal one) and measures every request itself.
Self-contained (numpy and the standard library only), because the child imports nothing from the disk.

The child holds the whole trace, future arrivals and output lengths included, which a real scheduler cannot
know. Loaded before the candidate's code, the driver installs an audit hook that refuses every way to reach
an interpreter frame (`sys._getframe`, `tb_frame`, `gi_frame`, trace and profile hooks, `gc`), and it hands
the scheduler only snapshots of builtin types, so no reference leads from the scheduler to the engine.

The engine is one GPU serving a model with a paged KV cache (after vLLM): every iteration runs one batch;
a request in the batch either computes a chunk of its prompt (its prefill) or decodes one token. The time
of an iteration is linear in what the batch does (the form of Vidur's and Sarathi-Serve's cost models):

    t = fixed + per_token·(tokens) + per_kv_token·(KV tokens read) + per_pair·(prefill attention pairs)
        + per_swap_token·(KV tokens moved to or from host memory)

A request's KV cache takes ceil(tokens / block_size) blocks of a fixed pool. The scheduler may preempt a
request that holds blocks, by recompute (its blocks are freed; later it recomputes prompt and output so far)
or by swap (its blocks move to a smaller host pool; scheduling it again brings them back).
"""

from __future__ import annotations

import sys
import time
from builtins import all, dict, float, int, isinstance, len, list, max, range, repr, set, str, tuple, type  # noqa: UP029
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np

# The names above are bound here, so a scheduler that patches the builtins module cannot see the values the
# engine passes to them. The scheduler receives only builtin-typed data (SimpleNamespace, lists, dicts,
# numbers): no function of this module, whose globals lead to the engine, is reachable from it.
_clock = time.process_time
_FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                           "gc.get_objects", "gc.get_referrers", "gc.get_referents", "llm_serving.signals"})
#: a Python signal handler receives the interrupted frame without any audit event
_SIGNAL_CALLS = ("signal", "setitimer", "alarm")
PEEK_MARK = "llm_serving: reading the interpreter's frames is not allowed"


def _no_frames(event: str, args: Any) -> None:
    """Audit hook: the child's frames hold the trace (future arrivals, output lengths), so no code reaches
    a frame once this driver is loaded (before the candidate's code runs)."""
    if event in _FRAME_EVENTS or (event == "object.__getattr__" and len(args) > 1 and args[1] in _FRAME_ATTRS):
        raise PermissionError(f"{PEEK_MARK} ({event})")


def arm() -> None:
    """Install the frame wall in this process (the child does it when it loads the driver).

    Setting a signal handler or a timer goes through a builtin that raises the refused audit event (not a
    function of this module, whose globals would lead to the engine). A program that rebuilds the `_signal`
    module from scratch (`_imp.create_builtin`) still gets a handler, and with it a frame: only a
    parent-side engine or a syscall filter closes that (see description.md).
    """
    sys.addaudithook(_no_frames)
    for module in (sys.modules.get("signal"), sys.modules.get("_signal")):
        for name in _SIGNAL_CALLS:
            if module is not None and hasattr(module, name):
                setattr(module, name, partial(sys.audit, "llm_serving.signals"))


if __name__ == "evolve_driver":  # executed by the sandbox child, before any candidate code
    arm()

#: codes of the preemption rows in the decision log (their third column)
RECOMPUTE, SWAP = -1, -2
MODES = {"recompute": RECOMPUTE, "swap": SWAP}


class Illegal(Exception):
    """A decision that breaks a rule of the engine."""


def new_request(rid: int, arrival_s: float, prompt_len: int, ttft_slo_s: float) -> SimpleNamespace:
    """A request as the engine tracks it (it never holds the output length).

    `cached`: tokens whose KV is in the cache; `target`: tokens to compute before the request emits its
    next token (the prompt at first; prompt + output so far after a recompute preemption), so
    `target - cached` is the prefill left (0 when the request is decoding); `generated`: output tokens so
    far; `blocks`: KV blocks held (on the host while `swapped`).
    """
    return SimpleNamespace(rid=rid, arrival_s=arrival_s, prompt_len=prompt_len, ttft_slo_s=ttft_slo_s, cached=0,
                           target=prompt_len, generated=0, blocks=0, swapped=False, first_token_s=None,
                           last_token_s=None, preemptions=0)


def make_view(engine: SimpleNamespace) -> SimpleNamespace:
    """The scheduler's view at the start of one iteration: fresh snapshots of builtin types only, so that
    nothing it holds leads back to the engine (see description.md for the fields)."""
    c = engine.cfg
    waiting, running, swapped = [], [], []
    for r in engine.live.values():
        snap = SimpleNamespace(
            rid=r.rid, arrival_s=r.arrival_s, prompt_len=r.prompt_len, ttft_slo_s=r.ttft_slo_s, cached=r.cached,
            target=r.target, prefill_left=r.target - r.cached, generated=r.generated, blocks=r.blocks,
            swapped=r.swapped, first_token_s=r.first_token_s, last_token_s=r.last_token_s,
            preemptions=r.preemptions, decoding=r.generated > 0 and r.cached == r.target)
        (swapped if r.swapped else running if r.cached else waiting).append(snap)
    return SimpleNamespace(
        now=engine.now, waiting=waiting, running=running, swapped=swapped, free_blocks=engine.free,
        swap_free_blocks=engine.swap_free, total_blocks=c["num_blocks"], block_size=c["block_size"],
        max_batch_tokens=c["max_batch_tokens"], max_batch_size=c["max_batch_size"], tbt_slo_s=c["tbt_slo_s"],
        cost=dict(engine.cost))


def new_engine(arrival_s: Any, prompt_len: Any, output_len: Any, ttft_slo_s: Any,
           config: dict[str, Any], record: bool = False) -> SimpleNamespace:
    """The server's state: requests arrive from a trace; `step` runs one decided iteration or raises Illegal.

    State lives in a SimpleNamespace and the engine's code in plain functions: no class of this module
    carries code, so nothing found through `object.__subclasses__()` leads here or can be patched to
    receive the engine.
    """
    arrival = [float(a) for a in arrival_s]
    n = len(arrival)
    return SimpleNamespace(
        cfg=config, cost={k: float(config[k]) for k in ("fixed_s", "per_token_s", "per_kv_token_s", "per_pair_s",
                                                          "per_swap_token_s")},
        arrival=arrival, out=[int(x) for x in output_len], n=n,
        reqs=[new_request(i, arrival[i], int(prompt_len[i]), float(ttft_slo_s[i])) for i in range(n)],
        now=arrival[0] if n else 0.0, next=0, live={}, free=int(config["num_blocks"]),
        swap_free=int(config["swap_blocks"]), finished=0, record=record,
        gaps=[],                  # every time between tokens (record=True)
        bad_gaps=[0] * n,         # gaps above the TBT SLO, per request
        n_gaps=[0] * n, finish_s=[float("nan")] * n, tokens_out=0)


def admit(e: SimpleNamespace) -> None:
    """Requests whose arrival time has come join the waiting queue."""
    while e.next < e.n and e.arrival[e.next] <= e.now:
        r = e.reqs[e.next]
        e.live[r.rid] = r
        e.next += 1


def idle(e: SimpleNamespace) -> bool:
    """Wait for the next arrival; False when none is left."""
    if e.next >= e.n:
        return False
    e.now = max(e.now, e.arrival[e.next])
    return True


def complete(e: SimpleNamespace) -> bool:
    return e.finished == e.n


def step(e: SimpleNamespace, batch: list[tuple[int, int]], preempt: list[tuple[int, int]]) -> None:
    """Run one iteration: preemptions first, then the batch [(rid, tokens)]; raise Illegal on a bad one."""
    cfg, c, live = e.cfg, e.cost, e.live
    bsize = cfg["block_size"]
    moved = 0
    gone: set[int] = set()
    for rid, mode in preempt:
        r = live.get(rid)
        if r is None:
            raise Illegal(f"preempts request {rid}, which is not on the server (not arrived, unknown or done)")
        if rid in gone:
            raise Illegal(f"preempts request {rid} twice")
        gone.add(rid)
        if r.swapped:
            raise Illegal(f"preempts request {rid}, which is already swapped out")
        if r.blocks == 0:
            raise Illegal(f"preempts request {rid}, which holds no KV cache")
        if mode == SWAP:
            if r.blocks > e.swap_free:
                raise Illegal(f"swaps out request {rid} ({r.blocks} blocks) with {e.swap_free} host blocks free")
            e.swap_free -= r.blocks
            e.free += r.blocks
            r.swapped = True
            moved += r.cached
        elif mode == RECOMPUTE:
            e.free += r.blocks
            r.blocks, r.cached, r.target = 0, 0, r.prompt_len + r.generated
            r.preemptions += 1
        else:
            raise Illegal(f"unknown preemption mode {mode} for request {rid}")
    if not batch:
        if moved or preempt:
            e.now += c["per_swap_token_s"] * moved  # a preemption-only iteration
            return
        if not idle(e):
            raise Illegal(f"the batch is empty while {len(live)} request(s) wait and none is left to arrive")
        return
    if len(batch) > cfg["max_batch_size"]:
        raise Illegal(f"the batch has {len(batch)} requests; at most {cfg['max_batch_size']} are allowed")
    tokens = kv = 0
    pairs = 0.0
    seen: set[int] = set()
    for rid, n in batch:
        r = live.get(rid)
        if r is None:
            raise Illegal(f"schedules request {rid}, which is not on the server (not arrived, unknown or done)")
        if rid in seen:
            raise Illegal(f"schedules request {rid} twice")
        if rid in gone:
            raise Illegal(f"schedules request {rid} in the iteration that preempts it")
        seen.add(rid)
        if n < 1:
            raise Illegal(f"gives request {rid} {n} tokens; at least 1 is needed")
        if r.swapped:
            if r.blocks > e.free:
                raise Illegal(f"swaps in request {rid} ({r.blocks} blocks) with {e.free} blocks free")
            e.free -= r.blocks
            e.swap_free += r.blocks
            r.swapped = False
            moved += r.cached
        left = r.target - r.cached
        if left > 0:
            if n > left:
                raise Illegal(f"gives request {rid} {n} prefill tokens; it has {left} left")
            pairs += n * (r.cached + n / 2)
        elif n != 1:
            raise Illegal(f"gives decoding request {rid} {n} tokens; a decode step takes exactly 1")
        need = -(-(r.cached + n) // bsize) - r.blocks
        if need > e.free:
            raise Illegal(f"request {rid} needs {need} more KV blocks, {e.free} are free")
        if need > 0:
            e.free -= need
            r.blocks += need
        kv += r.cached
        tokens += n
    if tokens > cfg["max_batch_tokens"]:
        raise Illegal(f"the batch has {tokens} tokens; at most {cfg['max_batch_tokens']} are allowed")
    e.now += (c["fixed_s"] + c["per_token_s"] * tokens + c["per_kv_token_s"] * kv + c["per_pair_s"] * pairs
                 + c["per_swap_token_s"] * moved)
    now, slo = e.now, cfg["tbt_slo_s"]
    for rid, n in batch:
        r = live[rid]
        r.cached += n
        if r.cached < r.target:
            continue
        r.target = r.cached
        r.generated += 1
        e.tokens_out += 1
        if r.last_token_s is None:
            r.first_token_s = now
        else:
            gap = now - r.last_token_s
            e.n_gaps[rid] += 1
            if gap > slo:
                e.bad_gaps[rid] += 1
            if e.record:
                e.gaps.append(gap)
        r.last_token_s = now
        if r.generated >= e.out[rid]:
            e.free += r.blocks
            r.blocks = 0
            del live[rid]
            e.finished += 1
            e.finish_s[rid] = now


def parse_decision(out: Any) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The scheduler's return value as ([(rid, tokens)], [(rid, mode code)]); raise Illegal if malformed."""
    preempt_in: Any = {}
    if isinstance(out, tuple) and len(out) == 2:
        out, preempt_in = out
    if not isinstance(out, dict) or not isinstance(preempt_in, dict):
        raise Illegal("schedule must return {rid: tokens} or ({rid: tokens}, {rid: 'recompute'|'swap'}); got "
                      f"{type(out).__name__} {out!r:.60}")
    batch = []
    for rid, n in out.items():
        if type(rid) is int and type(n) is int:  # the common case, checked first
            batch.append((rid, n))
            continue
        if isinstance(rid, (bool, np.bool_)) or not isinstance(rid, (int, np.integer)) \
                or isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise Illegal(f"batch entries must be int request id -> int tokens, got {rid!r:.30}: {n!r:.30}")
        batch.append((int(rid), int(n)))
    preempt = []
    for rid, mode in preempt_in.items():
        if isinstance(rid, (bool, np.bool_)) or not isinstance(rid, (int, np.integer)) or mode not in MODES:
            raise Illegal(f"preemptions must be int request id -> 'recompute' or 'swap', got {rid!r:.30}: {mode!r:.30}")
        preempt.append((int(rid), MODES[mode]))
    return batch, preempt


def _describe(exc: BaseException) -> str:
    """The exception's type, plain message and innermost line, without running any of the candidate's code
    (its __str__ is never called) and without touching a frame."""
    name = type(exc).__name__
    args = exc.args
    plain = all(type(a) in (str, int, float) for a in args)
    text = ", ".join(a if type(a) is str else repr(a) for a in args) if plain else ""
    tb, line = exc.__traceback__, None
    while tb is not None:
        line = tb.tb_lineno
        tb = tb.tb_next
    where = f" (line {line})" if line is not None else ""
    return f"{name}: {text[:300]}{where}" if text else f"{name}{where}"


def drive(schedule: Any, arrival_s: Any, prompt_len: Any, output_len: Any, ttft_slo_s: Any,
          config: dict[str, Any], budget_ms: float, max_iterations: int) -> dict[str, Any]:
    """Run the episode with the scheduler; return {"log": int64 rows (iteration, rid, tokens or mode code),
    "iterations": count, "error": None or why it stopped early}."""
    clock = _clock
    engine = new_engine(arrival_s, prompt_len, output_len, ttft_slo_s, config)
    rows: list[int] = []
    it = 0
    error = None
    while True:
        admit(engine)
        if not engine.live:
            if not idle(engine):
                break
            continue
        if it >= max_iterations:
            error = f"the episode needed more than {max_iterations} iterations"
            break
        view = make_view(engine)
        begin = clock()
        try:
            out = schedule(view)
        except Exception as exc:  # reported here: the harness's own report would need the frames
            error = f"iteration {it}: schedule raised {_describe(exc)}"
            break
        used_ms = (clock() - begin) * 1000.0
        if used_ms > budget_ms:
            error = f"iteration {it}: schedule used {used_ms:.1f} ms of CPU time; the budget is {budget_ms:g} ms"
            break
        try:
            batch, preempt = parse_decision(out)
            step(engine, batch, preempt)
        except Illegal as exc:
            error = f"iteration {it} (t = {engine.now:.3f} s): {exc}"
            break
        for rid, mode in preempt:
            rows += (it, rid, mode)
        for rid, n in batch:
            rows += (it, rid, n)
        it += 1
    return {"log": np.array(rows, dtype=np.int64).reshape(-1, 3), "iterations": it, "error": error}
