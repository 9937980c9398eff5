"""The same tiny problem as an OpenEvolve evaluator (OpenEvolve imports the candidate in-process)."""

import importlib.util

import numpy as np


def _instances():
    rng = np.random.default_rng(12345)
    out = []
    for _ in range(4):
        p = rng.integers(1, 101, size=8)
        d = rng.integers(0, int(p.sum()), size=8)
        out.append((p, d))
    return out


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        total = 0
        for p, d in _instances():
            order = list(module.schedule(p, d))
            if sorted(order) != list(range(len(p))):
                return {"combined_score": -1e9, "error": "not a permutation"}
            c = np.cumsum(p[order])
            total += int(np.maximum(c - d[order], 0).sum())
    except Exception as exc:
        return {"combined_score": -1e9, "error": str(exc)}
    return {"combined_score": float(-total), "total_tardiness": float(total)}
