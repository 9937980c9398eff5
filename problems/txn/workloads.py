"""Seeded workload generators: batches of transactions in the shape of YCSB, SmallBank, TPC-C, Epinions
and a uniform control.

Each generator draws its mix parameters (skew, read ratio, hot-set share, warehouses…) from the instance's
own generator, so splits with different seeds also differ in mix; the drawn parameters are recorded.
Raw keys are named tuples of the imitated schema (table, ids…) and are renumbered 0..n_keys-1 in a
random order, so a key's number says nothing about how hot it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from problems.txn.batch import Batch

RawOp = tuple[bool, tuple[Any, ...]]  # (is_write, raw key)
RawTxn = list[RawOp]


@dataclass(frozen=True)
class Workload:
    """A generated batch and how it was made."""

    name: str
    n: int
    seed: int
    batch: Batch
    params: dict[str, Any] = field(default_factory=dict)


def _zipf_sampler(n_items: int, theta: float, rng: np.random.Generator) -> Callable[[], int]:
    """Draw item ranks 0..n_items-1 with P(i) ∝ 1/(i+1)^theta."""
    weights = 1.0 / np.arange(1, n_items + 1, dtype=np.float64) ** theta
    cdf = np.cumsum(weights / weights.sum())
    return lambda: min(int(np.searchsorted(cdf, rng.random(), side="right")), n_items - 1)


def _distinct(draw: Callable[[], int], count: int) -> list[int]:
    seen: list[int] = []
    while len(seen) < count:
        x = draw()
        if x not in seen:
            seen.append(x)
    return seen


def _pick(rng: np.random.Generator, options: tuple[Any, ...]) -> Any:
    value = options[int(rng.integers(len(options)))]
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------------------------------------
# YCSB-like: multi-key transactions over a Zipf-skewed key space with a read/write mix
# ------------------------------------------------------------------------------------------------
def ycsb(n: int, rng: np.random.Generator) -> tuple[list[RawTxn], dict[str, Any]]:
    params = {"theta": _pick(rng, (0.8, 0.9, 0.99)), "read_ratio": _pick(rng, (0.5, 0.7, 0.9)),
              "records": 10_000, "min_ops": 4, "max_ops": 12}
    draw = _zipf_sampler(params["records"], params["theta"], rng)
    txns = []
    for _ in range(n):
        length = int(rng.integers(params["min_ops"], params["max_ops"] + 1))
        txns.append([(bool(rng.random() >= params["read_ratio"]), ("rec", k)) for k in _distinct(draw, length)])
    return txns, params


# ------------------------------------------------------------------------------------------------
# SmallBank-like: six short banking transactions on checking/savings rows with a hot set of accounts
# ------------------------------------------------------------------------------------------------
SMALLBANK_MIX = (("amalgamate", 15), ("balance", 15), ("deposit_checking", 15), ("send_payment", 25),
                 ("transact_savings", 15), ("write_check", 15))


def smallbank(n: int, rng: np.random.Generator) -> tuple[list[RawTxn], dict[str, Any]]:
    params = {"accounts": 1000, "hot_accounts": 10, "hot_prob": _pick(rng, (0.6, 0.75, 0.9))}

    def account() -> int:
        if rng.random() < params["hot_prob"]:
            return int(rng.integers(params["hot_accounts"]))
        return int(rng.integers(params["hot_accounts"], params["accounts"]))

    def two() -> tuple[int, int]:
        a = account()
        b = account()
        while b == a:
            b = account()
        return a, b

    names = [name for name, _ in SMALLBANK_MIX]
    weights = np.array([w for _, w in SMALLBANK_MIX], dtype=np.float64)
    r, w = False, True
    txns: list[RawTxn] = []
    for _ in range(n):
        kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        if kind == "amalgamate":
            a, b = two()
            ops = [(r, ("sav", a)), (r, ("chk", a)), (r, ("chk", b)), (w, ("sav", a)), (w, ("chk", a)),
                   (w, ("chk", b))]
        elif kind == "balance":
            a = account()
            ops = [(r, ("sav", a)), (r, ("chk", a))]
        elif kind == "deposit_checking":
            a = account()
            ops = [(r, ("chk", a)), (w, ("chk", a))]
        elif kind == "send_payment":
            a, b = two()
            ops = [(r, ("chk", a)), (r, ("chk", b)), (w, ("chk", a)), (w, ("chk", b))]
        elif kind == "transact_savings":
            a = account()
            ops = [(r, ("sav", a)), (w, ("sav", a))]
        else:  # write_check
            a = account()
            ops = [(r, ("sav", a)), (r, ("chk", a)), (w, ("chk", a))]
        txns.append(ops)
    return txns, params


# ------------------------------------------------------------------------------------------------
# TPC-C-like: warehouse and district rows are the hot keys (NewOrder, Payment, and three rarer types)
# ------------------------------------------------------------------------------------------------
TPCC_MIX = (("new_order", 45), ("payment", 43), ("order_status", 4), ("delivery", 4), ("stock_level", 4))


def tpcc(n: int, rng: np.random.Generator) -> tuple[list[RawTxn], dict[str, Any]]:
    params = {"warehouses": _pick(rng, (1, 2, 4)), "districts": 10, "customers": 100, "items": 1000,
              "min_lines": 5, "max_lines": 10}
    nw, nd, nc, ni = params["warehouses"], params["districts"], params["customers"], params["items"]
    names = [name for name, _ in TPCC_MIX]
    weights = np.array([w for _, w in TPCC_MIX], dtype=np.float64)
    r, w = False, True
    txns: list[RawTxn] = []
    fresh = 0
    for _ in range(n):
        kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        wh, d, c = int(rng.integers(nw)), int(rng.integers(nd)), int(rng.integers(nc))
        if kind == "new_order":
            ops: RawTxn = [(r, ("warehouse", wh)), (r, ("district", wh, d)), (w, ("district", wh, d)),
                           (r, ("customer", wh, d, c)), (w, ("new_order", wh, d))]
            lines = int(rng.integers(params["min_lines"], params["max_lines"] + 1))
            for i in _distinct(lambda: int(rng.integers(ni)), lines):
                supply = wh if nw == 1 or rng.random() >= 0.01 else int(rng.integers(nw))
                ops += [(r, ("item", i)), (w, ("stock", supply, i))]
            fresh += 1
            ops.append((w, ("order", fresh)))
        elif kind == "payment":
            cw, cd = (wh, d) if rng.random() < 0.85 else (int(rng.integers(nw)), int(rng.integers(nd)))
            ops = [(w, ("warehouse", wh)), (w, ("district", wh, d)), (r, ("customer", cw, cd, c)),
                   (w, ("customer", cw, cd, c))]
        elif kind == "order_status":
            ops = [(r, ("customer", wh, d, c)), (r, ("new_order", wh, d))]
        elif kind == "delivery":
            ops = []
            for dd in range(nd):
                ops += [(w, ("new_order", wh, dd)), (w, ("customer", wh, dd, int(rng.integers(nc))))]
        else:  # stock_level
            ops = [(r, ("district", wh, d))]
            ops += [(r, ("stock", wh, i)) for i in _distinct(lambda: int(rng.integers(ni)),
                                                             int(rng.integers(10, 21)))]
        txns.append(ops)
    return txns, params


# ------------------------------------------------------------------------------------------------
# Epinions-like: short review-site transactions, mostly reads, Zipf-skewed items and users
# ------------------------------------------------------------------------------------------------
EPINIONS_MIX = (("review_item_by_id", 10), ("reviews_by_user", 10), ("avg_rating_by_trusted_user", 10),
                ("item_avg_rating", 10), ("item_reviews_by_trusted_user", 10), ("update_user_name", 10),
                ("update_item_title", 10), ("update_review_rating", 10), ("update_trust_rating", 20))


def epinions(n: int, rng: np.random.Generator) -> tuple[list[RawTxn], dict[str, Any]]:
    params = {"users": 2000, "items": 1000, "theta": _pick(rng, (0.7, 0.9, 1.1))}
    item = _zipf_sampler(params["items"], params["theta"], rng)
    user = _zipf_sampler(params["users"], params["theta"], rng)
    names = [name for name, _ in EPINIONS_MIX]
    weights = np.array([w for _, w in EPINIONS_MIX], dtype=np.float64)
    r, w = False, True
    txns: list[RawTxn] = []
    for _ in range(n):
        kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        i, u = item(), user()
        ops: RawTxn
        if kind == "review_item_by_id":
            ops = [(r, ("item", i)), (r, ("reviews", i))]
        elif kind == "reviews_by_user":
            ops = [(r, ("user", u)), (r, ("user_reviews", u))]
        elif kind == "avg_rating_by_trusted_user":
            ops = [(r, ("trust", u)), (r, ("reviews", i))]
        elif kind == "item_avg_rating":
            ops = [(r, ("reviews", i))]
        elif kind == "item_reviews_by_trusted_user":
            ops = [(r, ("reviews", i)), (r, ("trust", u)), (r, ("user", u))]
        elif kind == "update_user_name":
            ops = [(w, ("user", u))]
        elif kind == "update_item_title":
            ops = [(w, ("item", i))]
        elif kind == "update_review_rating":
            ops = [(w, ("reviews", i)), (w, ("user_reviews", u))]
        else:  # update_trust_rating
            ops = [(r, ("user", u)), (w, ("trust", u))]
        txns.append(ops)
    return txns, params


# ------------------------------------------------------------------------------------------------
# Uniform: the low-skew control
# ------------------------------------------------------------------------------------------------
def uniform(n: int, rng: np.random.Generator) -> tuple[list[RawTxn], dict[str, Any]]:
    records, read_ratio, min_ops, max_ops = int(_pick(rng, (2, 5))) * n, 0.5, 4, 12
    params = {"records": records, "read_ratio": read_ratio, "min_ops": min_ops, "max_ops": max_ops}
    txns = []
    for _ in range(n):
        length = int(rng.integers(min_ops, max_ops + 1))
        keys = _distinct(lambda: int(rng.integers(records)), length)
        txns.append([(bool(rng.random() >= read_ratio), ("rec", k)) for k in keys])
    return txns, params


GENERATORS: dict[str, Callable[[int, np.random.Generator], tuple[list[RawTxn], dict[str, Any]]]] = {
    "ycsb": ycsb, "smallbank": smallbank, "tpcc": tpcc, "epinions": epinions, "uniform": uniform}
WORKLOADS = tuple(GENERATORS)
#: workloads whose hot keys make the order matter most
SKEWED = ("ycsb", "smallbank", "tpcc")


def _renumber(raw: list[RawTxn], rng: np.random.Generator) -> Batch:
    """Dense integer keys 0..n_keys-1, assigned in a random order."""
    ids: dict[tuple[Any, ...], int] = {}
    for txn in raw:
        for _, key in txn:
            ids.setdefault(key, len(ids))
    relabel = rng.permutation(len(ids))
    lengths = np.array([len(t) for t in raw], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    writes = np.array([w for t in raw for w, _ in t], dtype=bool)
    keys = relabel[np.array([ids[k] for t in raw for _, k in t], dtype=np.int64)].astype(np.int64)
    return Batch(writes=writes, keys=keys, offsets=offsets, n_keys=len(ids))


def generate(name: str, n: int, seed: int) -> Workload:
    """One batch of `n` transactions of workload `name`, deterministic in (name, n, seed)."""
    if name not in GENERATORS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    if n < 1:
        raise ValueError(f"a batch needs at least one transaction, got n={n}")
    rng = np.random.default_rng(seed)
    raw, params = GENERATORS[name](n, rng)
    return Workload(name=name, n=n, seed=seed, batch=_renumber(raw, rng), params=params)
