"""The one vocabulary of a program's status, from proposal to verdict.

A sandbox run ends with one of VERDICTS (the problem's validator may still turn `ok` into `invalid`); the
loop adds the statuses of proposals that never reached the sandbox and of programs not yet evaluated. The
archive stores these values, and the queries, the terminal views and the report read them. The enum lives
here because the sandbox uses it and evaluators/ imports nothing of evolve/.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A program's status as the archive stores it (a `str`, so it compares equal to the stored text)."""

    OK = "ok"
    INVALID = "invalid"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASH = "crash"
    FORBIDDEN = "forbidden"
    PARSE_ERROR = "parse_error"
    LLM_ERROR = "llm_error"
    DUPLICATE = "duplicate"
    PENDING = "pending"
    RUNNING = "running"


#: what a sandbox run can end with
VERDICTS = (Status.OK, Status.INVALID, Status.TIMEOUT, Status.MEMORY, Status.CRASH, Status.FORBIDDEN)
#: the sandbox's verdicts on a program that ran and failed: the ones a fix-up prompt can act on
RUN_FAILURES = tuple(s for s in VERDICTS if s is not Status.OK)
#: statuses that mean "the proposal produced no usable program"
FAILURES = (*RUN_FAILURES, Status.PARSE_ERROR, Status.LLM_ERROR, Status.DUPLICATE)
#: statuses of programs that are not finished yet
OPEN = (Status.PENDING, Status.RUNNING)
