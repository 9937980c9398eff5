"""The engine's cost model by hand, and the replay rejects every illegal decision and malformed log."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from evolve.problem import InvalidOutput
from problems.llm_serving.driver import RECOMPUTE, SWAP, Illegal, admit, complete, drive, new_engine, step
from problems.llm_serving.model import engine_config
from problems.llm_serving.replay import replay

CFG = engine_config()
TRACE = {"arrival_s": [0.0, 0.0, 5.0], "prompt_len": [100, 40, 20], "output_len": [3, 1, 2],
         "ttft_slo_s": [1.0, 1.0, 1.0]}


def engine() -> SimpleNamespace:
    e = new_engine(TRACE["arrival_s"], TRACE["prompt_len"], TRACE["output_len"], TRACE["ttft_slo_s"], CFG)
    admit(e)
    return e


def test_one_prefill_iteration_costs_what_the_linear_model_says() -> None:
    e = engine()
    step(e, [(0, 100)], [])
    c = CFG
    expected = c["fixed_s"] + c["per_token_s"] * 100 + c["per_pair_s"] * 100 * 50
    assert e.now == pytest.approx(expected)
    assert e.reqs[0].generated == 1 and e.reqs[0].blocks == 7 and e.free == CFG["num_blocks"] - 7


def test_a_request_ends_after_its_output_and_frees_its_blocks() -> None:
    e = engine()
    step(e, [(0, 100), (1, 40)], [])
    assert 1 not in e.live and e.free == CFG["num_blocks"] - 7
    step(e, [(0, 1)], [])
    step(e, [(0, 1)], [])
    assert 0 not in e.live and e.free == CFG["num_blocks"]


@pytest.mark.parametrize(("batch", "preempt", "words"), [
    ([(2, 20)], [], "not on the server"),            # not arrived yet
    ([(9, 1)], [], "not on the server"),             # unknown
    ([(0, 50), (0, 50)], [], "twice"),
    ([(0, 101)], [], "has 100 left"),
    ([(0, 0)], [], "at least 1"),
    ([], [(0, RECOMPUTE)], "holds no KV cache"),
])
def test_illegal_decisions_are_refused(batch, preempt, words) -> None:
    with pytest.raises(Illegal, match=words):
        step(engine(), batch, preempt)


def test_decoding_takes_exactly_one_token_and_preempted_requests_cannot_run() -> None:
    e = engine()
    step(e, [(0, 100)], [])
    with pytest.raises(Illegal, match="exactly 1"):
        step(e, [(0, 2)], [])
    with pytest.raises(Illegal, match="iteration that preempts it"):
        engine_after = engine()
        step(engine_after, [(0, 100)], [])
        step(engine_after, [(0, 1)], [(0, SWAP)])


def test_blocks_and_token_limits_hold() -> None:
    cfg = {**CFG, "num_blocks": 8}
    e = new_engine([0.0, 0.0], [100, 100], [5, 5], [1.0, 1.0], cfg)
    admit(e)
    with pytest.raises(Illegal, match="more KV blocks"):
        step(e, [(0, 100), (1, 100)], [])
    small = {**CFG, "max_batch_tokens": 64}
    e = new_engine([0.0], [100], [5], [1.0], small)
    admit(e)
    with pytest.raises(Illegal, match="at most 64"):
        step(e, [(0, 100)], [])


def test_recompute_makes_the_request_prefill_its_output_again() -> None:
    e = engine()
    step(e, [(0, 100)], [])
    step(e, [(0, 1)], [])
    step(e, [], [(0, RECOMPUTE)])
    r = e.reqs[0]
    assert (r.cached, r.target, r.blocks) == (0, 102, 0)


def test_an_empty_batch_waits_for_the_next_arrival_and_is_refused_when_none_is_left() -> None:
    e = engine()
    step(e, [(0, 100), (1, 40)], [])
    step(e, [(0, 1)], [])
    step(e, [(0, 1)], [])
    step(e, [], [])
    assert e.now == 5.0
    admit(e)
    with pytest.raises(Illegal, match="none is left to arrive"):
        step(e, [], [])


def fifo(view):
    batch = {}
    for r in view.running + view.waiting:
        batch[r.rid] = r.prefill_left or 1
    return batch


def honest_output() -> dict:
    return drive(fifo, TRACE["arrival_s"], TRACE["prompt_len"], TRACE["output_len"], TRACE["ttft_slo_s"], CFG,
                 1000.0, 1000)


def test_the_parent_replays_an_honest_log_to_the_same_end() -> None:
    out = honest_output()
    assert out["error"] is None
    e = replay(out, TRACE, CFG, 1000)
    assert complete(e) and e.n_gaps == [2, 0, 1]


@pytest.mark.parametrize("mutate", [
    lambda o: None,
    lambda o: "log",
    lambda o: {**o, "extra": 1},
    lambda o: {**o, "error": "stopped"},
    lambda o: {**o, "log": o["log"].astype(float)},
    lambda o: {**o, "log": o["log"][:, :2]},
    lambda o: {**o, "log": o["log"][:-1]},                      # a decode missing: never finishes
    lambda o: {**o, "iterations": o["iterations"] + 1},
    lambda o: {**o, "iterations": True},
    lambda o: {**o, "log": o["log"][::-1].copy()},
    lambda o: {**o, "log": np.vstack([o["log"], [[o["iterations"] - 1, 2, 1]]])},
])
def test_replay_rejects_malformed_or_tampered_logs(mutate) -> None:
    with pytest.raises(InvalidOutput):
        replay(mutate(honest_output()), TRACE, CFG, 1000)
