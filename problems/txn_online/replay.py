"""Trusted replay of an online episode: the driver's output is checked decision by decision.

The driver ran in the untrusted child, so its output is only a claim. The parent re-draws every offer with
the episode's seed (through the same `offer` function) and accepts the decisions only if each one was
among the transactions offered at that step — which is exactly the rule that nothing already scheduled
can be reordered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evolve.problem import InvalidOutput
from problems.txn_online.driver import offer

_NONE = object()


def replay(output: Any, n: int, k: int, seed: int) -> list[int]:
    """The append order claimed by a driver `output`, if the episode is complete and legal; else raise."""
    if not isinstance(output, dict) or set(output) != {"decisions", "error"}:
        raise InvalidOutput("the driver's output must be {'decisions': [...], 'error': None}; got "
                            f"{type(output).__name__} {output!r:.80}")
    error, decisions = output["error"], output["decisions"]
    if error is not None:
        if not isinstance(error, str):
            raise InvalidOutput(f"malformed episode error {error!r:.80}")
        raise InvalidOutput(f"the episode was stopped: {error[:300]}")
    if not isinstance(decisions, list):
        raise InvalidOutput(f"decisions must be a list of transaction ids, got {type(decisions).__name__}")
    bad = next((d for d in decisions if type(d) is not int), _NONE)
    if bad is not _NONE:
        raise InvalidOutput(f"decisions must be transaction ids (ints), found {type(bad).__name__} {bad!r:.40}")
    if len(decisions) != n:
        raise InvalidOutput(f"the episode has {len(decisions)} decisions for {n} transactions")
    rng = np.random.default_rng(seed)
    pending = list(range(n))
    for step, t in enumerate(decisions):
        offered = offer(rng, pending, k)
        if t not in offered:
            raise InvalidOutput(f"decision {step} appends transaction {t}, which was not offered at that step "
                                f"(offered: {offered}); a policy can only append one of the offered "
                                "transactions")
        pending.remove(t)
    return list(decisions)
