"""The storage interface: what the loop, the mutator, the runner, the summary and the report ask of an archive.

`Archive` (evolve/archive/store.py) implements it on SQLAlchemy, which serves every SQL database by URL
(a SQLite file, an in-memory SQLite database, PostgreSQL). A backend is a subclass that implements every
abstract method and passes the conformance suite in `evolve.testing.storage` (docs/extending.md).
Records cross this boundary as the frozen dataclasses of evolve/archive/records.py, never as rows.

The lease (evolve/archive/lease.py), the schema commands (evolve/archive/admin.py) and the read-only views
of the terminal and the report (evolve/archive/queries.py) speak SQL to an `Archive` directly: they answer
questions this interface need not know, over many rows, without loading them.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from evolve.archive.records import LLMCallRecord, ProgramRecord, RunRecord

#: the run fields `update_run` may change
RUN_FIELDS = frozenset({"status", "stop_reason", "evaluations", "best_program_id", "best_score", "rng_state",
                        "search_state", "meta", "finished_at", "heartbeat_at", "run_dir", "config"})


class Storage(abc.ABC):
    """Runs, their programs and outcomes, LLM calls and events. One process writes a run; any may read.

    Errors of the store surface as `evolve.errors.ArchiveError` naming what is missing or broken; a
    caller's mistake in field names is a ValueError.
    """

    #: how messages name this store (no password)
    shown: str = ""

    # -- lifetime and transactions ----------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store is not used afterwards."""

    @abc.abstractmethod
    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Group every write inside the block into one unit: all of them are kept, or none (an exception
        leaves the store as before the block). Blocks nest (an inner block joins the outer one)."""

    def check_integrity(self) -> None:
        """Refuse a damaged store before writing to it (ArchiveError saying what to do)."""

    # -- runs -------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(self, run_id: str, problem: str, config: dict[str, Any], seed: int, run_dir: str | None,
                   meta: dict[str, Any] | None = None) -> RunRecord:
        """A new run in status "running" with 0 evaluations; a second run of the same id is an error."""

    @abc.abstractmethod
    def get_run(self, run_id: str | None = None) -> RunRecord:
        """The run `run_id`, or the newest run when None; ArchiveError when there is none."""

    @abc.abstractmethod
    def list_runs(self) -> list[RunRecord]:
        """Every run, oldest first."""

    @abc.abstractmethod
    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set fields of a run (any of RUN_FIELDS; another name is a ValueError)."""

    # -- programs ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def add_program(self, run_id: str, job_id: str, **fields: Any) -> int:
        """Store a new program (status "pending" unless given) and return its id, which grows with every
        insert. Idempotent on (run_id, job_id): a retried job returns the first id and changes nothing.
        Fields are the ProgramRecord's, without id, run_id, job_id, created_at and stages."""

    @abc.abstractmethod
    def complete_program(self, program_id: int, *, status: str, score: float | None,
                         metrics: dict[str, Any], stages: Sequence[Any], error: str | None,
                         features: dict[str, Any] | None = None, cell: str | None = None,
                         eval_index: int | None = None, run_evaluations: int | None = None,
                         run_id: str | None = None) -> None:
        """Store a program's outcome and its stages (evolve.evaluation.StageResult; the program's `stage` is the last one's split, `eval_seconds`
        their sum). `run_evaluations` raises the run's evaluation counter to that value, never lowers it.
        `run_id`, when the caller knows it, saves looking it up. An unknown id is an ArchiveError."""

    @abc.abstractmethod
    def set_holdout(self, program_id: int, metrics: dict[str, Any], stage: Any | None = None) -> None:
        """Store a program's hold-out metrics (and the hold-out StageResult, when given)."""

    @abc.abstractmethod
    def program(self, program_id: int, run_id: str | None = None) -> ProgramRecord:
        """One program with its code and stages; ArchiveError when it does not exist (in `run_id`)."""

    @abc.abstractmethod
    def programs(self, run_id: str, *, statuses: Sequence[str] | None = None,
                 roles: Sequence[str] | None = None, with_code: bool = True) -> list[ProgramRecord]:
        """Programs of a run in insertion order, without stages; code and edit empty unless `with_code`."""

    @abc.abstractmethod
    def top(self, run_id: str, n: int = 10, *, island: int | None = None, status: str | None = "ok",
            roles: Sequence[str] = ("seed", "candidate")) -> list[ProgramRecord]:
        """The `n` best programs of a run by score, best first, unscored last, ties earliest first."""

    @abc.abstractmethod
    def status_counts(self, run_id: str) -> dict[str, int]:
        """How many candidates (not seeds or baselines) of a run have each status."""

    # -- LLM calls and events ---------------------------------------------------------------------------
    @abc.abstractmethod
    def add_llm_calls(self, run_id: str, calls: Sequence[Mapping[str, Any]], program_id: int | None = None) -> None:
        """Store LLM calls (each needs model and status; the other LLMCallRecord fields are optional),
        linked to `program_id` when given."""

    @abc.abstractmethod
    def llm_calls(self, run_id: str) -> list[LLMCallRecord]:
        """The run's calls in the order they were stored."""

    @abc.abstractmethod
    def llm_spent(self, run_id: str) -> tuple[float, int, int]:
        """What the run's calls spent: USD, tokens (prompt + completion), and how many got a response."""

    @abc.abstractmethod
    def add_event(self, run_id: str, kind: str, message: str = "", data: dict[str, Any] | None = None) -> None:
        """Store a timestamped event of the run (resume, migration, stop, …)."""

    @abc.abstractmethod
    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The run's events (kind, message, data, created_at) in order, of one kind when given."""

