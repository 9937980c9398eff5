"""The seed and baselines run through the real sandbox with the driver; tampering in the child is caught."""

from __future__ import annotations

import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from problems.txn_online import TxnOnline

RESEEDING_POLICY = '''
import numpy as np

_real = np.random.default_rng
np.random.default_rng = lambda seed=None: _real(12345)  # the driver would now offer other transactions


def choose(state, candidates):
    return 0
'''


@pytest.mark.slow
def test_seed_and_baselines_evaluate_ok_in_the_sandbox(online_problem: TxnOnline) -> None:
    programs = {"seed": online_problem.initial_program, **online_problem.baselines()}
    with Sandbox() as sandbox:
        outcomes = {name: evaluate(online_problem, sandbox, code, ["quick"], Limits())
                    for name, code in programs.items()}
        tampered = evaluate(online_problem, sandbox, RESEEDING_POLICY, ["quick"], Limits())
    for name, outcome in outcomes.items():
        assert outcome.status == "ok", (name, outcome.error)
    assert outcomes["seed"].score > outcomes["fifo"].score
    assert tampered.status == "invalid" and "not offered" in (tampered.error or "")
