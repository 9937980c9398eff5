"""The LLM mutator: render a prompt, call a model, turn the reply into a child, store every call.

Per proposal: choose the mode (diff | full | crossover by llm.*_prob; fix when the parent failed) and
the model (weighted or bandit), all before the first await so concurrent proposals stay reproducible.
A reply that cannot be used (malformed, SEARCH text not found, edits outside the EVOLVE-BLOCKs,
invalid Python) is sent back with the reason up to llm.fix_retries times; each call is its own
llm_calls row, with the rendered prompt, the reply, tokens, cost, latency and status
(ok | parse_error | error | timeout | cancelled), which travels in the Proposal for the loop to store with the
child (the loop is the table's one writer). A child's edit_kind says what the reply was (diff |
full), after which prompt when not a plain one (crossover:full, fix:diff), and "+fix" when a retry
was needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from evolve.archive import Storage
from evolve.archive.models import utcnow
from evolve.edit.diff import EditError, apply_reply
from evolve.edit.reply import idea_line
from evolve.errors import ArchiveError
from evolve.llm.clients import CallFailed, CallSettings, ChatClient, Completion, make_client, where
from evolve.llm.cost import Pricing, estimate_tokens
from evolve.llm.models import ModelSpec
from evolve.llm.prompts import PromptBuilder, render_transcript, trim_error
from evolve.llm.selection import Selector, make_selector
from evolve.mutators.base import Mutator, Proposal, ProposalRequest

log = logging.getLogger(__name__)
MODES = ("diff", "full", "crossover")


@dataclass
class _Tally:
    """What one proposal's calls used."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    #: the llm_calls rows of the proposal's calls, for the loop to store
    calls: list[dict[str, Any]] = field(default_factory=list)


