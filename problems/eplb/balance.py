"""Load arithmetic of an expert mapping: per-GPU and per-node loads, balancedness and its ceiling.

Balancedness of a mapping on a load matrix is Σ_layers mean_gpu_load / Σ_layers max_gpu_load (1.0 is
perfect). Each expert's load is split evenly over its replicas; slot s lives on GPU s // (R / G), and
GPUs are grouped into nodes in order.
"""

from __future__ import annotations

import numpy as np


def slot_loads(phy2log: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Load of every physical slot [layers, replicas], from phy2log alone (each replica gets w_e / c_e)."""
    L, E = weight.shape
    R = phy2log.shape[1]
    flat = (phy2log + np.arange(L)[:, None] * E).ravel()
    counts = np.bincount(flat, minlength=L * E).reshape(L, E)
    per_replica = np.divide(weight, counts, out=np.zeros_like(weight, dtype=np.float64), where=counts > 0)
    return np.take_along_axis(per_replica, phy2log, axis=1).reshape(L, R)


def unit_loads(phy2log: np.ndarray, weight: np.ndarray, units: int) -> np.ndarray:
    """Load of each of `units` equal consecutive slot ranges (GPUs or nodes) [layers, units]."""
    loads = slot_loads(phy2log, weight)
    L, R = loads.shape
    return loads.reshape(L, units, R // units).sum(axis=2)


def balancedness(loads: np.ndarray) -> float:
    """Σ_layers mean load / Σ_layers max load over units [layers, units]; 1.0 when no load at all."""
    peak = float(loads.max(axis=1).sum())
    return float(loads.mean(axis=1).sum()) / peak if peak > 0 else 1.0


def min_max_replica_load(weight: np.ndarray, num_replicas: int) -> np.ndarray:
    """Per layer, the smallest achievable max_e w_e / c_e over counts c_e >= 1 with Σ c_e = R.

    Giving the next replica to the expert with the largest load per replica is optimal for this
    min-max (Adams apportionment); done for all layers at once.
    """
    L, E = weight.shape
    w = np.asarray(weight, dtype=np.float64)
    counts = np.ones((L, E))
    rows = np.arange(L)
    for _ in range(num_replicas - E):
        top = np.argmax(w / counts, axis=1)
        counts[rows, top] += 1
    return (w / counts).max(axis=1)


def balancedness_ceiling(weight: np.ndarray, num_replicas: int, num_gpus: int) -> float:
    """An upper bound on the GPU balancedness any mapping can reach on `weight`.

    Per layer the busiest GPU carries at least max(W / G, t*), the mean load and the best achievable
    largest replica load.
    """
    mean = np.asarray(weight, dtype=np.float64).sum(axis=1) / num_gpus
    low = np.maximum(mean, min_max_replica_load(weight, num_replicas))
    total = float(low.sum())
    return float(mean.sum()) / total if total > 0 else 1.0
