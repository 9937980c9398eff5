"""Everything a report shows, gathered from the archive in one pass (read-only) into frozen records."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from evolve.archive import Archive, ProgramRecord, RunRecord
from evolve.archive import queries as q
from evolve.problem import RESULT_SPLITS
from evolve.report.text import code_diff, metric_columns

LINEAGE_LEAVES = 5
LINEAGE_MAX_NODES = 150


@dataclass(frozen=True)
class ComparisonRow:
    """One line of the headline table: the best program, the seed, a baseline, or the reference limit."""

    label: str
    kind: str  # best | seed | baseline | limit
    program_id: int | None
    splits: dict[str, dict[str, Any]]  # split -> metrics ({} when not scored; {"status", "error"} on failure)
    note: str | None = None


@dataclass(frozen=True)
class ProgramCard:
    """A program as the report shows it (the inspector, the ranked table)."""

    id: int
    role: str
    name: str | None
    status: str
    score: float | None
    holdout: dict[str, Any] | None
    metrics: dict[str, Any]
    island: int
    cell: str | None
    generation: int
    eval_index: int | None
    parent_id: int | None
    parent_score: float | None
    edit_kind: str | None
    edit: str | None
    model: str | None
    error: str | None
    code: str
    diff: str  # against the parent ('' for the seed or identical code)

    @property
    def holdout_score(self) -> float | None:
        v = (self.holdout or {}).get("score")
        return float(v) if isinstance(v, (int, float)) else None

    @property
    def delta(self) -> float | None:
        if self.score is None or self.parent_score is None:
            return None
        return self.score - self.parent_score


@dataclass(frozen=True)
class ReportData:
    run: RunRecord
    generated_at: dt.datetime
    duration: dt.timedelta
    totals: q.RunTotals
    metric_cols: tuple[str, ...]
    comparison: tuple[ComparisonRow, ...]
    best: ProgramCard | None
    seed: ProgramCard | None
    best_vs_seed: str
    top: tuple[ProgramCard, ...]
    alike: dict[int, tuple[int, ...]]  # a top program -> the lower-ranked programs with the same metrics
    programs: dict[int, ProgramCard]  # everything the inspector can show
    lineage: dict[int, q.ProgramBrief]
    best_path: tuple[int, ...]
    points: tuple[q.EvalPoint, ...]
    cells: tuple[q.CellStat, ...]
    feature_dims: tuple[str, ...]
    feature_bins: int
    failures: q.FailureTimeline
    reasons: tuple[q.FailureReason, ...]
    models: tuple[q.ModelStats, ...]
    reference: dict[str, float | None]
    metric_notes: dict[str, str]
    empty_reason: str | None
    notes: tuple[str, ...] = field(default=())
    #: the baselines that score better than the best program, per split (label, score), best first
    ahead: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    #: the run's successive best programs that were also scored on hold-out: (evaluation, id, hold-out score)
    holdout_steps: tuple[tuple[int, int, float], ...] = ()

    @property
    def islands(self) -> int:
        return int((self.run.config.get("search") or {}).get("islands") or 1)


def collect(archive: Archive, run: RunRecord, top_n: int = 20,
            now: dt.datetime | None = None) -> ReportData:
    """Read what the report needs; code is loaded only for the programs the report shows."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rid = run.id
    totals = q.run_totals(archive, rid)
    groups = q.top_behaviours(archive, rid, top_n)
    top = [g.program for g in groups]
    seed_pid = q.seed_id(archive, rid)
    baselines = archive.programs(rid, roles=("baseline",))
    leaves = [p.id for p in top[:LINEAGE_LEAVES]]
    lineage = q.lineage_tree(archive, rid, leaves, LINEAGE_MAX_NODES) if leaves else {}
    best_path = tuple(b.id for b in q.lineage(archive, rid, top[0].id)) if top else ()
    cells = tuple(q.cell_grid(archive, rid))
    shown = set(lineage) | {p.id for p in top} | {c.best_id for c in cells}
    if seed_pid is not None:
        shown.add(seed_pid)
    recs = q.records(archive, rid, shown)
    parents = {r.parent_id for r in recs.values() if r.parent_id is not None} - set(recs)
    recs.update(q.records(archive, rid, parents))
    cards = {pid: _card(recs[pid], recs) for pid in shown if pid in recs}

    best = cards.get(top[0].id) if top else None
    seed = cards.get(seed_pid) if seed_pid is not None else None
    comparison = _comparison(best, seed, baselines, run.meta.get("reference_score") or {})
    prefer = [m for m in run.meta.get("summary_metrics", []) if m != "score"]
    prefer += list((run.meta.get("metric_notes") or {}).keys())
    rows = [r.splits.get("train", {}) for r in comparison if r.kind != "limit"]
    metric_cols = tuple(metric_columns(rows, prefer, limit=3))
    search = run.config.get("search") or {}
    points = tuple(q.evaluation_points(archive, rid))
    seed_score = _float(seed.score) if seed is not None else None
    start = q.BestStep(0, seed_score, seed.id) if seed is not None and seed_score is not None else None
    steps = q.best_so_far(points, start)
    held = q.holdouts(archive, rid, [s.program_id for s in steps])
    holdout_steps = tuple((s.eval_index, s.program_id, float(held[s.program_id]["score"])) for s in steps
                          if _float((held.get(s.program_id) or {}).get("score")) is not None)
    return ReportData(
        run=run, generated_at=now, duration=q.run_duration(run, now), totals=totals, metric_cols=metric_cols,
        comparison=tuple(comparison), best=best, seed=seed,
        best_vs_seed=code_diff(seed.code, best.code, f"seed #{seed.id}", f"best #{best.id}")
        if best is not None and seed is not None and best.id != seed.id else "",
        top=tuple(cards[p.id] for p in top if p.id in cards), alike={g.program.id: g.alike for g in groups},
        programs=cards, lineage=lineage,
        best_path=best_path, points=points, cells=cells,
        feature_dims=tuple(search.get("feature_dims") or ("feature 1", "feature 2")),
        feature_bins=int(search.get("feature_bins") or 0) or _bins_from(cells),
        failures=q.failure_timeline(archive, rid), reasons=tuple(q.failure_reasons(archive, rid)),
        models=tuple(q.model_stats(archive, rid)),
        reference={s: _float(v) for s, v in (run.meta.get("reference_score") or {}).items()},
        metric_notes=dict(run.meta.get("metric_notes") or {}),
        empty_reason=_empty_reason(run, totals, seed, top), notes=tuple(_notes(run, totals, now)),
        ahead=_ahead(comparison), holdout_steps=holdout_steps)


