"""The validator rejects every malformed schedule with a message that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from evolve.problem import InvalidOutput
from problems.smtt import make
from problems.smtt.tardiness import validate_permutation

N = 5
BAD = [
    ("duplicate", [0, 1, 1, 3, 4], "not a permutation: job 1 appears 2 times"),
    ("duplicate array", np.array([0, 0, 2, 3, 4]), "not a permutation"),
    ("negative", [0, 1, 2, 3, -1], r"must lie in 0\.\.4"),
    ("negative array", np.array([-1, 1, 2, 3, 4]), r"must lie in 0\.\.4"),
    ("out of range", [0, 1, 2, 3, 5], r"must lie in 0\.\.4"),
    ("out of range array", np.array([0, 1, 2, 3, 5]), r"must lie in 0\.\.4"),
    ("float", [0, 1, 2, 3, 4.0], "must be integers, found float"),
    ("float array", np.arange(5, dtype=np.float64), "must be integers, got dtype float64"),
    ("nan", [0, 1, 2, 3, float("nan")], "must be integers, found float"),
    ("bool", [True, False, 2, 3, 4], "must be integers, found bool"),
    ("bool array", np.array([True, False, True, False, True]), "must be integers, got dtype bool"),
    ("too short", [0, 1, 2, 3], "expected 5 job indices, got 4"),
    ("too long", [0, 1, 2, 3, 4, 0], "expected 5 job indices, got 6"),
    ("empty", [], "expected 5 job indices, got 0"),
    ("string", "01234", "expected a list or 1-D integer numpy array"),
    ("dict", {0: 0}, "expected a list or 1-D integer numpy array"),
    ("int", 3, "expected a list or 1-D integer numpy array"),
    ("None", None, "expected a list or 1-D integer numpy array of job indices, got NoneType"),
    ("nested list", [[0], [1], [2], [3], [4]], "must be integers, found list"),
    ("2-D array", np.arange(6).reshape(2, 3), r"1-D .* shape \(2, 3\)"),
    ("column array", np.arange(5).reshape(5, 1), r"shape \(5, 1\)"),
    ("huge int", [0, 1, 2, 3, 2**80], r"must lie in 0\.\.4"),
    ("huge negative int", [0, 1, 2, 3, -(2**80)], r"must lie in 0\.\.4"),
    ("huge uint64", np.array([0, 1, 2, 3, 2**64 - 1], dtype=np.uint64), "out of range"),
    ("object array", np.array([0, 1, 2, 3, 4], dtype=object), "must be integers, got dtype object"),
    ("str in list", [0, 1, 2, 3, "4"], "must be integers, found str"),
]


@pytest.mark.parametrize(("label", "output", "message"), BAD, ids=[b[0] for b in BAD])
def test_validator_rejects_malformed_schedule(label: str, output: object, message: str) -> None:
    with pytest.raises(InvalidOutput, match=message):
        validate_permutation(output, N)


@pytest.mark.parametrize("output", [[4, 3, 2, 1, 0], (0, 1, 2, 3, 4), np.array([1, 0, 2, 4, 3]),
                                    np.array([1, 0, 2, 4, 3], dtype=np.uint8)],
                         ids=["list", "tuple", "int64 array", "uint8 array"])
def test_validator_accepts_permutations(output: object) -> None:
    assert sorted(validate_permutation(output, N).tolist()) == list(range(N))


def test_problem_score_rejects_a_non_permutation() -> None:
    problem = make()
    inst = problem.instances("quick")[0]
    n = len(inst.args[0])
    with pytest.raises(InvalidOutput, match="not a permutation"):
        problem.score(inst, [0] * n)


def test_problem_score_recomputes_tardiness_itself() -> None:
    problem = make()
    inst = problem.instances("quick")[0]
    p, d = inst.args
    order = list(range(len(p)))
    expected = int(np.maximum(np.cumsum(p) - d, 0).sum())
    assert problem.score(inst, order)["total_tardiness"] == expected
