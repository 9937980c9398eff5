"""Read-only questions about a stored run, for the terminal views and the report.

Everything here only reads, from an archive that evolve/archive/locate.py opened read-only (a run
directory's SQLite file in read-only mode), so browsing a run that is still going never takes a write
lock. Queries select the columns they need and never load code blobs unless they are asked for code.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import aliased

from evaluators.status import FAILURES, OPEN, Status
from evolve.archive.models import LLMCallRow, ProgramRow
from evolve.archive.records import LLMCallRecord, ProgramRecord, RunRecord
from evolve.archive.store import Archive, _program
from evolve.errors import ArchiveError

#: statuses that mean "the proposal produced no usable program" (plain strings, as SQL parameters)
FAILURE_STATUSES = tuple(s.value for s in FAILURES)
#: statuses of programs that are not finished yet
OPEN_STATUSES = tuple(s.value for s in OPEN)


# -- programs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProgramBrief:
    """A program without its code: what charts, lineages and tables need."""

    id: int
    role: str
    name: str | None
    parent_id: int | None
    island: int
    cell: str | None
    generation: int
    status: str
    score: float | None
    eval_index: int | None
    edit_kind: str | None
    edit: str | None
    model: str | None


_BRIEF_COLUMNS = (ProgramRow.id, ProgramRow.role, ProgramRow.name, ProgramRow.parent_id, ProgramRow.island,
                  ProgramRow.cell, ProgramRow.generation, ProgramRow.status, ProgramRow.score,
                  ProgramRow.eval_index, ProgramRow.edit_kind, ProgramRow.edit, ProgramRow.model)


def _brief(row: Any) -> ProgramBrief:
    return ProgramBrief(*row)


def briefs(archive: Archive, run_id: str, ids: Iterable[int]) -> dict[int, ProgramBrief]:
    """Briefs of the given program ids of a run."""
    wanted = sorted(set(ids))
    out: dict[int, ProgramBrief] = {}
    with archive.session() as s:
        for chunk in _chunks(wanted, 500):
            rows = s.execute(select(*_BRIEF_COLUMNS).where(ProgramRow.run_id == run_id,
                                                           ProgramRow.id.in_(chunk)))
            out.update({int(r[0]): _brief(r) for r in rows})
    return out


def codes(archive: Archive, run_id: str, ids: Iterable[int]) -> dict[int, str]:
    """The code of the given program ids of a run (one query per 500 ids)."""
    wanted = sorted(set(ids))
    out: dict[int, str] = {}
    with archive.session() as s:
        for chunk in _chunks(wanted, 500):
            rows = s.execute(select(ProgramRow.id, ProgramRow.code).where(ProgramRow.run_id == run_id,
                                                                          ProgramRow.id.in_(chunk)))
            out.update({int(i): str(c) for i, c in rows})
    return out


def seed_id(archive: Archive, run_id: str) -> int | None:
    with archive.session() as s:
        found = s.scalar(select(ProgramRow.id).where(ProgramRow.run_id == run_id, ProgramRow.role == "seed")
                         .order_by(ProgramRow.id).limit(1))
    return None if found is None else int(found)


def lineage(archive: Archive, run_id: str, program_id: int, limit: int = 100_000) -> list[ProgramBrief]:
    """The ancestors of a program back to the seed, seed first, the program last (one recursive query)."""
    start = select(ProgramRow.id, ProgramRow.parent_id, literal(0).label("depth")).where(
        ProgramRow.run_id == run_id, ProgramRow.id == program_id)
    anc = start.cte("ancestors", recursive=True)
    parent = aliased(ProgramRow)
    anc = anc.union_all(select(parent.id, parent.parent_id, anc.c.depth + 1).where(
        parent.id == anc.c.parent_id, parent.run_id == run_id, anc.c.depth < limit))
    with archive.session() as s:
        rows = s.execute(select(*_BRIEF_COLUMNS).join(anc, ProgramRow.id == anc.c.id)
                         .order_by(anc.c.depth.desc())).all()
    if not rows:
        raise ArchiveError(f"no program with id {program_id} in run {run_id}; `evolve archive top RUN` lists the ids")
    return [_brief(r) for r in rows]


def lineage_tree(archive: Archive, run_id: str, leaves: Sequence[int], max_nodes: int = 400
                 ) -> dict[int, ProgramBrief]:
    """The union of the lineages of `leaves` (the first leaf's lineage is always complete)."""
    nodes: dict[int, ProgramBrief] = {}
    for i, leaf in enumerate(leaves):
        if i and len(nodes) >= max_nodes:
            break
        for b in lineage(archive, run_id, leaf):
            nodes.setdefault(b.id, b)
    return nodes


def holdouts(archive: Archive, run_id: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The hold-out metrics of the given programs that have been scored on hold-out."""
    wanted = sorted(set(ids))
    out: dict[int, dict[str, Any]] = {}
    with archive.session() as s:
        for chunk in _chunks(wanted, 500):
            rows = s.execute(select(ProgramRow.id, ProgramRow.holdout).where(
                ProgramRow.run_id == run_id, ProgramRow.id.in_(chunk), ProgramRow.holdout.is_not(None)))
            out.update({int(i): dict(h) for i, h in rows if h})
    return out


def llm_calls_for(archive: Archive, program_id: int) -> list[LLMCallRecord]:
    """The LLM calls whose reply became this program."""
    with archive.session() as s:
        rows = s.scalars(select(LLMCallRow).where(LLMCallRow.program_id == program_id).order_by(LLMCallRow.id))
        return [LLMCallRecord(**{c: getattr(r, c) for c in LLMCallRecord.__dataclass_fields__}) for r in rows]


# -- programs of equal behaviour -------------------------------------------------------------------
@dataclass(frozen=True)
class BehaviourGroup:
    """A ranked program and the lower-ranked programs that behave the same (`alike`, best first)."""

    program: ProgramRecord
    alike: tuple[int, ...] = ()


def behaviour_key(p: ProgramRecord) -> str | None:
    """What two programs share when they behave the same in effect: every metric of the split they are
    ranked on (the score and the rest, e.g. SMTT's total tardiness and share of optimal schedules). Code
    that differs only where it changes no decision gives equal keys. None for a program without metrics
    (a failure), which is never grouped."""
    if p.status != "ok" or not p.metrics:
        return None
    return json.dumps(p.metrics, sort_keys=True, default=str)


def group_by_behaviour(programs: Sequence[ProgramRecord]) -> list[BehaviourGroup]:
    """Ranked programs folded into groups of equal behaviour, in the order of each group's first program."""
    firsts: dict[str, int] = {}
    groups: list[tuple[ProgramRecord, list[int]]] = []
    for p in programs:
        key = behaviour_key(p)
        if key is not None and key in firsts:
            groups[firsts[key]][1].append(p.id)
            continue
        if key is not None:
            firsts[key] = len(groups)
        groups.append((p, []))
    return [BehaviourGroup(p, tuple(ids)) for p, ids in groups]


def top_behaviours(archive: Archive, run_id: str, n: int, *, island: int | None = None,
                   status: str | None = "ok", roles: Sequence[str] = ("seed", "candidate")) -> list[BehaviourGroup]:
    """The `n` best distinct behaviours of a run, each with every program that shares it.

    Programs of equal behaviour have equal scores, so once a program scores below the n-th group every
    member of the first n groups has been read; the query widens until then (or the run runs out).
    """
    limit = max(4 * n, 50)
    while True:
        programs = archive.top(run_id, n=limit, island=island, status=status, roles=roles)
        groups = group_by_behaviour(programs)
        exhausted = len(programs) < limit
        if exhausted or (len(groups) >= n and _below(programs[-1], groups[n - 1].program)):
            return groups[:n]
        limit *= 4


def _below(p: ProgramRecord, than: ProgramRecord) -> bool:
    """Whether ranking has passed `than`'s score (unscored programs come last and are never grouped)."""
    return p.score is None or (than.score is not None and p.score < than.score)


# -- evaluations over time -----------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalPoint:
    """One completed evaluation of a candidate (x of the score chart)."""

    eval_index: int
    program_id: int
    island: int
    status: str
    score: float | None


def evaluation_points(archive: Archive, run_id: str) -> list[EvalPoint]:
    """Every completed candidate evaluation in order."""
    with archive.session() as s:
        rows = s.execute(select(ProgramRow.eval_index, ProgramRow.id, ProgramRow.island, ProgramRow.status,
                                ProgramRow.score)
                         .where(ProgramRow.run_id == run_id, ProgramRow.role == "candidate",
                                ProgramRow.eval_index.is_not(None))
                         .order_by(ProgramRow.eval_index, ProgramRow.id))
        return [EvalPoint(int(e or 0), int(i), int(isl), str(st), None if sc is None else float(sc))
                for e, i, isl, st, sc in rows]


@dataclass(frozen=True)
class BestStep:
    """The best-so-far score changed at evaluation `eval_index` to `score` (program `program_id`)."""

    eval_index: int
    score: float
    program_id: int


def best_so_far(points: Sequence[EvalPoint], start: BestStep | None = None,
                island: int | None = None) -> list[BestStep]:
    """The improving steps of the best score (overall or on one island), starting from `start`."""
    steps = [start] if start is not None else []
    best = start.score if start is not None else -math.inf
    for p in points:
        if island is not None and p.island != island:
            continue
        if p.status == "ok" and p.score is not None and math.isfinite(p.score) and p.score > best:
            best = p.score
            steps.append(BestStep(p.eval_index, p.score, p.program_id))
    return steps


@dataclass(frozen=True)
class FailureTimeline:
    """Candidate outcomes per bucket of evaluations: `counts[status][k]` for the bucket [edges[k], edges[k+1])."""

    edges: tuple[int, ...]
    counts: dict[str, tuple[int, ...]]
    totals: tuple[int, ...]


def failure_timeline(archive: Archive, run_id: str, buckets: int = 20) -> FailureTimeline:
    """Outcomes over time. Proposals that were never evaluated (duplicates, parse errors) are placed at the
    number of evaluations completed when they were proposed."""
    with archive.session() as s:
        rows = s.execute(select(ProgramRow.id, ProgramRow.eval_index, ProgramRow.status)
                         .where(ProgramRow.run_id == run_id, ProgramRow.role == "candidate")
                         .order_by(ProgramRow.id)).all()
    placed: list[tuple[int, str]] = []
    done = 0
    for _pid, eidx, status in rows:
        if status in OPEN_STATUSES:
            continue
        if eidx is not None:
            done = max(done, int(eidx))
            placed.append((int(eidx), str(status)))
        else:
            placed.append((done + 1, str(status)))
    if not placed:
        return FailureTimeline((0, 1), {}, (0,))
    top = max(x for x, _ in placed)
    width = max(1, math.ceil(top / max(1, buckets)))
    n = max(1, math.ceil(top / width))
    edges = tuple(1 + k * width for k in range(n + 1))
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    totals = [0] * n
    for x, status in placed:
        k = min(n - 1, (x - 1) // width)
        counts[status][k] += 1
        totals[k] += 1
    return FailureTimeline(edges, {k: tuple(v) for k, v in counts.items()}, tuple(totals))


@dataclass(frozen=True)
class FailureReason:
    """A kind of failure: its status, a normalised message, how often, and one program that had it."""

    status: str
    reason: str
    count: int
    example_id: int


_NUMBERED = re.compile(r"(#|instance |line )\d+")


def failure_reasons(archive: Archive, run_id: str, limit: int = 8) -> list[FailureReason]:
    """The most common failure messages (last line of the error, numbers masked)."""
    with archive.session() as s:
        rows = s.execute(select(ProgramRow.id, ProgramRow.status, ProgramRow.error)
                         .where(ProgramRow.run_id == run_id, ProgramRow.role == "candidate",
                                ProgramRow.status.in_(FAILURE_STATUSES))).all()
    counter: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], int] = {}
    for pid, status, error in rows:
        key = (str(status), _reason(error))
        counter[key] += 1
        example.setdefault(key, int(pid))
    return [FailureReason(st, why, n, example[(st, why)]) for (st, why), n in counter.most_common(limit)]


def _reason(error: str | None) -> str:
    lines = [ln.strip() for ln in (error or "").splitlines() if ln.strip()]
    if not lines:
        return "(no message)"
    text = _NUMBERED.sub(lambda m: m.group(1) + "N", lines[-1])
    return text if len(text) <= 160 else text[:157] + "…"


# -- MAP-Elites grid ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellStat:
    """One occupied MAP-Elites cell: its coordinates, how many valid programs fell in it, and its elite."""

    coords: tuple[int, ...]
    count: int
    best_score: float
    best_id: int


def cell_grid(archive: Archive, run_id: str) -> list[CellStat]:
    """Occupied cells over all islands, from the `cell` labels ("i,j") of valid programs."""
    with archive.session() as s:
        rows = s.execute(select(ProgramRow.cell, ProgramRow.score, ProgramRow.id)
                         .where(ProgramRow.run_id == run_id, ProgramRow.status == "ok",
                                ProgramRow.role.in_(("seed", "candidate")), ProgramRow.cell.is_not(None),
                                ProgramRow.score.is_not(None))).all()
    acc: dict[tuple[int, ...], list[Any]] = {}
    for cell, score, pid in rows:
        try:
            coords = tuple(int(c) for c in str(cell).split(","))
        except ValueError:
            continue
        value = float(score or 0.0)  # the query keeps only rows with a score
        entry = acc.setdefault(coords, [0, -math.inf, int(pid)])
        entry[0] += 1
        if value > entry[1]:
            entry[1], entry[2] = value, int(pid)
    return [CellStat(c, n, best, bid) for c, (n, best, bid) in sorted(acc.items())]


# -- models -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelStats:
    """What one model (or the offline mutator) contributed to a run."""

    model: str
    proposals: int
    llm_calls: int
    call_errors: int
    evaluated: int
    valid: int
    improvements: int
    new_bests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float = 0.0

    @property
    def valid_rate(self) -> float | None:
        return self.valid / self.evaluated if self.evaluated else None

    @property
    def call_success_rate(self) -> float | None:
        return (self.llm_calls - self.call_errors) / self.llm_calls if self.llm_calls else None


def model_stats(archive: Archive, run_id: str) -> list[ModelStats]:
    """Per model: proposals, LLM calls and their success rate, valid programs, improvements over the
    parent, new overall bests, tokens and cost. Calls not linked to a program still count."""
    with archive.session() as s:
        progs = s.execute(select(ProgramRow.id, ProgramRow.model, ProgramRow.parent_id, ProgramRow.status,
                                 ProgramRow.score, ProgramRow.eval_index, ProgramRow.prompt_tokens,
                                 ProgramRow.completion_tokens, ProgramRow.cost_usd, ProgramRow.role)
                          .where(ProgramRow.run_id == run_id, ProgramRow.role.in_(("seed", "candidate")))
                          .order_by(ProgramRow.id)).all()
        calls = s.execute(select(LLMCallRow.model, func.count(), func.sum(LLMCallRow.prompt_tokens),
                                 func.sum(LLMCallRow.completion_tokens), func.sum(LLMCallRow.cost_usd),
                                 func.sum(LLMCallRow.latency_s), LLMCallRow.status)
                          .where(LLMCallRow.run_id == run_id)
                          .group_by(LLMCallRow.model, LLMCallRow.status)).all()
    score_of = {int(r.id): r.score for r in progs if r.status == "ok" and r.score is not None}
    agg: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    best = -math.inf
    seed = next((r for r in progs if r.role == "seed"), None)
    if seed is not None and seed.score is not None:
        best = float(seed.score)
    for r in sorted((r for r in progs if r.role == "candidate"), key=lambda r: (r.eval_index or 0, r.id)):
        a = agg[r.model or "unknown"]
        a["proposals"] += 1
        a["prompt_tokens"] += r.prompt_tokens or 0
        a["completion_tokens"] += r.completion_tokens or 0
        a["cost_usd"] += r.cost_usd or 0.0
        if r.eval_index is not None:
            a["evaluated"] += 1
        if r.status == "ok" and r.score is not None:
            a["valid"] += 1
            parent = score_of.get(r.parent_id) if r.parent_id is not None else None
            if parent is not None and r.score > parent:
                a["improvements"] += 1
            if r.eval_index is not None and r.score > best:
                best = r.score
                a["new_bests"] += 1
    by_call: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for model, n, pt, ct, cost, lat, status in calls:
        c = by_call[str(model)]
        c["calls"] += n
        c["errors"] += 0 if status == "ok" else n
        c["prompt_tokens"] += pt or 0
        c["completion_tokens"] += ct or 0
        c["cost_usd"] += cost or 0.0
        c["latency_s"] += lat or 0.0
    out = []
    for model in sorted(set(agg) | set(by_call)):
        a, c = agg.get(model, {}), by_call.get(model, {})
        use_calls = bool(c.get("calls"))  # the calls are the money; program rows copy it per proposal
        out.append(ModelStats(
            model=model, proposals=int(a.get("proposals", 0)), llm_calls=int(c.get("calls", 0)),
            call_errors=int(c.get("errors", 0)), evaluated=int(a.get("evaluated", 0)),
            valid=int(a.get("valid", 0)), improvements=int(a.get("improvements", 0)),
            new_bests=int(a.get("new_bests", 0)),
            prompt_tokens=int((c if use_calls else a).get("prompt_tokens", 0)),
            completion_tokens=int((c if use_calls else a).get("completion_tokens", 0)),
            cost_usd=float((c if use_calls else a).get("cost_usd", 0.0)),
            latency_s=float(c.get("latency_s", 0.0))))
    return sorted(out, key=lambda m: (-m.proposals, m.model))


# -- totals --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunTotals:
    """Counts and spend of a run."""

    proposals: int
    evaluated: int
    valid: int
    pending: int
    statuses: dict[str, int] = field(default_factory=dict)
    llm_calls: int = 0
    cost_usd: float = 0.0
    tokens: int = 0


def run_totals(archive: Archive, run_id: str) -> RunTotals:
    with archive.session() as s:
        by_status = s.execute(select(ProgramRow.status, func.count(), func.count(ProgramRow.eval_index),
                                     func.sum(ProgramRow.cost_usd),
                                     func.sum(ProgramRow.prompt_tokens + ProgramRow.completion_tokens))
                              .where(ProgramRow.run_id == run_id, ProgramRow.role == "candidate")
                              .group_by(ProgramRow.status)).all()
        calls = s.execute(select(func.count(), func.sum(LLMCallRow.cost_usd),
                                 func.sum(LLMCallRow.prompt_tokens + LLMCallRow.completion_tokens))
                          .where(LLMCallRow.run_id == run_id)).one()
    statuses = {str(st): int(n) for st, n, *_ in by_status}
    n_calls = int(calls[0] or 0)
    prog_cost = sum(float(r[3] or 0.0) for r in by_status)
    prog_tokens = sum(int(r[4] or 0) for r in by_status)
    return RunTotals(proposals=sum(statuses.values()), evaluated=sum(int(r[2]) for r in by_status),
                     valid=statuses.get(Status.OK, 0),
                     pending=sum(statuses.get(s, 0) for s in OPEN_STATUSES), statuses=statuses,
                     llm_calls=n_calls, cost_usd=float(calls[1] or 0.0) if n_calls else prog_cost,
                     tokens=int(calls[2] or 0) if n_calls else prog_tokens)


def run_duration(run: RunRecord, now: dt.datetime | None = None) -> dt.timedelta:
    """Wall time of a run: to its end, or to its last heartbeat (or now) while it is going."""
    end = run.finished_at or (now if run.status == "running" and now is not None else None) or run.heartbeat_at
    return max(dt.timedelta(0), (end or run.started_at) - run.started_at)


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def records(archive: Archive, run_id: str, ids: Iterable[int]) -> dict[int, ProgramRecord]:
    """Full records (with code, without per-stage detail) of the given program ids of a run."""
    wanted = sorted(set(ids))
    out: dict[int, ProgramRecord] = {}
    with archive.session() as s:
        for chunk in _chunks(wanted, 500):
            rows = s.scalars(select(ProgramRow).where(ProgramRow.run_id == run_id, ProgramRow.id.in_(chunk)))
            out.update({int(r.id): _program(r) for r in rows})
    return out
