"""The evolution loop: select a parent, propose a child, dedup, evaluate in the sandbox, store, repeat.

Proposals and evaluations overlap: proposals run as asyncio tasks (as many as the mutator's concurrency:
llm.max_concurrency for an LLM), evaluations as executor futures (bounded by the number of workers).
The loop drives every mutator through the Mutator protocol and never asks which one it holds; it is the
one writer of the archive, llm_calls included. Counting is by completed evaluations. Everything that
happens is stored in the archive as it happens, so the database is the checkpoint: `resume` rebuilds
the population from it and re-queues what was in flight.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import itertools
import logging
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evaluators.dispatch import EvaluatorLost
from evaluators.status import RUN_FAILURES
from evolve.archive import ProgramRecord, Storage
from evolve.archive import queries as q
from evolve.edit.blocks import normalised_hash
from evolve.errors import EvolveError
from evolve.evaluation import Outcome, StageResult
from evolve.mutators.base import ChildView, Mutator, ProgramView, Proposal, ProposalRequest, StageView
from evolve.problem import RESULT_SPLITS, Problem
from evolve.search.population import Population, SearchSettings, features_of
from evolve.worker import EvalTask, ProblemSpec, run_task

log = logging.getLogger(__name__)

CASCADE = ("quick", "train")
#: the splits of a candidate's evaluation with search.cascade=false
TRAIN_ONLY = ("train",)
#: failures a model can be asked to fix (the program ran and did something wrong)
FIXABLE = frozenset(RUN_FAILURES)
#: the stop reason when the evaluation cluster is gone; the run stays resumable
EVALUATOR_LOST = "evaluator lost"
#: the stop reason when another process took the run's lease over: this one stops writing at once
LEASE_LOST = "lease lost"


@dataclass
class Progress:
    """Counters the progress line and the summary read."""

    evaluations: int = 0
    best_score: float | None = None
    best_id: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    cost_usd: float = 0.0
    tokens: int = 0
    last_improvement: int = 0

    def rate(self) -> float:
        return self.evaluations / max(1e-9, time.monotonic() - self.started)

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class _Job:
    program_id: int
    parent_id: int | None
    island: int
    generation: int
    code: str
    attempts: int = 0
    model: str | None = None
    idea: str | None = None


class ViewCache:
    """The programs the mutator was shown, by id, at most `size` of them. Evaluated programs never change,
    so a view is built from the archive once. Past the size, the least recently used go first, but those
    `keep` says yes to (programs still in the population: they can be chosen again, and loading one back
    costs a query and its stages) go only when nothing else is left to drop."""

    def __init__(self, size: int, keep: Callable[[int], bool]) -> None:
        self.size, self.keep = size, keep
        self._views: OrderedDict[int, ProgramView] = OrderedDict()

    def __len__(self) -> int:
        return len(self._views)

    def ids(self) -> list[int]:
        """The cached ids, least recently used first."""
        return list(self._views)

    def get(self, pid: int) -> ProgramView | None:
        view = self._views.get(pid)
        if view is not None:
            self._views.move_to_end(pid)
        return view

    def put(self, view: ProgramView) -> None:
        self._views[view.id] = view
        if len(self._views) > self.size:
            gone = list(itertools.islice((pid for pid in self._views if not self.keep(pid)),
                                         len(self._views) - self.size))
            for pid in gone:
                del self._views[pid]
            while len(self._views) > self.size:
                self._views.popitem(last=False)


class Evolution:
    """One run of the loop against one archive run."""

    def __init__(self, *, cfg: Any, problem: Problem, spec: ProblemSpec, archive: Storage, run_id: str,
                 mutator: Mutator, executor_factory: Callable[[], cf.Executor], workers: int,
                 limits: Any, isolation: Any, seed: int,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.cfg, self.problem, self.spec = cfg, problem, spec
        self.archive, self.run_id, self.mutator = archive, run_id, mutator
        self.executor_factory = executor_factory
        self.executor = executor_factory()
        self.workers, self.limits, self.isolation, self.seed = workers, limits, isolation, seed
        #: proposals made so far; proposal k draws from its own generator seeded by (seed, k), so a run
        #: resumed after any kill makes exactly the proposals an uninterrupted run would have made
        self.proposed = 0
        self.search = cfg.search
        self.pop = Population(SearchSettings.from_config(cfg.search))
        self.progress = Progress()
        self.on_progress = on_progress or (lambda p: None)
        self.stop_reason: str | None = None
        self.inflight: dict[asyncio.Future[Outcome], _Job] = {}
        self.ready: deque[_Job] = deque()
        self.proposals: dict[asyncio.Task[Proposal],
                             tuple[int | None, int, int, tuple[int, ...], random.Random]] = {}
        self.failures: deque[ProgramView] = deque(maxlen=4)
        #: recent children that failed in the sandbox (id, island, generation), newest last: the mutator
        #: is handed one of them to fix at its fix_rate (llm.fix_rate)
        self.fixable: deque[tuple[int, int, int]] = deque(maxlen=16)
        self.fix_rate = float(mutator.fix_rate)
        #: each parent's latest children (idea, status, score or why it failed), for the prompt's history
        self.children: dict[int, deque[ChildView]] = {}
        self.history_k = int(mutator.history)
        self.dup_streak = 0
        self.error_streak = 0
        #: normalised hash -> id of every stored, non-duplicate program of the run (the loop is the run's
        #: only writer of programs, so this answers the dedup question without a query per proposal)
        self._hashes: dict[str, int] = {}
        self.views = ViewCache(2 * self.search.islands * self.search.island_size + 64,
                               keep=lambda pid: self.pop.member(pid) is not None)
        #: the task statement, entry and metric notes, read once: run-wide, as the cached system prompt
        #: assumes (the description property reads a file)
        self._task_text = (problem.description, problem.entry, problem.describe_metrics())
        #: seconds earlier processes of this run spent (search.max_seconds bounds the run, not each process)
        self.spent_before = 0.0
        seconds = max_seconds(self.search.max_seconds, mutator.default_max_seconds)
        self.deadline = time.monotonic() + seconds if seconds is not None else None
        #: what the run's LLM calls spent before this session (preflight probes, earlier sessions of a
        #: resumed run): budgets hold across resumes; `answered` calls give the expected cost of the next
        self.progress.cost_usd, self.progress.tokens, self._answered = archive.llm_spent(run_id)
        # plain copies of the settings read on every turn (OmegaConf attribute access is slow)
        self.limits_cfg: dict[str, Any] = {
            "iterations": int(self.search.iterations), "target_score": self.search.target_score,
            "stagnation": self.search.stagnation, "max_duplicate_streak": int(self.search.max_duplicate_streak),
            "max_cost_usd": cfg.llm.max_cost_usd, "max_tokens_total": cfg.llm.max_tokens_total,
            "migration_interval": max(1, int(self.search.migration_interval)),
            "feature_dims": tuple(self.search.feature_dims),
            "cascade_threshold": self.search.cascade_threshold, "max_retries": int(cfg.evaluator.max_retries),
            "llm_timeout_s": float(cfg.llm.timeout_s)}
        #: the splits every candidate (and the seed) is evaluated on, in one sandboxed process
        self.splits = CASCADE if self.search.cascade else TRAIN_ONLY

    @property
    def capacity(self) -> int:
        """Evaluations kept in flight: one per worker plus what the executor queues ahead (Dask: one per
        worker, so a worker holds its next task while it evaluates and never waits for a round trip)."""
        return self.workers + int(getattr(self.executor, "queue_ahead", 0))

    # -- setup ---------------------------------------------------------------------------------------
    def _task(self, code: str, splits: tuple[str, ...], gate: float | None = None) -> EvalTask:
        return EvalTask(problem=self.spec, code=code, splits=splits, limits=self.limits,
                        isolation=self.isolation, gate_score=gate)

    def evaluate_now(self, code: str, splits: tuple[str, ...]) -> Outcome:
        """Evaluate synchronously on the executor (seed, baselines, hold-out), with bounded retries."""
        last: BaseException | None = None
        for _ in range(1 + int(self.cfg.evaluator.max_retries)):
            try:
                return self._submit(self._task(code, splits)).result()
            except EvaluatorLost as exc:
                raise EvolveError(f"{EVALUATOR_LOST}: {exc}. The archive is consistent; resume the run "
                                  "once the cluster is back") from exc
            except (cf.BrokenExecutor, RuntimeError, OSError) as exc:  # a worker died
                last = exc
                if isinstance(exc, cf.BrokenExecutor):
                    self._renew_executor()
        raise EvolveError(f"evaluation workers keep failing: {last}")

    def _submit(self, task: EvalTask) -> cf.Future[Outcome]:
        return self.executor.submit(run_task, task)

    def _renew_executor(self) -> None:
        try:
            self.executor.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass
        self.executor = self.executor_factory()

    def seed_population(self, seed_code: str) -> ProgramRecord:
        """Store and evaluate the seed; refuse to start when it is not valid."""
        job_id = "seed"
        code_hash = normalised_hash(seed_code)
        pid = self.archive.add_program(self.run_id, job_id, role="seed", name="seed", code=seed_code,
                                       code_hash=code_hash, generation=0, island=0, edit_kind="seed")
        self._hashes.setdefault(code_hash, pid)
        outcome = self.evaluate_now(seed_code, self.splits)
        features = self._store_outcome(pid, seed_code, outcome, count=False)
        run = self.archive.get_run(self.run_id)
        self.archive.update_run(self.run_id, meta={**run.meta, "isolation": outcome.isolation})
        if outcome.status != "ok" or outcome.score is None:
            raise EvolveError(f"the seed program of problem {self.problem.name!r} is not valid "
                              f"({outcome.status}): {outcome.error}. Fix {self.problem.package_dir}/initial.py "
                              "(`evolve eval` shows the details); no budget was spent.")
        self._admit(pid, seed_code, outcome, features, island=0, generation=0, parent_id=None, seed=True)
        return self.archive.program(pid)

    def restore(self) -> None:
        """Rebuild the population from the archive (resume) and re-queue programs left in flight."""
        run = self.archive.get_run(self.run_id)
        state = run.search_state or {}
        self.pop.load_state(state.get("population", {}))
        self.spent_before = float(state.get("elapsed_s", 0.0))
        if self.deadline is not None:
            self.deadline -= self.spent_before
        self.mutator.load_state(state.get("mutator", {}))
        done = self.archive.programs(self.run_id, roles=("seed", "candidate"), with_code=False)
        for p in done:
            if p.code_hash and p.status != "duplicate":
                self._hashes.setdefault(p.code_hash, p.id)
        self.proposed = sum(1 for p in done if p.role == "candidate")
        evaluated = sorted((p for p in done if p.eval_index is not None or p.role == "seed"),
                           key=lambda p: (p.eval_index or 0, p.id))
        interval = max(1, self.search.migration_interval)
        for p in evaluated:
            if p.status == "ok" and p.score is not None:
                feats = {k: float(v) for k, v in p.features.items()}
                quick = p.metrics.get("_quick_score")
                self.pop.add(p.id, p.score, feats, p.island, p.generation, p.parent_id, seed=p.role == "seed",
                             quick=float(quick) if isinstance(quick, (int, float)) else None)
            elif p.role == "candidate":
                self.pop.note_child(p.parent_id)
            if p.eval_index:
                self.progress.evaluations = max(self.progress.evaluations, p.eval_index)
                self.progress.count(p.status)
                if p.eval_index % interval == 0:
                    self.pop.migrate(random.Random(p.eval_index))
        if self.pop.best is not None:
            self.progress.best_score, self.progress.best_id = self.pop.best.score, self.pop.best.id
        for p in sorted(done, key=lambda r: r.id):
            if p.role == "candidate" and p.status not in ("pending", "running"):
                self._child(p.parent_id, ChildView(p.id, p.name, p.status, p.score, p.error))
        for p in done:
            if p.status in ("pending", "running") and p.role == "candidate":
                code = self.archive.program(p.id).code
                self.ready.append(_Job(p.id, p.parent_id, p.island, p.generation, code, model=p.model, idea=p.name))
        self.archive.add_event(self.run_id, "resume", f"resumed with {self.progress.evaluations} evaluations, "
                               f"{len(self.ready)} re-queued")

    # -- the loop ------------------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def _budget_left(self) -> int:
        return self.limits_cfg["iterations"] - self.progress.evaluations - len(self.inflight) - len(self.ready)

    def _check_stops(self) -> None:
        s, p = self.limits_cfg, self.progress
        if p.evaluations >= s["iterations"]:
            self.stop("iterations")
        elif self.deadline is not None and time.monotonic() >= self.deadline:
            self.stop("max_seconds")
        elif s["target_score"] is not None and p.best_score is not None and p.best_score >= s["target_score"]:
            self.stop("target_score")
        elif s["stagnation"] and p.evaluations - p.last_improvement >= s["stagnation"]:
            self.stop("stagnation")
        elif s["max_cost_usd"] is not None and p.cost_usd >= s["max_cost_usd"]:
            self.stop("budget: llm.max_cost_usd reached")
        elif s["max_tokens_total"] is not None and p.tokens >= s["max_tokens_total"]:
            self.stop("budget: llm.max_tokens_total reached")
        elif not self.inflight and not self.ready and self._spend_stop():
            self.stop(self._spend_stop() or "")
        elif self.dup_streak >= s["max_duplicate_streak"]:
            self.stop(f"no new programs: {self.dup_streak} duplicate proposals in a row")
        elif self.error_streak >= max(20, s["max_duplicate_streak"] // 4):
            self.stop(f"the mutator failed {self.error_streak} times in a row (see llm_calls in the archive)")

    async def run(self) -> str:
        """Evolve until a stop condition; returns the stop reason.

        In-flight evaluations are awaited and stored unless the run was interrupted (then they stay
        `pending` in the archive and `resume` re-queues them).
        """
        self._check_stops()
        while self.stop_reason is None:
            with self.archive.batch():  # one transaction per turn of the loop: the writer batches
                await self._fill()
                self._dispatch()
            waitables: set[asyncio.Future[Any]] = set(self.inflight) | set(self.proposals)
            if not waitables:
                self.stop("iterations" if self._budget_left() <= 0 else self._spend_stop()
                          or "nothing left to evaluate")
                break
            done, _ = await asyncio.wait(waitables, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            with self.archive.batch():
                # handle in submission order (not set order) so runs are as reproducible as timing allows
                for task in [t for t in self.proposals if t in done]:
                    self._on_proposal(task)
                for fut in [f for f in self.inflight if f in done]:
                    self._on_outcome(fut)
            self._check_stops()
            self.on_progress(self.progress)
        await self._drain_proposals()
        if self.stop_reason == EVALUATOR_LOST:  # their jobs stay pending in the archive for resume
            for fut in self.inflight:
                if fut.done() and not fut.cancelled():
                    fut.exception()  # retrieved: asyncio would log it as lost otherwise
                fut.cancel()
        if self.stop_reason == LEASE_LOST:  # the run is another process's now: its state is not ours to save
            return LEASE_LOST
        if self.stop_reason not in ("interrupted", EVALUATOR_LOST) and self.inflight:
            drain = max(5.0, float(self.limits.split_wall_s) * len(self.splits) + 10.0)
            done, _ = await asyncio.wait(set(self.inflight), timeout=drain)
            for fut in done:
                self._on_outcome(fut)
            self.on_progress(self.progress)
        self._save_state()
        return self.stop_reason or "finished"

    async def _drain_proposals(self) -> None:
        """Replies still on their way when the run stops are paid for: wait for them (up to one llm.timeout_s)
        and store their children as pending, for a resumed run to evaluate; cancel them only on Ctrl-C."""
        if self.proposals and self.stop_reason != "interrupted":
            done, _ = await asyncio.wait(set(self.proposals), timeout=self.limits_cfg["llm_timeout_s"])
            with self.archive.batch():
                for task in [t for t in self.proposals if t in done]:
                    self._on_proposal(task)
        for task in self.proposals:
            task.cancel()
        if self.proposals:  # let them end, then store the calls they had made
            await asyncio.gather(*self.proposals, return_exceptions=True)
            self.proposals.clear()
        self.archive.add_llm_calls(self.run_id, self.mutator.abandoned_calls())

    def _expected_spend(self) -> tuple[float | None, float | None]:
        """The mean cost and tokens of an answered proposal so far (None before the first answer)."""
        if self._answered <= 0:
            return None, None
        return self.progress.cost_usd / self._answered, self.progress.tokens / self._answered

    def _launch_fits_budget(self) -> bool:
        """Whether one more call fits: spent + the expected cost of the calls in flight and of this one stays
        within llm.max_cost_usd / llm.max_tokens_total. Before the first answer says what a call costs, one
        call at a time: the overshoot is at most one call."""
        s, p = self.limits_cfg, self.progress
        if s["max_cost_usd"] is None and s["max_tokens_total"] is None:
            return True
        cost, tokens = self._expected_spend()
        if cost is None or tokens is None:
            return not self.proposals
        n = len(self.proposals) + 1
        if s["max_cost_usd"] is not None and p.cost_usd + n * cost > s["max_cost_usd"]:
            return False
        return not (s["max_tokens_total"] is not None and p.tokens + n * tokens > s["max_tokens_total"])

    def _spend_stop(self) -> str | None:
        """The stop reason when not even one more call fits the budget (see _launch_fits_budget)."""
        if self.proposals or self._launch_fits_budget():
            return None
        which = "llm.max_cost_usd" if self.limits_cfg["max_cost_usd"] is not None else "llm.max_tokens_total"
        return f"budget: {which} reached (the next call would pass it)"

    async def _fill(self) -> None:
        """Start proposals while there is budget and room, and take those already answered."""
        while self.stop_reason is None and self._room():
            while self.stop_reason is None and self._room():
                rng = self._next_rng()
                parent, island, gen, insp = self._choose(rng)
                task = asyncio.ensure_future(self.mutator.propose(self._request(parent, insp), rng))
                self.proposals[task] = (parent, island, gen, insp, rng)
            await asyncio.sleep(0)  # one step of each: a mutator that waits on nothing has answered now
            answered = [t for t in self.proposals if t.done()]
            if not answered:
                return
            for task in answered:  # in submission order, as run() handles them
                self._on_proposal(task)
            self._check_stops()

    def _room(self) -> bool:
        """Whether to start one more proposal: budget left, and room by the mutator's concurrency (none
        given: its answers are immediate, so only as many as the evaluation workers can take now)."""
        if self._budget_left() - len(self.proposals) <= 0 or not self._launch_fits_budget():
            return False
        limit = self.mutator.concurrency
        waiting = len(self.ready) + len(self.proposals)
        if limit is None:
            return len(self.inflight) + waiting < self.capacity
        return len(self.proposals) < limit and waiting < self.capacity + limit

    def _next_rng(self) -> random.Random:
        rng = random.Random(f"evolve/{self.seed}/{self.proposed}")
        self.proposed += 1
        return rng

    def _choose(self, rng: random.Random) -> tuple[int | None, int, int, tuple[int, ...]]:
        if self.fix_rate > 0 and self.fixable and rng.random() < self.fix_rate:
            pid, island, generation = self.fixable.pop()  # the newest failure, handed out once
            return pid, island, generation + 1, ()
        island = rng.randrange(len(self.pop.islands))
        parent = self.pop.select_parent(rng, island)
        if parent is None:
            raise EvolveError("the population is empty: no valid program to mutate")
        insp = tuple(m.id for m in self.pop.inspirations(rng, island, parent.id))
        return parent.id, island, parent.generation + 1, insp

    def _view(self, pid: int) -> ProgramView:
        """A parent or inspiration as the mutator sees it (cached: evaluated programs never change)."""
        view = self.views.get(pid)
        if view is None:
            view = ProgramView.from_record(self.archive.program(pid))
            self.views.put(view)
        return view

    def _request(self, parent_id: int | None, insp: tuple[int, ...]) -> ProposalRequest:
        assert parent_id is not None
        description, entry, notes = self._task_text
        return ProposalRequest(parent=self._view(parent_id), inspirations=tuple(self._view(i) for i in insp),
                               failures=tuple(self.failures), description=description, entry=entry,
                               metric_notes=notes, history=tuple(self.children.get(parent_id, ())))

    def _child(self, parent_id: int | None, child: ChildView) -> None:
        """Remember a child of `parent_id` for the history its next prompts show (when the mutator reads it)."""
        if parent_id is None or self.history_k <= 0 or child.status == "llm_error":
            return
        self.children.setdefault(parent_id, deque(maxlen=self.history_k)).append(child)

    def _on_proposal(self, task: asyncio.Task[Proposal]) -> None:
        parent, island, gen, insp, rng = self.proposals.pop(task)
        try:
            proposal = task.result()
        except Exception as exc:  # a mutator bug or an unexpected client error: stored, run goes on
            proposal = Proposal(code=None, edit="", edit_kind="llm", model=self.mutator.name,
                                status="llm_error", error=f"{type(exc).__name__}: {exc}")
        self._accept(proposal, parent, island, gen, insp, rng)

    def _accept(self, proposal: Proposal, parent: int | None, island: int, gen: int,
                insp: tuple[int, ...], rng: random.Random) -> None:
        self.progress.cost_usd += proposal.cost_usd
        self.progress.tokens += proposal.prompt_tokens + proposal.completion_tokens
        self._answered += sum(1 for c in proposal.llm_calls if c.get("response") is not None)
        job_id = uuid.UUID(int=rng.getrandbits(128)).hex
        common = dict(role="candidate", parent_id=parent, inspiration_ids=list(insp), island=island,
                      generation=gen, edit=proposal.edit, edit_kind=proposal.edit_kind, model=proposal.model,
                      name=proposal.idea,
                      prompt_tokens=proposal.prompt_tokens, completion_tokens=proposal.completion_tokens,
                      cost_usd=proposal.cost_usd)
        if proposal.code is None:
            pid = self.archive.add_program(self.run_id, job_id, code="", code_hash="", status=proposal.status
                                           if proposal.status in ("parse_error", "llm_error") else "parse_error",
                                           error=proposal.error, **common)
            self._link_calls(proposal, pid)
            self.progress.count("parse_error")
            self.error_streak += 1
            self._child(parent, ChildView(pid, proposal.idea, proposal.status, None, proposal.error))
            return
        self.error_streak = 0
        code_hash = normalised_hash(proposal.code)
        original = self._hashes.get(code_hash)
        if original is not None:
            pid = self.archive.add_program(self.run_id, job_id, code=proposal.code, code_hash=code_hash,
                                           status="duplicate", error=f"same program as #{original}", **common)
            self._link_calls(proposal, pid)
            self.progress.count("duplicate")
            self.dup_streak += 1
            self._child(parent, ChildView(pid, proposal.idea, "duplicate", None, f"same program as #{original}"))
            return
        self.dup_streak = 0
        pid = self.archive.add_program(self.run_id, job_id, code=proposal.code, code_hash=code_hash,
                                       status="pending", **common)
        self._hashes.setdefault(code_hash, pid)
        self._link_calls(proposal, pid)
        self.ready.append(_Job(pid, parent, island, gen, proposal.code, model=proposal.model, idea=proposal.idea))

    def _link_calls(self, proposal: Proposal, pid: int) -> None:
        """Store the proposal's LLM calls with its child (the loop is the one writer of llm_calls)."""
        self.archive.add_llm_calls(self.run_id, proposal.llm_calls, program_id=pid)

    def _dispatch(self) -> None:
        while self.ready and len(self.inflight) < self.capacity:
            job = self.ready.popleft()
            gate = None
            parent = self.pop.member(job.parent_id)
            threshold = self.limits_cfg["cascade_threshold"]
            if threshold is not None and parent is not None and parent.quick is not None:
                gate = parent.quick - float(threshold)
            try:
                fut = asyncio.wrap_future(self._submit(self._task(job.code, self.splits, gate)))
            except EvaluatorLost as exc:  # the job stays pending in the archive for resume
                self.ready.appendleft(job)
                self._lost(exc)
                return
            self.inflight[fut] = job

    def _on_outcome(self, fut: asyncio.Future[Outcome]) -> None:
        job = self.inflight.pop(fut)
        try:
            outcome = fut.result()
        except EvaluatorLost as exc:  # not the job's fault: it stays pending in the archive for resume
            self.ready.appendleft(job)
            self._lost(exc)
            return
        except asyncio.CancelledError:  # cancelled with an executor that was renewed: run it again
            self.ready.appendleft(job)
            return
        except Exception as exc:  # the worker process died (not the candidate: that is classified)
            job.attempts += 1
            log.warning("evaluation of program %d failed in the worker: %s", job.program_id, exc)
            if isinstance(exc, cf.BrokenExecutor):  # loky: the pool is unusable; Dask/Ray heal themselves
                self._renew_executor()
            if job.attempts <= self.limits_cfg["max_retries"]:
                self.ready.appendleft(job)
                return
            outcome = Outcome("crash", None, {}, (), f"evaluation worker failed {job.attempts} times: {exc}")
        self.progress.evaluations += 1
        features = self._store_outcome(job.program_id, job.code, outcome, count=True)
        if self.history_k > 0:
            reached = outcome.status == "ok" and bool(outcome.stages) and outcome.stages[-1].split == self.splits[-1]
            self._child(job.parent_id, ChildView(job.program_id, job.idea, outcome.status,
                                                 outcome.score if reached else None, outcome.error))
        self._observe(job, outcome)
        if outcome.status == "ok" and outcome.score is not None:
            improved = self._admit(job.program_id, job.code, outcome, features, job.island, job.generation,
                                   job.parent_id)
            if improved:
                self.progress.last_improvement = self.progress.evaluations
        else:
            self.pop.note_child(job.parent_id)
            self.failures.append(ProgramView(job.program_id, job.code, None, {}, outcome.status, outcome.error,
                                             _stage_views(outcome)))
            if outcome.status in FIXABLE:
                self.fixable.append((job.program_id, job.island, job.generation))
        interval = self.limits_cfg["migration_interval"]
        if self.progress.evaluations % interval == 0:
            moves = self.pop.migrate(random.Random(self.progress.evaluations))
            if moves:
                self.archive.add_event(self.run_id, "migration", f"{len(moves)} programs migrated",
                                       {"moves": moves[:50]})
        if self.progress.evaluations % 25 == 0:
            self._save_state()

    def _observe(self, job: _Job, outcome: Outcome) -> None:
        """Tell the mutator (the LLM mutator's bandit learns from it) whether this child improved on its parent."""
        parent = self.pop.member(job.parent_id)
        parent_score = parent.score if parent is not None else None
        if parent_score is None and job.parent_id is not None:
            parent_score = self._view(job.parent_id).score
        score = outcome.score if outcome.stages and outcome.stages[-1].split == self.splits[-1] else None
        delta = score - parent_score if score is not None and parent_score is not None else None
        self.mutator.observe(job.program_id, improved=delta is not None and delta > 0, score_delta=delta, model=job.model)

    def _lost(self, exc: BaseException) -> None:
        if self.stop_reason is None:
            log.error("the evaluation cluster is gone (%s): stopping; the run can be resumed", exc)
            self.archive.add_event(self.run_id, "evaluator_lost", str(exc))
        self.stop(EVALUATOR_LOST)

    def _store_outcome(self, pid: int, code: str, outcome: Outcome, count: bool) -> dict[str, float]:
        """Store the outcome; returns the program's features (computed once, also used to admit it)."""
        metrics = dict(outcome.metrics)
        quick = next((s for s in outcome.stages if s.split == "quick" and s.status == "ok"), None)
        if quick is not None and "score" in quick.metrics:
            metrics["_quick_score"] = quick.metrics["score"]
        score, error, status = outcome.score, outcome.error, outcome.status
        if status == "ok" and outcome.stages and outcome.stages[-1].split != self.splits[-1]:
            score, error = None, "cascade: stopped after the quick split (score below the gate)"
        features = features_of(code, outcome.seconds, metrics, self.limits_cfg["feature_dims"])
        cell = self.pop.cell_label(features) if status == "ok" else None
        self.archive.complete_program(pid, status=status, score=score, metrics=metrics, stages=outcome.stages,
                                      run_id=self.run_id,
                                      error=error, features=features, cell=cell,
                                      eval_index=self.progress.evaluations if count else None,
                                      run_evaluations=self.progress.evaluations if count else None)
        if count:
            self.progress.count(status)
        return features

    def _admit(self, pid: int, code: str, outcome: Outcome, features: dict[str, float], island: int, generation: int,
               parent_id: int | None, seed: bool = False) -> bool:
        if outcome.score is None or (outcome.stages and outcome.stages[-1].split != self.splits[-1]):
            if not seed:
                self.pop.note_child(parent_id)  # restore() counts a child that did not reach train too
            return False
        quick = next((s.metrics.get("score") for s in outcome.stages if s.split == "quick" and s.status == "ok"),
                     None)
        improved = self.pop.add(pid, outcome.score, features, island, generation, parent_id, seed=seed,
                                quick=quick)
        self.views.put(ProgramView(pid, code, outcome.score, dict(outcome.metrics), "ok", None,
                                   _stage_views(outcome)))
        if improved:
            self.progress.best_score, self.progress.best_id = outcome.score, pid
            self.archive.update_run(self.run_id, best_program_id=pid, best_score=outcome.score)
        return improved

    def _save_state(self) -> None:
        self.archive.update_run(self.run_id, rng_state={"seed": self.seed, "proposed": self.proposed},
                                search_state={"population": self.pop.state(), "mutator": self.mutator.state(),
                                              "elapsed_s": self.elapsed()},
                                evaluations=self.progress.evaluations)

    def elapsed(self) -> float:
        """Seconds this run has spent so far, over every process that ran it."""
        return self.spent_before + time.monotonic() - self.progress.started

    # -- the end -------------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Score the top programs and the seed on hold-out, and the baselines on train and hold-out.

        What an earlier end of the same run already scored is not scored again (a resumed run ends again).
        """
        top_k = max(1, int(self.search.holdout_top_k))
        tops = self.archive.top(self.run_id, n=top_k)
        seed = next(iter(self.archive.programs(self.run_id, roles=("seed",))), None)
        holdout_for = {p.id: p for p in tops}
        if seed is not None:
            holdout_for[seed.id] = seed
        hold_out = self.problem.has_holdout  # a problem without one: nothing to score there, the report says so
        if hold_out:
            for pid in self._best_history(int(self.search.holdout_history)):
                if pid not in holdout_for:
                    holdout_for[pid] = self.archive.program(pid, self.run_id)
        futures = {pid: self._submit(self._task(p.code, ("holdout",))) for pid, p in holdout_for.items()
                   if hold_out and p.holdout is None}
        baseline_ids: dict[str, int] = {}
        scored = {p.name: p.id for p in self.archive.programs(self.run_id, roles=("baseline",), with_code=False)
                  if p.status != "pending" and p.name is not None}
        for name, code in sorted(self.problem.baselines().items()):
            if name in scored:
                continue
            bid = self.archive.add_program(self.run_id, f"baseline:{name}", role="baseline", name=name, code=code,
                                           code_hash=normalised_hash(code), status="pending")
            baseline_ids[name] = bid
        base_splits = RESULT_SPLITS if hold_out else TRAIN_ONLY
        base_futs = {name: self._submit(self._task(self.archive.program(bid).code, base_splits))
                     for name, bid in baseline_ids.items()}
        baseline_ids.update(scored)
        for pid, fut in futures.items():
            out = _result_or_crash(fut)
            stage = out.stages[-1] if out.stages else StageResult("holdout", out.status, error=out.error)
            self.archive.set_holdout(pid, dict(stage.metrics) if stage.status == "ok" else
                                     {"status": stage.status, "error": stage.error}, stage)
        for name, fut in base_futs.items():
            out = _result_or_crash(fut)
            train = next((s for s in out.stages if s.split == "train"), None)
            hold = next((s for s in out.stages if s.split == "holdout"), None)
            self.archive.complete_program(baseline_ids[name], status=out.status,
                                          score=train.metrics.get("score") if train and train.status == "ok" else None,
                                          metrics=dict(train.metrics) if train else {},
                                          stages=[s for s in out.stages if s.split != "holdout"], error=out.error)
            if hold is not None:
                self.archive.set_holdout(baseline_ids[name], dict(hold.metrics) if hold.status == "ok" else
                                         {"status": hold.status, "error": hold.error}, hold)
        return {"baselines": baseline_ids, "top": [p.id for p in tops]}

    def _best_history(self, k: int) -> list[int]:
        """Up to `k` of the programs that were each the run's best when evaluated, spread evenly over the
        run and always with the last one: scored on hold-out, they show whether the gains carry over."""
        evaluated = sorted((p.eval_index, p.id, p.island, p.status, p.score) for p in self.archive.programs(
            self.run_id, roles=("candidate",), with_code=False) if p.eval_index is not None)
        steps = q.best_so_far([q.EvalPoint(*row) for row in evaluated])
        if k <= 0 or not steps:
            return []
        if len(steps) <= k:
            return [s.program_id for s in steps]
        picks = {round(i * (len(steps) - 1) / max(k - 1, 1)) for i in range(k)} if k > 1 else {len(steps) - 1}
        return [steps[i].program_id for i in sorted(picks)]

    def close(self) -> None:
        try:
            self.executor.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass


def _result_or_crash(fut: cf.Future[Outcome]) -> Outcome:
    try:
        return fut.result()
    except Exception as exc:
        return Outcome("crash", None, {}, (), f"evaluation worker failed: {exc}")


def _stage_views(outcome: Outcome) -> tuple[StageView, ...]:
    return tuple(StageView(st.split, st.status, st.error, st.failed_instance, st.seconds, dict(st.metrics),
                           st.feedback or None)
                 for st in outcome.stages)


def max_seconds(configured: float | None, default: float | None) -> float | None:
    """The run's time cap: search.max_seconds if set (0: none), else the mutator's default (100 s offline,
    none with an LLM)."""
    if configured is not None:
        return float(configured) if configured > 0 else None
    return default


async def preflight(mutator: Mutator, archive: Storage, run_id: str) -> None:
    """The mutator's checks before any work (a one-line error names the setting to fix); the calls they
    sent are stored like any other."""
    archive.add_llm_calls(run_id, await mutator.preflight())
