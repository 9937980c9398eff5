"""Frozen views of archive rows: what crosses the archive's boundary (never ORM objects)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StageRecord:
    """One stored evaluation of one split."""

    split: str
    status: str
    metrics: dict[str, Any]
    error: str | None
    failed_instance: str | None
    seconds: float
    stdout: str | None = None
    stderr: str | None = None
    feedback: str | None = None


@dataclass(frozen=True)
class ProgramRecord:
    """One stored program and its outcome."""

    id: int
    run_id: str
    job_id: str
    role: str
    name: str | None
    parent_id: int | None
    inspiration_ids: tuple[int, ...]
    island: int
    cell: str | None
    generation: int
    code: str
    code_hash: str
    edit: str | None
    edit_kind: str | None
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    status: str
    score: float | None
    metrics: dict[str, Any]
    holdout: dict[str, Any] | None
    features: dict[str, Any]
    error: str | None
    stage: str | None
    eval_seconds: float
    eval_index: int | None
    created_at: dt.datetime
    stages: tuple[StageRecord, ...] = field(default=())


@dataclass(frozen=True)
class RunRecord:
    """One stored run."""

    id: str
    problem: str
    status: str
    stop_reason: str | None
    config: dict[str, Any]
    seed: int
    run_dir: str | None
    meta: dict[str, Any]
    evaluations: int
    best_program_id: int | None
    best_score: float | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    rng_state: dict[str, Any] | None = None
    search_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class LLMCallRecord:
    """One stored LLM call."""

    id: int
    run_id: str
    program_id: int | None
    model: str
    kind: str | None
    prompt: str | None
    response: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    status: str
    error: str | None
    created_at: dt.datetime
    finish_reason: str | None = None
    retries: int = 0
    retry_statuses: list[Any] | None = None
    request_id: str | None = None
    reasoning: str | None = None
