"""What the loop asks of a mutator, and what it gets back."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class StageView:
    """The evaluator's feedback for one split of a program (what failed, where, and why)."""

    split: str
    status: str
    error: str | None = None
    failed_instance: str | None = None
    seconds: float = 0.0
    #: the problem's text about this split (e.g. an OpenEvolve evaluator's artifacts), shown in the next prompt
    feedback: str | None = None


@dataclass(frozen=True)
class ProgramView:
    """A program as a mutator sees it: code, score, metrics and the evaluator's feedback."""

    id: int
    code: str
    score: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    stages: tuple[StageView, ...] = ()

    @classmethod
    def from_record(cls, rec: Any) -> ProgramView:
        """From an archive ProgramRecord (duck-typed), with its per-split feedback."""
        stages = tuple(StageView(s.split, s.status, s.error, None if s.failed_instance is None
                                 else str(s.failed_instance), float(s.seconds or 0.0),
                                 getattr(s, "feedback", None))
                       for s in getattr(rec, "stages", ()) or ())
        return cls(rec.id, rec.code, rec.score, dict(rec.metrics or {}), rec.status, rec.error, stages)


@dataclass(frozen=True)
class ProposalRequest:
    """Everything needed to propose one child."""

    parent: ProgramView
    inspirations: tuple[ProgramView, ...] = ()
    failures: tuple[ProgramView, ...] = ()
    description: str = ""
    entry: str = ""
    metric_notes: dict[str, str] = field(default_factory=dict)

    @property
    def parent_code(self) -> str:
        return self.parent.code


@dataclass(frozen=True)
class Proposal:
    """A proposed child (`code` None when the reply could not be turned into a program)."""

    code: str | None
    edit: str
    edit_kind: str
    model: str
    status: str = "ok"  # ok | parse_error | llm_error
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    llm_call_ids: tuple[int, ...] = ()  # calls the mutator stored itself
    llm_calls: tuple[dict[str, Any], ...] = ()  # calls for the caller to store with the program


class Mutator(Protocol):
    """Turns a parent (plus context) into a child proposal.

    Optional hooks, called when a mutator has them: `async preflight()` before any work (raises a
    one-line LLMError), and `observe(program_id, improved, score_delta=None, model=None)` after each
    evaluated child (the LLM mutator's bandit learns from it).
    """

    name: str

    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal: ...

    def state(self) -> dict[str, Any]: ...

    def load_state(self, state: dict[str, Any]) -> None: ...

    async def aclose(self) -> None: ...
