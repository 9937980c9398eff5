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
    metrics: dict[str, Any] = field(default_factory=dict)
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
    edit: str | None = None  # the edit that made it from its parent (shown when a model is asked to fix it)
    edit_kind: str | None = None
    idea: str | None = None  # the model's NAME/IDEA line for the edit that made it

    @classmethod
    def from_record(cls, rec: Any) -> ProgramView:
        """From an archive ProgramRecord (duck-typed), with its per-split feedback."""
        stages = tuple(StageView(s.split, s.status, s.error, None if s.failed_instance is None
                                 else str(s.failed_instance), float(s.seconds or 0.0), dict(s.metrics or {}),
                                 getattr(s, "feedback", None))
                       for s in getattr(rec, "stages", ()) or ())
        idea = rec.name if getattr(rec, "role", "candidate") == "candidate" else None
        return cls(rec.id, rec.code, rec.score, dict(rec.metrics or {}), rec.status, rec.error, stages,
                   getattr(rec, "edit", None), getattr(rec, "edit_kind", None), idea)


@dataclass(frozen=True)
class ChildView:
    """One earlier child of a parent, for the prompt's history: its idea and how it fared."""

    id: int
    idea: str | None
    status: str  # ok | invalid | crash | duplicate | parse_error | … | pending
    score: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class ProposalRequest:
    """Everything needed to propose one child."""

    parent: ProgramView
    inspirations: tuple[ProgramView, ...] = ()
    failures: tuple[ProgramView, ...] = ()
    description: str = ""
    entry: str = ""
    metric_notes: dict[str, str] = field(default_factory=dict)
    history: tuple[ChildView, ...] = ()  # the parent's latest children, oldest first

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
    idea: str | None = None  # the reply's NAME/IDEA line (the archive keeps it as the program's name)


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
