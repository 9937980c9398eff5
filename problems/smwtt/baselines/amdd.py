"""Augmented WMDD (after Bean & Hall 1985): WMDD, improved after every dispatch by move-to-end.

Each time WMDD appends a job, every job already scheduled is tried at the end of the partial sequence;
the best such move is kept when it lowers the weighted tardiness of the partial sequence.
"""

import numpy as np


def _best_move_to_end(seq, p, d, w):
    ps, ds, ws = p[seq], d[seq], w[seq]
    comp = np.cumsum(ps)
    late = ws * np.maximum(comp - ds, 0)
    m = len(seq)
    ahead = np.arange(m)[None, :] > np.arange(m)[:, None]
    earlier = np.where(ahead, ws[None, :] * np.maximum(comp[None, :] - ps[:, None] - ds[None, :], 0)
                       - late[None, :], 0)
    delta = earlier.sum(axis=1) + ws * np.maximum(comp[-1] - ds, 0) - late
    delta[-1] = 0
    a = int(np.argmin(delta))
    return a if delta[a] < 0 else -1


def schedule(p, d, w):
    p = np.asarray(p, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    n = len(p)
    remaining = np.ones(n, dtype=bool)
    seq = []
    t = 0
    for _ in range(n):
        key = np.maximum(p, d - t) / w
        j = int(np.argmin(np.where(remaining, key, np.inf)))
        remaining[j] = False
        seq.append(j)
        t += int(p[j])
        if len(seq) > 1:
            a = _best_move_to_end(np.array(seq), p, d, w)
            if a >= 0:
                seq.append(seq.pop(a))
    return seq