class LLMMutator(Mutator):
    """Proposes children with LLMs: many proposals in flight, fixes failed children, shows the history.

    The defaults of `concurrency`, `fix_rate` and `history` are those of llm.max_concurrency, llm.fix_rate
    and llm.prompt_history; the factory sets the configured ones.
    """

    name = "llm"
    concurrency: int | None = 4
    fix_rate = 0.1
    history = 5

    def __init__(self, specs: list[ModelSpec], *, settings: CallSettings, pricing: Pricing | None = None,
                 selection: str = "weighted", mode_weights: tuple[float, float, float] = (0.6, 0.3, 0.1),
                 fix_retries: int = 1, prompts: PromptBuilder | None = None, archive: Storage | None = None,
                 run_id: str | None = None, clients: list[ChatClient] | None = None) -> None:
        self.specs = specs
        self.settings = settings
        self.pricing = pricing or Pricing()
        self.selector: Selector = make_selector(selection, [s.key for s in specs], [s.weight for s in specs])
        self.mode_weights = mode_weights
        self.fix_retries = max(0, int(fix_retries))
        self.prompts = prompts or PromptBuilder()
        self.archive, self.run_id = archive, run_id
        self.clients = clients or [make_client(s, settings) for s in specs]
        #: llm.max_cost_usd: with a budget, a model whose cost is unknown is said so before the first call
        self.budget_usd: float | None = None
        self._warned: set[str] = set()
        #: calls of proposals cancelled before they returned (see abandoned_calls)
        self._abandoned: list[dict[str, Any]] = []

    # -- the Mutator protocol ------------------------------------------------------------------------
    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
        mode = self._mode(request, rng)
        index = self.selector.pick(rng)
        spec, client = self.specs[index], self.clients[index]
        answer = "diff" if mode == "diff" else "full"
        if mode == "fix":
            answer = "diff" if rng.random() < self._diff_share() else "full"
        self.selector.started(index)
        tally = _Tally()
        try:
            return await self._propose(request, mode, answer, spec, client, tally)
        except asyncio.CancelledError:  # the run stopped: the loop collects these calls by abandoned_calls
            self._abandoned.extend(tally.calls)
            raise
        except Exception as exc:  # a bug, not a reply: the child is an llm_error that keeps its calls
            return Proposal(code=None, edit="", edit_kind=mode, model=spec.key, status="llm_error",
                            error=f"{type(exc).__name__}: {exc}", **_usage(tally))
        finally:
            self.selector.finished(index, tally.cost_usd, tally.prompt_tokens + tally.completion_tokens)

    def _diff_share(self) -> float:
        d, f, c = self.mode_weights
        return d / (d + f + c) if d + f + c > 0 else 1.0

    def _mode(self, request: ProposalRequest, rng: random.Random) -> str:
        if request.parent.status != "ok":
            return "fix"
        weights = list(self.mode_weights)
        if not request.inspirations:
            weights[2] = 0.0
        if sum(weights) <= 0:
            return "diff"
        return rng.choices(MODES, weights=weights)[0]

    async def _propose(self, request: ProposalRequest, mode: str, answer: str, spec: ModelSpec,
                       client: ChatClient, tally: _Tally) -> Proposal:
        messages = self.prompts.messages(request, mode, answer)
        kind = mode
        reason = ""
        reply = ""
        for attempt in range(1 + self.fix_retries):
            if attempt:
                messages = self.prompts.retry(request, messages, reply, reason, answer)
                kind = "fix"
            try:
                completion, latency = await self._call(spec, client, messages, kind, tally)
            except CallFailed as exc:
                return Proposal(code=None, edit="", edit_kind=mode, model=spec.key, status="llm_error",
                                error=str(exc), **_usage(tally))
            reply = completion.text
            try:
                edit = apply_reply(request.parent.code, reply)
            except EditError as exc:
                reason = str(exc)
                if completion.reasoning and not reply.strip():
                    reason = "the reply holds only reasoning (its reasoning_content field) and no answer"
                if completion.finish_reason == "length":
                    reason += " (the reply hit llm.max_tokens and was cut off)"
                self._store(spec, kind, messages, completion, latency, "parse_error", reason, tally)
                continue
            self._store(spec, kind, messages, completion, latency, "ok", None, tally)
            kind_done = edit.kind if mode in ("diff", "full") else f"{mode}:{edit.kind}"
            return Proposal(code=edit.code, edit=edit.text, edit_kind=kind_done + ("+fix" if attempt else ""),
                            model=spec.key, idea=idea_line(reply), **_usage(tally))
        tries = f" (after {1 + self.fix_retries} replies)" if self.fix_retries else ""
        return Proposal(code=None, edit=trim_error(reply, 4000), edit_kind=mode, model=spec.key,
                        status="parse_error", error=reason + tries, idea=idea_line(reply), **_usage(tally))

    async def _call(self, spec: ModelSpec, client: ChatClient, messages: list[dict[str, str]], kind: str,
                    tally: _Tally) -> tuple[Completion, float]:
        """One request (the library retries inside it); failures are stored here, successes by the caller."""
        started = time.monotonic()
        try:
            completion = await client.complete(messages)
        except CallFailed as exc:
            self._record(spec, kind, messages, None, 0, 0, 0.0, time.monotonic() - started, exc.status, str(exc),
                         tally, retries=exc.retries, retry_statuses=list(exc.retry_statuses) or None,
                         request_id=exc.request_id)
            raise
        except asyncio.CancelledError:  # the run stopped (budget, deadline, Ctrl-C) while we waited
            self._record(spec, kind, messages, None, 0, 0, 0.0, time.monotonic() - started, "cancelled",
                         "the run stopped before the reply arrived", tally)
            raise
        except Exception as exc:  # a client bug, not a transport failure: stored, then the loop's llm_error
            self._record(spec, kind, messages, None, 0, 0, 0.0, time.monotonic() - started, "error",
                         f"{exc.__class__.__name__}: {exc}", tally)
            raise CallFailed(f"{exc.__class__.__name__}: {exc}") from exc
        return completion, time.monotonic() - started

    def _store(self, spec: ModelSpec, kind: str, messages: list[dict[str, str]], completion: Completion,
               latency: float, status: str, error: str | None, tally: _Tally) -> None:
        if not completion.usage_known:  # counted with a tokenizer: the cost is an estimate, never a silent $0
            prompt, reply = estimate_tokens(spec, messages, completion.text + (completion.reasoning or ""))
            completion = dataclasses.replace(completion, prompt_tokens=prompt, completion_tokens=reply)
            self._warn_once(f"usage:{spec.key}", f"{where(spec)} returns no token usage: tokens are counted with a "
                            "tokenizer, so token totals and costs (and llm.max_cost_usd / llm.max_tokens_total) "
                            "are estimates")
        cost = self.pricing.cost(spec, completion.prompt_tokens, completion.completion_tokens)
        self._record(spec, kind, messages, completion.text, completion.prompt_tokens, completion.completion_tokens,
                     cost, latency, status, error, tally, finish_reason=completion.finish_reason,
                     retries=completion.retries, retry_statuses=list(completion.retry_statuses) or None,
                     request_id=completion.request_id, reasoning=completion.reasoning)

    def _record(self, spec: ModelSpec, kind: str, messages: list[dict[str, str]], response: str | None,
                prompt_tokens: int, completion_tokens: int, cost: float, latency: float, status: str,
                error: str | None, tally: _Tally, **extra: Any) -> None:
        """Count a call in the proposal's tally and add its llm_calls row (`extra`: finish_reason, retries,
        retry_statuses, request_id, reasoning)."""
        tally.prompt_tokens += prompt_tokens
        tally.completion_tokens += completion_tokens
        tally.cost_usd += cost
        row = dict(model=spec.key, kind=kind, prompt=render_transcript(messages), response=response,
                   prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost,
                   latency_s=round(latency, 4), status=status, error=error, created_at=utcnow(), **extra)
        tally.calls.append(row)

    def abandoned_calls(self) -> tuple[dict[str, Any], ...]:
        rows, self._abandoned = tuple(self._abandoned), []
        return rows

    def state(self) -> dict[str, Any]:
        return {"selector": self.selector.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.selector.load_state(state.get("selector") or {})

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    # -- beyond the protocol -------------------------------------------------------------------------
    def cost_warnings(self) -> list[str]:
        """What the run should say before its first call about costs it cannot count."""
        if self.budget_usd is None:
            return []
        return [f"llm.max_cost_usd={self.budget_usd:g} is set, but the price of {s.setting}={s.key} is unknown "
                f"(litellm's price table does not list {s.model!r}): its calls count as $0 toward the budget. "
                "Set llm.input_cost_per_mtok / llm.output_cost_per_mtok (0 for a free local model), or bound "
                "the run with llm.max_tokens_total" for s in self.specs if self.pricing.unknown_price(s)]

    def _warn_once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning("%s", message)
        if self.archive is not None and self.run_id is not None:
            try:
                self.archive.add_event(self.run_id, "cost_warning", message)
            except ArchiveError:
                pass

    async def preflight(self) -> tuple[dict[str, Any], ...]:
        """Raise a one-line LLMError naming the setting to fix (missing key, dead endpoint, unknown model);
        warn about costs the run cannot count when a budget is set. Probe requests spend tokens: their
        rows are returned, to be accounted for like any call."""
        from evolve.llm.preflight import PROBE, check_model

        for message in self.cost_warnings():
            self._warn_once(message, message)
        tally = _Tally()
        for spec, client in zip(self.specs, self.clients):
            result = await check_model(spec, client)
            if result.probe is not None:
                self._store(spec, "preflight", PROBE, result.probe, 0.0, "ok", None, tally)
        return tuple(tally.calls)

    def observe(self, program_id: int, improved: bool, score_delta: float | None = None,
                model: str | None = None) -> None:
        """Report an evaluated child so the bandit learns which model improves programs per dollar.

        `model` is the child's Proposal.model (the archive's programs.model); when omitted it is read from
        the archive. Children of the offline mutator or of models no longer configured are kept aside.
        """
        if model is None:
            if self.archive is None:
                return
            try:
                model = self.archive.program(program_id).model
            except ArchiveError:
                return
        if model:
            self.selector.observe(model, improved, score_delta)


def _usage(tally: _Tally) -> dict[str, Any]:
    return {"prompt_tokens": tally.prompt_tokens, "completion_tokens": tally.completion_tokens,
            "cost_usd": tally.cost_usd, "llm_calls": tuple(tally.calls)}
