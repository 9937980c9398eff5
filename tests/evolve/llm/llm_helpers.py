"""Helpers for driving the LLM mutator against the scripted server (imported by the tests here)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from evolve.archive import Archive
from evolve.llm.clients import CallSettings
from evolve.llm.cost import Pricing
from evolve.llm.models import ModelSpec
from evolve.llm.mutator import LLMMutator
from evolve.mutators.base import ProgramView, Proposal, ProposalRequest
from evolve.plugins import load_problem

SMTT = load_problem("smtt")
SEED = SMTT.initial_program
MDD_DIFF = "Use MDD.\n<<<<<<< SEARCH\n    return d\n=======\n    return max(d, t + p)\n>>>>>>> REPLACE\n"


def rewrite(expr: str) -> str:
    return f"Idea.\n```python\ndef priority(p, d, t):\n    return {expr}\n```\n"


def smtt_request(parent: ProgramView | None = None, **kw: Any) -> ProposalRequest:
    return ProposalRequest(parent=parent or ProgramView(1, SEED, -62.3, {"score": -62.3}),
                           description=SMTT.description, entry=SMTT.entry, metric_notes=SMTT.describe_metrics(), **kw)


def make_mutator(specs: list[ModelSpec], archive: Archive | None = None, *, timeout_s: float = 5.0,
                 max_retries: int = 2, fix_retries: int = 0, modes: tuple[float, float, float] = (1.0, 0.0, 0.0),
                 pricing: Pricing | None = None, selection: str = "weighted") -> LLMMutator:
    return LLMMutator(specs, settings=CallSettings(temperature=0.5, max_tokens=256, timeout_s=timeout_s,
                                                   max_retries=max_retries),
                      pricing=pricing, selection=selection, mode_weights=modes, fix_retries=fix_retries,
                      archive=archive, run_id="r" if archive is not None else None)


def propose(mutator: LLMMutator, request: ProposalRequest | None = None, seed: int = 0) -> Proposal:
    """One proposal; its calls are then stored as the loop stores them (the mutator itself writes none)."""
    async def go() -> Proposal:
        try:
            return await mutator.propose(request or smtt_request(), random.Random(seed))
        finally:
            await mutator.aclose()
    proposal = asyncio.run(go())
    if mutator.archive is not None and mutator.run_id is not None:
        mutator.archive.add_llm_calls(mutator.run_id, proposal.llm_calls)
    return proposal
