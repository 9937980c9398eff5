"""The trace generator is deterministic per seed and draws the shapes it promises."""

from __future__ import annotations

import numpy as np
import pytest

from problems.eplb.generator import SHAPES, TraceSpec, draw_split, draw_trace

SPEC = TraceSpec("e64", "h288", "zipf", "sudden", windows=3)


def test_the_same_seed_gives_the_same_trace() -> None:
    a, b = draw_trace(SPEC, (7, 1)), draw_trace(SPEC, (7, 1))
    assert all(np.array_equal(x, y) for x, y in zip(a.loads, b.loads)) and a.tokens == b.tokens


def test_different_seeds_give_different_traces() -> None:
    a, b = draw_trace(SPEC, (7, 1)), draw_trace(SPEC, (7, 2))
    assert not np.array_equal(a.loads[0], b.loads[0])


def test_traces_in_a_split_are_drawn_from_distinct_seeds() -> None:
    a, b = draw_split(3, [SPEC, SPEC])
    assert a.seed == (3, 0) and b.seed == (3, 1) and not np.array_equal(a.loads[0], b.loads[0])


@pytest.mark.parametrize("popularity", ["zipf", "lognormal"])
@pytest.mark.parametrize("drift", ["gradual", "sudden"])
def test_windows_are_read_only_nonnegative_float_counts_that_drift(popularity: str, drift: str) -> None:
    trace = draw_trace(TraceSpec("dsv3", "h288", popularity, drift, windows=3), (1, 0))
    assert len(trace.loads) == 3
    for w in trace.loads:
        assert w.shape == (58, 256) and w.dtype == np.float64 and not w.flags.writeable
        assert (w >= 0).all() and np.array_equal(w, np.round(w))
    skew = trace.loads[0].max(axis=1) / trace.loads[0].mean(axis=1)
    assert 1.5 < skew.mean() < 15
    change = np.abs(trace.loads[1] - trace.loads[0]).sum() / trace.loads[0].sum()
    assert change > 0.05


def test_hardware_with_fewer_slots_than_experts_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one slot per expert"):
        draw_trace(TraceSpec("dsv2", "h48", "zipf", "gradual"), (1, 0))


def test_an_unknown_popularity_model_is_refused() -> None:
    with pytest.raises(ValueError, match="popularity"):
        draw_trace(TraceSpec("e32", "h48", "pareto", "gradual"), (1, 0))


def test_the_realistic_deepseek_v3_shape_is_available() -> None:
    assert (SHAPES["dsv3"].experts, SHAPES["dsv3"].layers, SHAPES["dsv3"].groups) == (256, 58, 8)
