"""One status vocabulary: the sandbox's verdicts, the archive's groups and the views all name its members."""

from __future__ import annotations

from evaluators.status import FAILURES, OPEN, RUN_FAILURES, VERDICTS, Status
from evolve.archive import queries as q
from evolve.browse import STATUS_CHOICES
from evolve.report.charts import STATUS_COLORS


def test_every_status_is_exactly_one_of_ok_a_failure_or_open() -> None:
    groups = [(Status.OK,), FAILURES, OPEN]
    assert sorted(s for g in groups for s in g) == sorted(Status)
    assert set(RUN_FAILURES) == set(VERDICTS) - {Status.OK}


def test_the_archive_queries_group_the_stored_text_of_the_same_statuses() -> None:
    assert q.FAILURE_STATUSES == tuple(s.value for s in FAILURES)
    assert all(type(s) is str for s in (*q.FAILURE_STATUSES, *q.OPEN_STATUSES))
    assert set(q.OPEN_STATUSES) == {"pending", "running"}


def test_browse_offers_every_finished_status_and_the_report_colours_every_failure() -> None:
    assert set(STATUS_CHOICES) == {"all", Status.OK, Status.PENDING, *FAILURES}
    assert set(STATUS_COLORS) == set(FAILURES)
