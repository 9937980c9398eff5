"""The Potts & Van Wassenhove generator: distributions, clipping, determinism and what each instance records."""

from __future__ import annotations

import math

import numpy as np

from problems.smtt.generator import CLASSES, RDD_VALUES, TF_VALUES, due_date_range, generate, generate_split


def test_processing_times_cover_1_to_100_inclusive() -> None:
    p = np.concatenate([generate(500, 0.4, 0.6, seed).p for seed in range(20)])
    assert p.min() == 1 and p.max() == 100
    assert set(np.unique(p)) == set(range(1, 101))


def test_processing_times_are_roughly_uniform() -> None:
    p = np.concatenate([generate(1000, 0.4, 0.6, seed).p for seed in range(20)])
    assert abs(p.mean() - 50.5) < 0.5
    counts = np.bincount(p, minlength=101)[1:]
    assert counts.min() > 0.7 * counts.mean() and counts.max() < 1.3 * counts.mean()


def test_due_date_range_follows_the_formula() -> None:
    assert due_date_range(1000, 0.2, 0.6) == (math.floor(1000 * 0.5), math.floor(1000 * 1.1))
    assert due_date_range(1000, 0.8, 1.0) == (math.floor(1000 * -0.3), math.floor(1000 * 0.7))


def test_due_dates_lie_in_the_range_and_are_clipped_at_zero() -> None:
    for tf in TF_VALUES:
        for rdd in RDD_VALUES:
            inst = generate(200, tf, rdd, 7)
            lo, hi = due_date_range(int(inst.p.sum()), tf, rdd)
            assert inst.d.min() >= max(lo, 0) and inst.d.max() <= hi
            assert (inst.d >= 0).all()


def test_tight_classes_clip_negative_draws_to_zero() -> None:
    inst = generate(300, 0.8, 1.0, 3)
    lo, _ = due_date_range(int(inst.p.sum()), 0.8, 1.0)
    assert lo < 0 and (inst.d == 0).sum() > 0.2 * inst.n


def test_due_date_spread_matches_rdd() -> None:
    inst = generate(2000, 0.4, 0.6, 11)
    total = int(inst.p.sum())
    lo, hi = due_date_range(total, 0.4, 0.6)
    assert abs(inst.d.mean() - (lo + hi) / 2) < 0.02 * total
    assert inst.d.max() - inst.d.min() > 0.95 * (hi - lo)


def test_same_seed_gives_the_same_instance() -> None:
    a, b = generate(50, 0.6, 0.2, 123), generate(50, 0.6, 0.2, 123)
    assert np.array_equal(a.p, b.p) and np.array_equal(a.d, b.d)


def test_different_seeds_give_different_instances() -> None:
    a, b = generate(50, 0.6, 0.2, 123), generate(50, 0.6, 0.2, 124)
    assert not np.array_equal(a.p, b.p)


def test_instance_records_n_tf_rdd_and_seed() -> None:
    inst = generate(30, 0.6, 0.8, 99)
    assert (inst.n, inst.tf, inst.rdd, inst.seed) == (30, 0.6, 0.8, 99)
    assert len(inst.p) == len(inst.d) == 30
    assert inst.p.dtype == np.int64 and inst.d.dtype == np.int64


def test_split_has_every_class_per_size_with_distinct_seeds() -> None:
    split = generate_split(5, (20, 40), 2)
    assert len(split) == 2 * len(CLASSES) * 2
    assert {(i.tf, i.rdd) for i in split} == set(CLASSES)
    assert len({i.seed for i in split}) == len(split)


def test_splits_with_different_seeds_share_no_instance() -> None:
    a = {i.seed for i in generate_split(1, (20,), 3)}
    b = {i.seed for i in generate_split(2, (20,), 3)}
    assert not a & b
