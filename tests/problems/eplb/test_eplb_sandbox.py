"""The seed and every baseline run end to end through the real sandbox on the quick split."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from problems.eplb import make

PROBLEM = make()

DUPLICATE_SLOT = '''
import numpy as np

def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    L, E = weight.shape
    R = num_replicas
    slots = np.arange(R)
    phy2log = np.tile(slots % E, (L, 1))
    logcnt = np.tile(np.bincount(slots % E, minlength=E), (L, 1))
    log2phy = np.full((L, E, -(-R // E)), -1, dtype=np.int64)
    log2phy[:, slots % E, slots // E] = slots
    log2phy[0, 0, 1] = log2phy[0, 0, 0]   # slot 0 twice, slot E nowhere: its load would vanish
    return phy2log, log2phy, logcnt
'''

MEMOISING = '''
import numpy as np

_seen = set()

def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    key = weight.tobytes()
    if key in _seen:
        return None  # a cache hit would return a remembered answer; here it returns garbage
    _seen.add(key)
    L, E = weight.shape
    slots = np.arange(num_replicas)
    log2phy = np.full((L, E, -(-num_replicas // E)), -1, dtype=np.int64)
    log2phy[:, slots % E, slots // E] = slots
    return (np.tile(slots % E, (L, 1)), log2phy,
            np.tile(np.bincount(slots % E, minlength=E), (L, 1)))
'''

#: a cache keyed on the normalised loads (dividing by the maximum undoes any
#: rescaling); a hit returns garbage, so a timed (and scored) call that a cache answered shows as invalid
NORMALISED_CACHE = '''
import numpy as np

_seen = set()

def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    key = (np.asarray(weight) / np.max(weight)).round(12).tobytes()
    if key in _seen:
        return None
    _seen.add(key)
    L, E = weight.shape
    slots = np.arange(num_replicas)
    log2phy = np.full((L, E, -(-num_replicas // E)), -1, dtype=np.int64)
    log2phy[:, slots % E, slots // E] = slots
    return (np.tile(slots % E, (L, 1)), log2phy,
            np.tile(np.bincount(slots % E, minlength=E), (L, 1)))
'''


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.mark.parametrize("name", ["seed", *sorted(PROBLEM.baselines())])
def test_program_runs_in_the_sandbox_with_sane_metrics(sandbox: Sandbox, name: str) -> None:
    code = PROBLEM.initial_program if name == "seed" else PROBLEM.baselines()[name]
    out = evaluate(PROBLEM, sandbox, code, ["quick"], Limits())
    assert out.status == "ok", out.error
    m = out.metrics
    assert 0.3 < m["balancedness"] <= m["balancedness_oracle"] <= 1.0
    assert m["balancedness_same"] <= m["ceiling_same"] + 1e-12
    assert 0 < m["runtime_ms"] < 1000 and 0 <= m["speed_credit"] <= 0.05
    assert m["score"] == pytest.approx(m["balance_vs_oracle"] + m["speed_credit"])
    if name == "seed":  # the seed makes the reference policy's decisions
        assert m["balance_vs_reference"] == pytest.approx(1.0)
    if name == "round_robin":  # load-unaware: far below the reference, so no speed credit
        assert m["balance_vs_reference"] < 0.97 and m["speed_credit"] == 0.0


def test_a_candidate_listing_one_slot_twice_scores_nothing(sandbox: Sandbox) -> None:
    out = evaluate(PROBLEM, sandbox, DUPLICATE_SLOT, ["quick"], Limits())
    assert out.status == "invalid" and out.score is None
    assert "listed 2 times" in (out.error or "")


def test_timed_repeats_never_see_the_same_input_bytes(sandbox: Sandbox) -> None:
    out = evaluate(PROBLEM, sandbox, MEMOISING, ["quick"], Limits())
    assert out.status == "ok", out.error


def test_no_cache_of_earlier_calls_answers_the_timed_call(sandbox: Sandbox) -> None:
    out = evaluate(PROBLEM, sandbox, NORMALISED_CACHE, ["quick"], Limits())
    assert out.status == "ok", out.error  # the warm-up saw decoy loads: the timed call is a first sight
    assert out.metrics["runtime_ms"] > 0
