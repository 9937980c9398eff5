"""The EPLB validator rejects every malformed mapping and accepts the reference policy's mappings."""

from __future__ import annotations

import numpy as np
import pytest

from evolve.problem import InvalidOutput
from problems.eplb import policy
from problems.eplb.validate import validate_mapping

L, E, R = 3, 8, 16
WEIGHT = np.array([[9, 1, 4, 4, 2, 7, 0, 3], [1, 1, 1, 1, 1, 1, 1, 1], [20, 0, 0, 5, 5, 1, 2, 9]], float)


def valid() -> list[np.ndarray]:
    return [a.copy() for a in policy.rebalance(WEIGHT, R, 2, 2, 4)]


def check(out: object) -> None:
    validate_mapping(out, L, E, R)


def live_entry(log2phy: np.ndarray, logcnt: np.ndarray, min_count: int = 1) -> tuple[int, int]:
    """(layer, expert) of an expert with at least `min_count` replicas."""
    ly, e = np.argwhere(logcnt >= min_count)[0]
    return int(ly), int(e)


def test_reference_mapping_is_accepted() -> None:
    m = validate_mapping(tuple(valid()), L, E, R)
    assert m.phy2log.dtype == np.int64 and m.logcnt.sum() == L * R


def test_lists_of_ints_and_int32_and_wide_log2phy_are_accepted() -> None:
    p, q, c = valid()
    wide = np.full((L, E, R - E + 1), -1)
    wide[:, :, :q.shape[2]] = q
    m = validate_mapping([p.astype(np.int32).tolist(), wide, c.astype(np.uint16)], L, E, R)
    assert m.phy2log.dtype == m.log2phy.dtype == m.logcnt.dtype == np.int64
    assert (m.phy2log == p).all() and (m.logcnt == c).all()


@pytest.mark.parametrize("out", [None, (1, 2), [np.zeros(1)] * 4, "abc", {"a": 1}])
def test_rejects_a_value_that_is_not_three_arrays(out: object) -> None:
    with pytest.raises(InvalidOutput, match="tuple"):
        check(out)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_rejects_float_arrays(which: int) -> None:
    out = valid()
    out[which] = out[which].astype(np.float64)
    with pytest.raises(InvalidOutput, match="integer dtype"):
        check(out)


def test_rejects_nan() -> None:
    p, q, c = valid()
    p = p.astype(float)
    p[0, 0] = np.nan
    with pytest.raises(InvalidOutput, match="integer dtype"):
        check((p, q, c))


def test_rejects_bool_arrays() -> None:
    p, q, c = valid()
    with pytest.raises(InvalidOutput, match="integer dtype"):
        check((p, q, c.astype(bool)))


def test_rejects_a_non_array_element() -> None:
    _p, q, c = valid()
    with pytest.raises(InvalidOutput, match="phy2log must be an integer numpy array"):
        check((7, q, c))


def test_rejects_ragged_lists() -> None:
    _p, q, c = valid()
    with pytest.raises(InvalidOutput):
        check(([[1, 2], [3]], q, c))


@pytest.mark.parametrize("which,shape", [(0, (L, R - 1)), (0, (L + 1, R)), (0, (L * R,)),
                                         (2, (L, E + 1)), (2, (L, E, 1))])
def test_rejects_wrong_shapes_of_phy2log_and_logcnt(which: int, shape: tuple[int, ...]) -> None:
    out = valid()
    out[which] = np.zeros(shape, dtype=np.int64)
    with pytest.raises(InvalidOutput, match="shape"):
        check(out)


@pytest.mark.parametrize("shape", [(L, E - 1, 5), (L, E), (L, E, 0), (L, E, R - E + 2)])
def test_rejects_wrong_shapes_of_log2phy(shape: tuple[int, ...]) -> None:
    p, _q, c = valid()
    with pytest.raises(InvalidOutput, match="shape"):
        check((p, np.full(shape, -1, dtype=np.int64), c))


def test_rejects_log2phy_narrower_than_the_largest_count() -> None:
    p, q, c = valid()
    with pytest.raises(InvalidOutput, match="room for"):
        check((p, q[:, :, :-1], c))


def test_rejects_a_zero_count() -> None:
    p, q, c = valid()
    ly, e = live_entry(q, c, 2)
    c[ly, e] -= 1
    c[ly, (e + 1) % E] = 0
    with pytest.raises(InvalidOutput, match="at least one replica"):
        check((p, q, c))


def test_rejects_counts_that_do_not_sum_to_num_replicas() -> None:
    p, q, c = valid()
    ly, e = live_entry(q, c, 2)
    c[ly, e] -= 1
    with pytest.raises(InvalidOutput, match="sums to"):
        check((p, q, c))


@pytest.mark.parametrize("value", [-1, E, 10**6])
def test_rejects_expert_ids_out_of_range_in_phy2log(value: int) -> None:
    p, q, c = valid()
    p[1, 3] = value
    with pytest.raises(InvalidOutput, match="not an expert id"):
        check((p, q, c))


def test_rejects_minus_one_in_a_live_entry() -> None:
    p, q, c = valid()
    ly, e = live_entry(q, c)
    q[ly, e, 0] = -1
    with pytest.raises(InvalidOutput, match="not a slot id"):
        check((p, q, c))


def test_rejects_a_slot_id_out_of_range() -> None:
    p, q, c = valid()
    ly, e = live_entry(q, c)
    q[ly, e, 0] = R
    with pytest.raises(InvalidOutput, match="not a slot id"):
        check((p, q, c))


def test_rejects_padding_that_is_not_minus_one() -> None:
    p, q, c = valid()
    ly, e = np.argwhere(c < q.shape[2])[0]
    q[ly, e, c[ly, e]] = 0
    with pytest.raises(InvalidOutput, match="must be -1"):
        check((p, q, c))


def test_rejects_a_slot_listed_twice() -> None:
    p, q, c = valid()
    ly, e = live_entry(q, c, 2)
    q[ly, e, 1] = q[ly, e, 0]  # one slot twice, another slot nowhere
    with pytest.raises(InvalidOutput, match="listed 2 times"):
        check((p, q, c))


def test_rejects_a_slot_listed_by_two_experts() -> None:
    p, q, c = valid()
    ly = 0
    e1, e2 = np.flatnonzero(c[ly] >= 1)[:2]
    q[ly, e2, 0] = q[ly, e1, 0]
    with pytest.raises(InvalidOutput, match="listed 2 times"):
        check((p, q, c))


def test_rejects_phy2log_that_disagrees_with_log2phy() -> None:
    p, q, c = valid()
    s1, s2 = q[0, 0, 0], q[0, 1, 0]
    p[0, s1], p[0, s2] = p[0, s2], p[0, s1]
    with pytest.raises(InvalidOutput, match="must agree"):
        check((p, q, c))


def test_rejects_counts_that_disagree_with_both_maps() -> None:
    p, q, c = valid()
    # move one replica's count from an expert with two replicas to another expert, maps unchanged
    ly, e = live_entry(q, c, 2)
    other = (e + 1) % E
    c[ly, e] -= 1
    c[ly, other] += 1
    with pytest.raises(InvalidOutput):
        check((p, q, c))


def test_rejects_uint64_values_beyond_int64() -> None:
    p, q, c = valid()
    p = p.astype(np.uint64)
    p[0, 0] = np.uint64(2**63 + 5)
    with pytest.raises(InvalidOutput, match="beyond int64"):
        check((p, q, c))