def _card(r: ProgramRecord, recs: dict[int, ProgramRecord]) -> ProgramCard:
    parent = recs.get(r.parent_id) if r.parent_id is not None else None
    diff = code_diff(parent.code, r.code, f"#{parent.id}", f"#{r.id}") if parent is not None else ""
    return ProgramCard(id=r.id, role=r.role, name=r.name, status=r.status, score=r.score, holdout=r.holdout,
                       metrics=dict(r.metrics), island=r.island, cell=r.cell, generation=r.generation,
                       eval_index=r.eval_index, parent_id=r.parent_id,
                       parent_score=parent.score if parent is not None else None, edit_kind=r.edit_kind,
                       edit=r.edit, model=r.model, error=r.error, code=r.code, diff=diff)


def _comparison(best: ProgramCard | None, seed: ProgramCard | None, baselines: list[ProgramRecord],
                reference: dict[str, Any]) -> list[ComparisonRow]:
    rows: list[ComparisonRow] = []
    if best is not None:
        rows.append(ComparisonRow(f"best #{best.id}", "best", best.id, _splits(best.metrics, best.holdout)))
    if seed is not None:
        note = None if seed.status == "ok" else f"{seed.status}: {seed.error or ''}".strip(": ")
        rows.append(ComparisonRow(f"seed #{seed.id}", "seed", seed.id, _splits(seed.metrics, seed.holdout), note))
    for b in sorted(baselines, key=lambda b: b.name or ""):
        note = None if b.status == "ok" else f"{b.status}: {b.error or ''}".strip(": ")
        rows.append(ComparisonRow(f"baseline {b.name or b.id}", "baseline", b.id,
                                  _splits(b.metrics if b.status == "ok" else {}, b.holdout), note))
    limit = {s: {"score": float(v)} for s, v in reference.items() if s in RESULT_SPLITS and _float(v) is not None}
    if limit:
        rows.append(ComparisonRow("reference limit", "limit", None, limit))
    return rows


def _ahead(comparison: list[ComparisonRow]) -> dict[str, tuple[tuple[str, float], ...]]:
    """Per split, the baselines whose score beats the best program's, best first (nothing when none does)."""
    best = next((r for r in comparison if r.kind == "best"), None)
    out: dict[str, tuple[tuple[str, float], ...]] = {}
    if best is None:
        return out
    for split in RESULT_SPLITS:
        mine = _float((best.splits.get(split) or {}).get("score"))
        if mine is None:
            continue
        better = [(r.label.removeprefix("baseline "), float(s)) for r in comparison if r.kind == "baseline"
                  for s in [_float((r.splits.get(split) or {}).get("score"))] if s is not None and s > mine]
        if better:
            out[split] = tuple(sorted(better, key=lambda b: -b[1]))
    return out


def _splits(train: dict[str, Any], holdout: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if train:
        out["train"] = dict(train)
    if holdout:
        out["holdout"] = dict(holdout)
    return out


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _bins_from(cells: tuple[q.CellStat, ...]) -> int:
    return 1 + max((c for cell in cells for c in cell.coords), default=0)


def _empty_reason(run: RunRecord, totals: q.RunTotals, seed: ProgramCard | None,
                  top: list[ProgramRecord]) -> str | None:
    """Why there is no successful program, in one or two sentences (None when there is one)."""
    if top:
        return None
    if seed is None:
        return ("No program has been stored yet: the run has not evaluated its seed"
                + (" (it is still starting)." if run.status == "running" else "."))
    if seed.status != "ok":
        return (f"The seed program failed ({seed.status}), so evolution never started: "
                f"{(seed.error or 'no message').strip().splitlines()[-1]}. Fix the problem's initial.py "
                "(`evolve eval` shows the details).")
    failed = ", ".join(f"{k} {v}" for k, v in sorted(totals.statuses.items()) if k != "ok")
    return (f"No program was valid: {totals.proposals} proposals, none scored ({failed or 'none evaluated'}). "
            "The failure breakdown below shows why.")


def _notes(run: RunRecord, totals: q.RunTotals, now: dt.datetime) -> list[str]:
    notes = []
    if run.status == "running":
        notes.append(f"This run is still going: this is a snapshot after {run.evaluations} evaluations; "
                     "hold-out scores and baselines are added when it ends.")
    elif run.status in ("interrupted", "failed"):
        notes.append(f"This run {run.status} after {run.evaluations} evaluations"
                     + (" (resume it with `evolve run resume=RUN_DIR`)." if run.status == "interrupted" else "."))
    if totals.pending:
        notes.append(f"{totals.pending} proposal(s) were still waiting for evaluation.")
    return notes
