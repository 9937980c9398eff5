"""What the loop asks of a mutator (LLM or offline), and what it gets back."""

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
    llm_calls: tuple[dict[str, Any], ...] = ()  # llm_calls rows: the loop stores them with the program
    idea: str | None = None  # the reply's NAME/IDEA line (the archive keeps it as the program's name)


class Mutator(Protocol):
    """Turns a parent (plus context) into a child proposal: the one interface the loop drives.

    A mutator subclasses this protocol and implements `propose`; the rest has defaults that do nothing.
    The class attributes say how the loop drives it, so the loop never asks which mutator it holds.
    """

    name: str = "mutator"
    #: proposals in flight at once; None: `propose` answers without waiting on anything (no I/O), so the
    #: loop asks only for what the evaluation workers can take now
    concurrency: int | None = None
    #: share of proposals that hand the mutator a recent child that failed in the sandbox, to fix
    fix_rate: float = 0.0
    #: the parent's latest children the loop keeps for each request's `history` (0: none)
    history: int = 0
    #: search.max_seconds when the configuration leaves it unset (None: no time cap)
    default_max_seconds: float | None = None

    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
        """A child of `request.parent`; every LLM call it made travels in `Proposal.llm_calls`."""
        ...

    async def preflight(self) -> tuple[dict[str, Any], ...]:
        """Check the mutator can work before any is done (raise a one-line LLMError naming the setting to
        fix); returns the llm_calls rows of any requests the check sent, for the loop to store."""
        return ()

    def observe(self, program_id: int, improved: bool, score_delta: float | None = None,
                model: str | None = None) -> None:
        """Hear how an evaluated child (made by `model`) fared against its parent."""
        return None

    def abandoned_calls(self) -> tuple[dict[str, Any], ...]:
        """The llm_calls rows of proposals that never returned (cancelled when the run stopped), once."""
        return ()

    def state(self) -> dict[str, Any]:
        """What a resumed run needs to go on as this one would have."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None
