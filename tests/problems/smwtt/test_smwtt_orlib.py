"""The OR-Library reader: all 375 instances, their classes and the published values with their kinds."""

from __future__ import annotations

import numpy as np
import pytest

from problems.smwtt import orlib


@pytest.mark.parametrize(("name", "n"), [("wt40", 40), ("wt50", 50), ("wt100", 100)])
def test_reader_reads_125_instances_of_each_set(name: str, n: int) -> None:
    insts = orlib.read_set(name)
    assert len(insts) == 125
    assert [i.number for i in insts] == list(range(1, 126))
    for i in insts:
        assert i.p.shape == i.w.shape == i.d.shape == (n,)
        assert 1 <= i.p.min() and i.p.max() <= 100 and 1 <= i.w.min() and i.w.max() <= 10 and i.d.min() >= 0
        assert not i.p.flags.writeable


def test_reader_reads_all_375_published_values() -> None:
    values = {name: [i.value for i in orlib.read_set(name)] for name in orlib.SETS}
    assert sum(len(v) for v in values.values()) == 375
    assert values["wt40"][:5] == [913, 1225, 537, 2094, 990]
    assert values["wt50"][0] == 2134 and values["wt100"][:2] == [5988, 6170]
    assert all(v >= 0 for vs in values.values() for v in vs)


def test_value_kinds_follow_the_readme() -> None:
    kinds = {name: [i.kind for i in orlib.read_set(name)] for name in orlib.SETS}
    assert kinds["wt40"].count("optimum") == 124 and kinds["wt40"][18] == "best_known"
    assert kinds["wt50"].count("optimum") == 115
    assert {i + 1 for i, k in enumerate(kinds["wt50"]) if k == "best_known"} == orlib.UNSOLVED["wt50"]
    assert set(kinds["wt100"]) == {"best_known"}


def test_wt100_values_are_the_improved_best_known_ones() -> None:
    a = np.array((orlib.DATA / "wtbest100a.txt").read_text().split(), dtype=np.int64)
    b = np.array([i.value for i in orlib.read_set("wt100")])
    assert (b <= a).all() and (b < a).sum() == 8


def test_class_labels_match_the_data() -> None:
    """RDD runs in the outer loop and TF in the inner one; the data's own spread and mean agree."""
    for name in orlib.SETS:
        for i in orlib.read_set(name):
            total = int(i.p.sum())
            lo, hi = total * (1 - i.tf - i.rdd / 2), total * (1 - i.tf + i.rdd / 2)
            assert i.d.max() <= hi + 1
            if lo > 0:  # no clipping: the draws fill most of the range around its centre
                assert abs(i.d.mean() - (lo + hi) / 2) < 0.15 * total
                assert i.d.max() - i.d.min() > 0.6 * (hi - lo)


def test_unknown_set_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown OR-Library set 'wt60'"):
        orlib.read_set("wt60")


def test_source_note_and_licences_are_packaged_with_the_data() -> None:
    for file in ("SOURCE.md", "README.txt", "LICENSE.txt"):
        assert (orlib.DATA / file).is_file()
    assert "cicirello/scheduling-benchmarks" in (orlib.DATA / "SOURCE.md").read_text()
