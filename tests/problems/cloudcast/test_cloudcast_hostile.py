"""Programs that cheat, through the real sandbox: rewriting the price matrix, claiming edge prices."""

from __future__ import annotations

import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from problems.cloudcast import make

pytestmark = pytest.mark.slow

#: zeroes the prices it was handed (a copy, read-only), then sends everything over the "free" links
REWRITES_PRICES = '''
import numpy as np


def broadcast(src, dsts, nodes, cost, throughput, num_partitions):
    try:
        cost.setflags(write=True)
        cost[:] = 0.0
    except ValueError:
        pass
    return {d: [[src, d] for _ in range(num_partitions)] for d in dsts}
'''

#: answers in the leaderboard's edge-triple form with its own (free, infinitely fast) edge data
CLAIMS_PRICES = '''
def broadcast(src, dsts, nodes, cost, throughput, num_partitions):
    return {d: [[[src, d, {"cost": 0.0, "throughput": 1e9}]] for _ in range(num_partitions)] for d in dsts}
'''

WRONG_TYPE = '''
def broadcast(src, dsts, nodes, cost, throughput, num_partitions):
    return [[src, d] for d in dsts]
'''


def test_cheaters_gain_nothing_in_the_sandbox() -> None:
    p = make({"train_per_kind": 1})
    with Sandbox() as sandbox:
        out = {name: evaluate(p, sandbox, src, ["quick", "train"], Limits())
               for name, src in (("rewrites", REWRITES_PRICES), ("claims", CLAIMS_PRICES), ("wrong", WRONG_TYPE),
                                 ("direct", p.baselines()["direct"]))}
    assert out["direct"].status == "ok"
    # rewriting its own copy of the prices changes nothing: the parent prices from its own graph
    assert out["rewrites"].status == "ok" and out["rewrites"].score == pytest.approx(out["direct"].score)
    assert out["claims"].status == "invalid" and "region names" in (out["claims"].error or "")
    assert out["wrong"].status == "invalid"
