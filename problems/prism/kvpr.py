"""KV-cache pressure of a placement, the leaderboard's test-case generator and its per-case score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evolve.problem import InvalidOutput

GPU_MEM_SIZE = 80  # GB per GPU
#: the KVPR the leaderboard gives a GPU whose models fill its memory exactly
FULL_GPU_KVPR = 1_000_000.0


@dataclass(frozen=True)
class Case:
    """One test case: GPUs and, per model, size (GB), request rate and SLO."""

    gpu_num: int
    sizes: np.ndarray
    rates: np.ndarray
    slos: np.ndarray


def generate_cases(seed: int, count: int) -> list[Case]:
    """`count` cases drawn exactly as the leaderboard draws them (legacy RandomState; seed 42 gives its own
    50 cases): 5–9 GPUs, twice as many models, sizes 10–29 GB, rates 1–9, SLOs 5–9."""
    rs = np.random.RandomState(seed)
    cases = []
    for _ in range(count):
        gpu_num = int(rs.randint(5, 10))
        rows = [(int(rs.randint(10, 30)), int(rs.randint(1, 10)), int(rs.randint(5, 10))) for _ in range(2 * gpu_num)]
        sizes, rates, slos = (np.array(col, dtype=np.int64) for col in zip(*rows))
        cases.append(Case(gpu_num, sizes, rates, slos))
    return cases


def max_kvpr(case: Case, gpu_of: Sequence[int] | np.ndarray) -> float:
    """max over GPUs of Σ rate/slo ÷ (memory − Σ size) (a GPU filled exactly scores FULL_GPU_KVPR)."""
    worst = -math.inf
    assign = np.asarray(gpu_of)
    for g in range(case.gpu_num):
        on = assign == g
        used = int(case.sizes[on].sum())
        load = float((case.rates[on] / case.slos[on]).sum())
        worst = max(worst, load / (GPU_MEM_SIZE - used) if GPU_MEM_SIZE - used > 0 else FULL_GPU_KVPR)
    return worst


def round_robin(case: Case) -> list[int]:
    return [i % case.gpu_num for i in range(case.sizes.size)]


def optimal_bound(case: Case) -> float:
    """The leaderboard's "theoretical optimum": total load over total free memory (perfect balance)."""
    free = case.gpu_num * GPU_MEM_SIZE - int(case.sizes.sum())
    return float((case.rates / case.slos).sum()) / free if free > 0 else 0.0


def case_score(baseline: float, optimal: float, solution: float) -> float:
    """100·sqrt(clamp((baseline − solution)/(baseline − optimal), 0, 1)), the leaderboard's per-case score."""
    if baseline > optimal:
        return 100.0 * math.sqrt(min(1.0, max(0.0, (baseline - solution) / (baseline - optimal))))
    return 100.0 if solution <= optimal else 0.0


def validate(output: Any, case: Case) -> list[int]:
    """The GPU of every model, or InvalidOutput: ids in range, one per model, memory respected."""
    if isinstance(output, np.ndarray):
        if output.ndim != 1 or output.dtype.kind not in "iu":
            raise InvalidOutput(f"return one integer GPU id per model, got an array of {output.dtype}, "
                                f"shape {output.shape}")
        output = output.tolist()
    if not isinstance(output, (list, tuple)):
        raise InvalidOutput(f"return a list with the GPU id of each model, got {type(output).__name__}")
    n = case.sizes.size
    if len(output) != n:
        raise InvalidOutput(f"return one GPU id per model: {n} expected, got {len(output)}")
    bad = next((g for g in output if isinstance(g, bool) or not isinstance(g, (int, np.integer))
                or not 0 <= g < case.gpu_num), None)
    if bad is not None:
        raise InvalidOutput(f"GPU ids are integers in 0..{case.gpu_num - 1}; got {bad!r:.40}")
    used = np.bincount(np.asarray(output, dtype=np.int64), weights=case.sizes, minlength=case.gpu_num)
    over = int(np.argmax(used))
    if used[over] > GPU_MEM_SIZE:
        raise InvalidOutput(f"GPU {over} holds {int(used[over])} GB of models; each GPU has {GPU_MEM_SIZE} GB")
    return [int(g) for g in output]
