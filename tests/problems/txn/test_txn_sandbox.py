"""The seed and every baseline run through the real sandbox on the quick split and score `ok`."""

from __future__ import annotations

import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from problems.txn import Txn


@pytest.mark.slow
def test_seed_and_baselines_evaluate_ok_in_the_sandbox(txn_problem: Txn, load_entry) -> None:
    programs = {"seed": txn_problem.initial_program, **txn_problem.baselines()}
    with Sandbox() as sandbox:
        outcomes = {name: evaluate(txn_problem, sandbox, code, ["quick"], Limits())
                    for name, code in programs.items()}
    for name, outcome in outcomes.items():
        assert outcome.status == "ok", (name, outcome.error)
    # the parent's score of the sandboxed run equals the score of the same program run in-process
    insts = txn_problem.instances("quick")
    schedule = load_entry(txn_problem.initial_program)
    local = txn_problem.aggregate(insts, [txn_problem.score(i, schedule(i.args[0])) for i in insts])
    assert outcomes["seed"].score == pytest.approx(local["score"])
    assert outcomes["fifo"].score == 0.0
    assert outcomes["neh"].score > outcomes["seed"].score > 0
