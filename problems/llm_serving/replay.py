"""Trusted replay of a serving episode: the driver's decision log is checked iteration by iteration.

The driver ran in the untrusted child, so its log is only a claim. The parent builds its own engine from
the trace it kept, mirrors the driver's loop (admit arrivals, wait while the server is empty, otherwise
apply the next logged iteration) and lets `Engine.step` reject every illegal decision. The episode counts
only if every request finished and the log was used up exactly; every metric then comes from this engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evolve.problem import InvalidOutput
from problems.llm_serving.driver import Illegal, admit, complete, idle, new_engine, step


def _log(output: Any, max_iterations: int) -> tuple[np.ndarray, int]:
    if not isinstance(output, dict) or set(output) != {"log", "iterations", "error"}:
        raise InvalidOutput("the driver's output must be {'log': array, 'iterations': int, 'error': None}; got "
                            f"{type(output).__name__} {output!r:.80}")
    error, log, iterations = output["error"], output["log"], output["iterations"]
    if error is not None:
        if not isinstance(error, str):
            raise InvalidOutput(f"malformed episode error {error!r:.80}")
        raise InvalidOutput(f"the episode was stopped: {error[:400]}")
    if type(iterations) is not int or not 0 <= iterations <= max_iterations:
        raise InvalidOutput(f"iterations must be an int in 0..{max_iterations}, got {iterations!r:.40}")
    if not isinstance(log, np.ndarray) or log.dtype.kind not in "iu" or log.ndim != 2 or log.shape[1] != 3:
        raise InvalidOutput("the decision log must be an integer array of shape (rows, 3), got "
                            f"{type(log).__name__} {getattr(log, 'dtype', '')} {getattr(log, 'shape', '')}")
    log = log.astype(np.int64)
    its = log[:, 0]
    if len(its) and (its[0] < 0 or its[-1] >= iterations or np.any(np.diff(its) < 0)):
        raise InvalidOutput("the decision log's iteration numbers must be sorted and within 0..iterations-1")
    return log, iterations


def replay(output: Any, trace: dict[str, Any], config: dict[str, Any], max_iterations: int) -> Any:
    """The engine after replaying the driver's `output` on `trace`, if every decision was legal; else raise."""
    log, iterations = _log(output, max_iterations)
    engine = new_engine(trace["arrival_s"], trace["prompt_len"], trace["output_len"], trace["ttft_slo_s"], config,
                    record=True)
    bounds = np.searchsorted(log[:, 0], np.arange(iterations + 1), side="left").tolist()
    rows = log[:, 1:].tolist()
    it = 0
    while True:
        admit(engine)
        if not engine.live:
            if not idle(engine):
                break
            continue
        if it >= iterations:
            raise InvalidOutput(f"the log ends after {iterations} iterations with {engine.n - engine.finished} "
                                "request(s) unfinished")
        part = rows[bounds[it]:bounds[it + 1]]
        preempt = [(rid, v) for rid, v in part if v < 0]
        batch = [(rid, v) for rid, v in part if v >= 0]
        if len(preempt) + len(batch) != len(part) or any(v < 0 for _, v in part[len(preempt):]):
            raise InvalidOutput(f"iteration {it}: preemptions must come before the batch in the log")
        try:
            step(engine, batch, preempt)
        except Illegal as exc:
            raise InvalidOutput(f"iteration {it} (t = {engine.now:.3f} s): {exc}") from None
        it += 1
    if it != iterations:
        raise InvalidOutput(f"the log has {iterations} iterations but the episode ended after {it}")
    if not complete(engine):
        raise InvalidOutput(f"{engine.n - engine.finished} request(s) never finished")
    return engine
