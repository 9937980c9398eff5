"""Augmented MDD (after Bean & Hall 1985): MDD, improved after every dispatch by move-to-end.

Each time MDD appends a job, every job already scheduled is tried at the end of the partial sequence
(the others move up by its processing time); the best such move is kept when it lowers the tardiness of
the partial sequence. All moves are evaluated together with numpy.
"""

import numpy as np


def _best_move_to_end(seq, p, d):
    """Index of the job whose move to the end helps most, or -1."""
    ps, ds = p[seq], d[seq]
    comp = np.cumsum(ps)
    late = np.maximum(comp - ds, 0)
    m = len(seq)
    ahead = np.arange(m)[None, :] > np.arange(m)[:, None]
    earlier = np.where(ahead, np.maximum(comp[None, :] - ps[:, None] - ds[None, :], 0) - late[None, :], 0)
    delta = earlier.sum(axis=1) + np.maximum(comp[-1] - ds, 0) - late
    delta[-1] = 0
    a = int(np.argmin(delta))
    return a if delta[a] < 0 else -1


def schedule(p, d):
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    n = len(p)
    remaining = np.ones(n, dtype=bool)
    big = np.iinfo(np.int64).max
    seq = []
    t = 0
    for _ in range(n):
        j = int(np.argmin(np.where(remaining, np.maximum(d, t + p), big)))
        remaining[j] = False
        seq.append(j)
        t += int(p[j])
        if len(seq) > 1:
            a = _best_move_to_end(np.array(seq), p, d)
            if a >= 0:
                seq.append(seq.pop(a))
    return seq
