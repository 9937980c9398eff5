"""What a mutator sees of an archived program."""

from __future__ import annotations

from evolve.archive import Archive
from evolve.evaluation import StageResult
from evolve.mutators.base import ProgramView, StageView


def test_a_view_from_an_archive_record_carries_the_per_split_feedback(archive: Archive) -> None:
    pid = archive.add_program("r", "job", code="x = 1\n", code_hash="h", status="pending")
    archive.complete_program(pid, status="invalid", score=None, metrics={}, error="not a permutation",
                             stages=[StageResult("quick", "invalid", error="index 3 twice", failed_instance="q07",
                                                 seconds=0.25)])
    view = ProgramView.from_record(archive.program(pid))
    assert (view.id, view.code, view.score, view.status, view.error) == (pid, "x = 1\n", None, "invalid",
                                                                          "not a permutation")
    assert view.stages == (StageView("quick", "invalid", "index 3 twice", "q07", 0.25),)
