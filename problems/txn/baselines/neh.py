"""NEH-style insertion (after Nawaz, Enscore & Ham 1983): take the transactions longest first and insert
each one at the position of the partial schedule where the makespan grows least (ties: the earliest).

Every position is evaluated exactly, without re-simulating the schedule once per position. ASAP starts are
longest paths in the conflict graph of the schedule, so with `head[i]` = start of the i-th transaction and
`tail[i]` = the longest remaining length from that start to the end, inserting x at position p gives

    makespan = max(current makespan, start_x(p) + tail_x(p)),

where start_x(p) depends only on the operations before p (a prefix maximum) and tail_x(p) only on those
from p on (a suffix maximum). One forward and one backward pass per insertion, vectorised position scans.
"""

import numpy as np

NEG = -(1 << 40)


def schedule(txns):
    n = len(txns)
    if n == 0:
        return []
    ops = [[(kind == "w", key) for kind, key in t] for t in txns]
    lengths = np.array([len(t) for t in txns], dtype=np.int64)
    flat_keys = np.array([key for t in ops for _, key in t], dtype=np.int64)
    flat_writes = np.array([w for t in ops for w, _ in t], dtype=bool)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n_keys = int(flat_keys.max()) + 1

    def passes(seq):
        """Start (forward) and longest remaining length (backward) of every transaction in `seq`."""
        last_any, last_write = [-1] * n_keys, [-1] * n_keys
        head = []
        for t in seq:
            s = 0
            for q, (w, k) in enumerate(ops[t]):
                a = (last_any[k] if w else last_write[k]) + 1 - q
                if a > s:
                    s = a
            for q, (w, k) in enumerate(ops[t]):
                if s + q > last_any[k]:
                    last_any[k] = s + q
                if w:
                    last_write[k] = s + q
            head.append(s)
        after_any, after_write = [NEG] * n_keys, [NEG] * n_keys
        tail = [0] * len(seq)
        for i in range(len(seq) - 1, -1, -1):
            txn = ops[seq[i]]
            r = len(txn)
            for q, (w, k) in enumerate(txn):
                a = q + 1 + (after_any[k] if w else after_write[k])
                if a > r:
                    r = a
            for q, (w, k) in enumerate(txn):
                if r - q > after_any[k]:
                    after_any[k] = r - q
                if w and r - q > after_write[k]:
                    after_write[k] = r - q
            tail[i] = r
        return np.array(head, dtype=np.int64), np.array(tail, dtype=np.int64)

    order = sorted(range(n), key=lambda i: (-int(lengths[i]), i))
    seq = [order[0]]
    for x in order[1:]:
        arr = np.array(seq, dtype=np.int64)
        head, tail = passes(seq)
        span = int((head + lengths[arr]).max())
        # the operations of the schedule, in schedule order, with their step and remaining length
        lens = lengths[arr]
        pos = np.repeat(np.arange(len(seq)), lens)
        q = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        idx = first[arr][pos] + q
        keys, writes = flat_keys[idx], flat_writes[idx]
        lo, hi = first[x], first[x] + lengths[x]
        xk, xw = flat_keys[lo:hi], flat_writes[lo:hi]
        xq = np.arange(hi - lo)
        mine = np.zeros(n_keys, dtype=bool)
        mine[xk] = True
        near = mine[keys]  # only operations on x's keys can conflict with it
        keys, writes, q, pos = keys[near], writes[near], q[near], pos[near]
        match = (keys[None, :] == xk[:, None]) & (writes[None, :] | xw[:, None])
        before = np.where(match, (head[pos] + q + 1)[None, :] - xq[:, None], NEG).max(axis=0, initial=NEG)
        after = np.where(match, (tail[pos] - q)[None, :] + xq[:, None] + 1, NEG).max(axis=0, initial=NEG)
        per_pos_before = np.full(len(seq), NEG, dtype=np.int64)
        np.maximum.at(per_pos_before, pos, before)
        per_pos_after = np.full(len(seq), NEG, dtype=np.int64)
        np.maximum.at(per_pos_after, pos, after)
        start = np.maximum(np.concatenate([[0], np.maximum.accumulate(per_pos_before)]), 0)
        rest = np.concatenate([np.maximum.accumulate(per_pos_after[::-1])[::-1], [NEG]])
        cost = np.maximum(span, start + np.maximum(rest, lengths[x]))
        seq.insert(int(np.argmin(cost)), x)
    return seq
