"""The archive: every run, program, evaluation, LLM call and event, in one SQL database."""

from __future__ import annotations

from evolve.archive.records import ProgramRecord, RunRecord, StageRecord
from evolve.archive.store import Archive, resolve_run

__all__ = ["Archive", "ProgramRecord", "RunRecord", "StageRecord", "resolve_run"]
