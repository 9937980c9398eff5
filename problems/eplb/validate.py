"""Exhaustive validation of a candidate's expert mapping (runs in the trusted parent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evolve.problem import InvalidOutput


@dataclass(frozen=True)
class ExpertMap:
    """A validated mapping, as int64 arrays."""

    phy2log: np.ndarray   # [layers, replicas] logical expert of each physical slot
    log2phy: np.ndarray   # [layers, experts, max_replicas] slots of each expert, -1 padded
    logcnt: np.ndarray    # [layers, experts] replica count of each expert


def _int_array(value: Any, name: str, shape: tuple[int, ...] | None, ndim: int) -> np.ndarray:
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise InvalidOutput(f"{name} must be an integer numpy array, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidOutput(f"{name} is not a rectangular array: {exc}") from exc
    if arr.dtype.kind not in "iu":
        raise InvalidOutput(f"{name} must have an integer dtype, got {arr.dtype} "
                            "(floats, bools and NaN are not slot or expert ids)")
    if arr.ndim != ndim or (shape is not None and arr.shape != shape):
        want = shape if shape is not None else f"{ndim} dimensions"
        raise InvalidOutput(f"{name} has shape {arr.shape}, expected {want}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise InvalidOutput(f"{name} holds values beyond int64")
    return arr.astype(np.int64, copy=False)


def validate_mapping(output: Any, layers: int, experts: int, replicas: int) -> ExpertMap:
    """Check every rule of the output contract; raise InvalidOutput naming the first broken one.

    Rules: three integer arrays of exact shapes; every logcnt >= 1 and each row sums to `replicas`;
    phy2log holds expert ids; log2phy[l, e, :logcnt] are valid slot ids, the rest is -1; the live
    slot ids of a layer cover 0..replicas-1 exactly once; phy2log[l, log2phy[l, e, r]] == e.
    """
    if not isinstance(output, (tuple, list)) or len(output) != 3:
        raise InvalidOutput("return a tuple (phy2log, log2phy, logcnt) of three integer numpy arrays")
    L, E, R = layers, experts, replicas
    phy2log = _int_array(output[0], "phy2log", (L, R), 2)
    log2phy = _int_array(output[1], "log2phy", None, 3)
    logcnt = _int_array(output[2], "logcnt", (L, E), 2)
    width = log2phy.shape[2]
    if log2phy.shape[:2] != (L, E) or not 1 <= width <= R - E + 1:
        raise InvalidOutput(f"log2phy has shape {log2phy.shape}, expected ({L}, {E}, X) with "
                            f"max(logcnt) <= X <= {R - E + 1}")
    if (logcnt < 1).any():
        ly, e = np.argwhere(logcnt < 1)[0]
        raise InvalidOutput(f"logcnt[{ly}, {e}] = {logcnt[ly, e]}: every expert needs at least one replica")
    sums = logcnt.sum(axis=1)
    if (sums != R).any():
        ly = int(np.flatnonzero(sums != R)[0])
        raise InvalidOutput(f"logcnt of layer {ly} sums to {sums[ly]}, expected num_replicas = {R}")
    if int(logcnt.max()) > width:
        raise InvalidOutput(f"log2phy has room for {width} replicas but logcnt asks for {int(logcnt.max())}")
    if ((phy2log < 0) | (phy2log >= E)).any():
        ly, s = np.argwhere((phy2log < 0) | (phy2log >= E))[0]
        raise InvalidOutput(f"phy2log[{ly}, {s}] = {phy2log[ly, s]} is not an expert id in 0..{E - 1}")
    live = np.arange(width)[None, None, :] < logcnt[:, :, None]
    bad_pad = ~live & (log2phy != -1)
    if bad_pad.any():
        ly, e, r = np.argwhere(bad_pad)[0]
        raise InvalidOutput(f"log2phy[{ly}, {e}, {r}] = {log2phy[ly, e, r]} beyond logcnt = {logcnt[ly, e]} "
                            "must be -1")
    bad_live = live & ((log2phy < 0) | (log2phy >= R))
    if bad_live.any():
        ly, e, r = np.argwhere(bad_live)[0]
        raise InvalidOutput(f"log2phy[{ly}, {e}, {r}] = {log2phy[ly, e, r]} is not a slot id in 0..{R - 1}")
    layer_of = np.broadcast_to(np.arange(L)[:, None, None], log2phy.shape)
    slots = log2phy[live]
    seen = np.bincount(layer_of[live] * R + slots, minlength=L * R).reshape(L, R)
    # each layer lists exactly R live slot ids in range, so a missing slot implies a duplicated one
    if (seen > 1).any():
        ly, s = np.argwhere(seen > 1)[0]
        raise InvalidOutput(f"slot {s} of layer {ly} is listed {seen[ly, s]} times in log2phy; every slot "
                            "must belong to exactly one expert replica")
    expert_of = np.broadcast_to(np.arange(E)[None, :, None], log2phy.shape)
    mapped = phy2log[layer_of[live], slots]
    if (mapped != expert_of[live]).any():
        k = int(np.flatnonzero(mapped != expert_of[live])[0])
        ly, e = int(layer_of[live][k]), int(expert_of[live][k])
        raise InvalidOutput(f"log2phy[{ly}, {e}] lists slot {slots[k]} but phy2log[{ly}, {slots[k]}] = "
                            f"{mapped[k]}; the two maps must agree")
    return ExpertMap(phy2log, log2phy, logcnt)
