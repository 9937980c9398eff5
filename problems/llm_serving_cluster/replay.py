"""Trusted replay of a cluster episode: the parent re-runs the whole cluster (local schedulers included)
with the dispatcher's logged decisions, checking each one as it is applied."""

from __future__ import annotations

from typing import Any

import numpy as np

from evolve.problem import InvalidOutput
from problems.llm_serving.driver import Illegal
from problems.llm_serving_cluster.driver import MIGRATE, ROUTE, new_cluster, run_cluster


def replay(output: Any, trace: dict[str, Any], config: dict[str, Any], n_instances: int,
           max_iterations: int) -> Any:
    """The cluster after replaying the driver's `output` on `trace`, if every decision was legal; else raise."""
    if not isinstance(output, dict) or set(output) != {"log", "error"}:
        raise InvalidOutput("the driver's output must be {'log': array, 'error': None}; got "
                            f"{type(output).__name__} {output!r:.80}")
    error, log = output["error"], output["log"]
    if error is not None:
        if not isinstance(error, str):
            raise InvalidOutput(f"malformed episode error {error!r:.80}")
        raise InvalidOutput(f"the episode was stopped: {error[:400]}")
    if not isinstance(log, np.ndarray) or log.dtype.kind not in "iu" or log.ndim != 2 or log.shape[1] != 4:
        raise InvalidOutput("the decision log must be an integer array of shape (rows, 4), got "
                            f"{type(log).__name__} {getattr(log, 'dtype', '')} {getattr(log, 'shape', '')}")
    rows = log.astype(np.int64).tolist()
    n = len(trace["arrival_s"])
    pos = 0

    def route(k: int, _cluster: Any) -> tuple[int, list[tuple[int, int]]]:
        nonlocal pos
        if pos >= len(rows) or rows[pos][0] != k or rows[pos][1] != ROUTE:
            raise Illegal(f"the log has no routing decision for arrival {k} where it should")
        dst = rows[pos][2]
        pos += 1
        moves = []
        while pos < len(rows) and rows[pos][0] == k and rows[pos][1] == MIGRATE:
            moves.append((rows[pos][2], rows[pos][3]))
            pos += 1
        return dst, moves

    cluster = new_cluster(trace["arrival_s"], trace["prompt_len"], trace["output_len"], trace["ttft_slo_s"], config,
                      n_instances, record=True)
    try:
        run_cluster(cluster, route, max_iterations)
    except Illegal as exc:
        raise InvalidOutput(str(exc)) from None
    if pos != len(rows):
        raise InvalidOutput(f"the log has {len(rows) - pos} row(s) after the last of {n} arrivals")
    return cluster
