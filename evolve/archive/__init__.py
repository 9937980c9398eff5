"""The archive: every run, program, evaluation, LLM call and event, behind one storage interface."""

from __future__ import annotations

from evolve.archive.base import Storage
from evolve.archive.records import LLMCallRecord, ProgramRecord, RunRecord, StageRecord
from evolve.archive.store import Archive

__all__ = ["Archive", "LLMCallRecord", "ProgramRecord", "RunRecord", "StageRecord", "Storage"]
