"""The leaderboard's cost model on hand-checked graphs, and the validator on every malformed answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evolve.problem import InvalidOutput
from problems.cloudcast import make
from problems.cloudcast.simulator import Network, Transfer, evaluate, validate

NAN = math.nan


def _net() -> Network:
    # 0 = aws:a (source), 1 = aws:b (relay), 2 = gcp:c, 3 = gcp:d
    cost = np.array([[NAN, 0.02, 0.09, 0.09],
                     [0.02, NAN, 0.09, 0.09],
                     [0.12, 0.12, NAN, 0.01],
                     [0.12, 0.12, 0.01, NAN]])
    tput = np.array([[NAN, 8.0, 4.0, 2.0],
                     [8.0, NAN, 4.0, 4.0],
                     [4.0, 4.0, NAN, 8.0],
                     [4.0, 4.0, 8.0, NAN]])
    return Network(("aws:a", "aws:b", "gcp:c", "gcp:d"), cost, tput)


def _transfer(parts: int = 2) -> Transfer:
    return Transfer("t", "aws:a", ("gcp:c", "gcp:d"), 10.0, parts, num_vms=1)


def test_direct_paths_cost_each_link_once_per_partition_and_wait_for_the_slowest() -> None:
    net, t = _net(), _transfer()
    paths = validate({"gcp:c": [["aws:a", "gcp:c"]] * 2, "gcp:d": [["aws:a", "gcp:d"]] * 2}, net, t)
    seconds, egress, vms = evaluate(paths, net, t)
    assert egress == pytest.approx(2 * 5.0 * 0.09 * 2)
    # aws egress limit 5 Gbps over two outgoing edges: each capped at 2.5 Gbps; the a->d edge is 2 Gbps
    assert seconds == pytest.approx(2 * 5.0 * 8 / 2.0)
    assert vms == pytest.approx(3 * 1 * 0.54 / 3600 * round(seconds, 2))


def test_a_shared_edge_is_paid_once_for_all_destinations() -> None:
    net, t = _net(), _transfer()
    tree = {"gcp:c": [["aws:a", "gcp:c"]] * 2, "gcp:d": [["aws:a", "gcp:c", "gcp:d"]] * 2}
    _, egress, _ = evaluate(validate(tree, net, t), net, t)
    assert egress == pytest.approx(2 * 5.0 * 0.09 + 2 * 5.0 * 0.01)


def test_the_egress_limit_splits_evenly_between_outgoing_edges() -> None:
    net = _net()
    t = Transfer("t", "aws:a", ("aws:b", "gcp:c"), 10.0, 1, num_vms=1)
    seconds, _, _ = evaluate(validate({"aws:b": [["aws:a", "aws:b"]], "gcp:c": [["aws:a", "gcp:c"]]}, net, t),
                             net, t)
    assert seconds == pytest.approx(10.0 * 8 / 2.5)  # 5 Gbps egress of aws shared by two edges


def test_the_program_cannot_claim_its_own_edge_prices() -> None:
    """The leaderboard read cost and throughput from the edge triples a program returned."""
    net, t = _net(), _transfer(1)
    with pytest.raises(InvalidOutput, match="region names"):
        validate({"gcp:c": [[["aws:a", "gcp:c", {"cost": 0.0, "throughput": 1e9}]]],
                  "gcp:d": [["aws:a", "gcp:d"]]}, net, t)


@pytest.mark.parametrize(("output", "message"), [
    (None, "return a dict"),
    ([], "return a dict"),
    ({"gcp:c": [["aws:a", "gcp:c"]]}, "missing"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [["aws:a", "gcp:d"]], "x": []}, "unexpected"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": []}, "exactly 1 paths"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [["aws:b", "gcp:d"]]}, "must start at aws:a"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [["aws:a", "gcp:c"]]}, "end at gcp:d"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [["aws:a", "mars:x", "gcp:d"]]}, "not a region"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [["aws:a", "aws:a", "gcp:d"]]}, "twice"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [("aws:a", "gcp:d")]}, "list of 2"),
    ({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [["aws:a", 3]]}, "not a region"),
])
def test_malformed_answers_are_invalid(output, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidOutput, match=message):
        validate(output, _net(), _transfer(1))


def test_a_missing_link_is_invalid() -> None:
    net = _net()
    net.cost[0, 3] = NAN
    with pytest.raises(InvalidOutput, match="no link aws:a -> gcp:d"):
        validate({"gcp:c": [["aws:a", "gcp:c"]], "gcp:d": [["aws:a", "gcp:d"]]}, net, _transfer(1))


def test_baselines_rank_as_expected_and_the_seed_is_the_direct_baseline() -> None:
    p = make({})
    insts = p.instances("train")
    scores = {}
    for name, src in {"seed": p.initial_program, **p.baselines()}.items():
        ns: dict[str, object] = {}
        exec(src, ns)
        scores[name] = p.aggregate(insts, [p.score(i, ns["broadcast"](*i.args)) for i in insts])
    assert scores["seed"]["total_cost"] == pytest.approx(scores["direct"]["total_cost"])
    assert scores["direct"]["score"] == pytest.approx(0.0) and scores["steiner_tree"]["score"] == pytest.approx(100.0)
    assert 0.0 <= scores["cheapest_path"]["score"] < 100.0
    assert not insts[0].args[3].flags.writeable
