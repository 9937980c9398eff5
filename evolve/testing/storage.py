"""The storage contract as reusable pytest tests: every archive backend passes the same suite.

A backend author subclasses `StorageConformance` and gives it a `storage` fixture that yields a fresh,
empty store (as optuna.testing does for storages)::

    class TestMyStorage(StorageConformance):
        @pytest.fixture
        def storage(self, tmp_path):
            store = MyStorage(tmp_path / "db")
            yield store
            store.close()

        def reopen(self, storage):        # optional: the same store opened again (persistence tests)
            return MyStorage(...)

tests/evolve/archive/test_conformance.py runs it against SQLite (a file and in memory) and PostgreSQL.
Needs pytest (the `test` extra).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from evolve.archive.base import Storage
from evolve.errors import ArchiveError
from evolve.evaluation import StageResult

RUN = "run-1"


def _stage(split: str, score: float, seconds: float = 0.5, **extra: Any) -> StageResult:
    return StageResult(split, "ok", {"score": score}, seconds=seconds, **extra)


class StorageConformance:
    """Contract tests for an implementation of evolve.archive.Storage (see the module docstring)."""

    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        raise NotImplementedError("define a `storage` fixture that yields a fresh, empty store")

    def reopen(self, storage: Storage) -> Storage | None:
        """The same store opened again after `storage.close()`; None when the backend keeps nothing."""
        return None

    @pytest.fixture
    def run(self, storage: Storage) -> Storage:
        """The store with one run, RUN."""
        storage.create_run(RUN, "smtt", {"search": {"iterations": 3}}, 7, "/tmp/run-1", meta={"k": [1, 2]})
        return storage

    # -- runs -------------------------------------------------------------------------------------------
    def test_a_new_run_is_running_with_its_config_and_no_evaluations(self, storage: Storage) -> None:
        made = storage.create_run(RUN, "smtt", {"search": {"iterations": 3}}, 7, "/tmp/run-1", meta={"k": [1, 2]})
        got = storage.get_run(RUN)
        assert made == got
        assert (got.id, got.problem, got.status, got.seed, got.run_dir) == (RUN, "smtt", "running", 7, "/tmp/run-1")
        assert got.config == {"search": {"iterations": 3}} and got.meta == {"k": [1, 2]}
        assert got.evaluations == 0 and got.best_program_id is None and got.finished_at is None
        assert isinstance(got.started_at, dt.datetime)

    def test_without_a_run_id_the_newest_run_is_meant(self, storage: Storage) -> None:
        for rid in ("a", "b", "c"):
            storage.create_run(rid, "smtt", {}, 0, None)
        assert storage.get_run().id == "c"
        assert [r.id for r in storage.list_runs()] == ["a", "b", "c"]

    def test_an_unknown_run_is_an_archive_error(self, storage: Storage) -> None:
        assert storage.shown, "set `shown`: how messages name the store (without a password)"
        with pytest.raises(ArchiveError, match="holds no run"):
            storage.get_run()
        storage.create_run(RUN, "smtt", {}, 0, None)
        with pytest.raises(ArchiveError, match="nope"):
            storage.get_run("nope")

    def test_update_run_changes_only_the_fields_it_names(self, run: Storage) -> None:
        done = dt.datetime(2026, 1, 2, 3, 4, 5)
        run.update_run(RUN, status="finished", stop_reason="iterations", finished_at=done, evaluations=5,
                       rng_state={"seed": 7, "proposed": 9}, search_state={"islands": [[1]]})
        got = run.get_run(RUN)
        assert (got.status, got.stop_reason, got.finished_at, got.evaluations) == ("finished", "iterations", done, 5)
        assert got.rng_state == {"seed": 7, "proposed": 9} and got.search_state == {"islands": [[1]]}
        assert got.config == {"search": {"iterations": 3}} and got.problem == "smtt"

    def test_update_run_refuses_an_unknown_field(self, run: Storage) -> None:
        with pytest.raises(ValueError, match="problem"):
            run.update_run(RUN, problem="other")

    # -- programs ---------------------------------------------------------------------------------------
    def test_a_new_program_has_the_defaults_and_growing_ids(self, run: Storage) -> None:
        a = run.add_program(RUN, "j1", code="print(1)", code_hash="h1")
        b = run.add_program(RUN, "j2", role="seed", code="print(2)", code_hash="h2", island=1, generation=3,
                            parent_id=a, inspiration_ids=[a], model="m", edit="e", edit_kind="diff",
                            prompt_tokens=10, completion_tokens=5, cost_usd=0.25)
        assert b > a
        p = run.program(a)
        assert (p.run_id, p.job_id, p.role, p.status, p.score, p.island, p.generation) == \
            (RUN, "j1", "candidate", "pending", None, 0, 0)
        assert (p.code, p.metrics, p.features, p.inspiration_ids, p.stages, p.eval_index) == \
            ("print(1)", {}, {}, (), (), None)
        q = run.program(b, RUN)
        assert (q.role, q.island, q.generation, q.parent_id, q.inspiration_ids, q.model) == \
            ("seed", 1, 3, a, (a,), "m")
        assert (q.prompt_tokens, q.completion_tokens, q.cost_usd, q.edit, q.edit_kind) == (10, 5, 0.25, "e", "diff")

    def test_adding_a_job_again_returns_its_first_id_and_changes_nothing(self, run: Storage) -> None:
        first = run.add_program(RUN, "job", code="a", code_hash="ha")
        assert run.add_program(RUN, "job", code="b", code_hash="hb") == first
        assert [p.code for p in run.programs(RUN)] == ["a"]

    def test_job_ids_are_per_run(self, run: Storage) -> None:
        run.create_run("run-2", "smtt", {}, 0, None)
        assert run.add_program(RUN, "job", code="a") != run.add_program("run-2", "job", code="a")

    def test_add_program_refuses_an_unknown_field(self, run: Storage) -> None:
        with pytest.raises(ValueError, match="colour"):
            run.add_program(RUN, "j", code="x", colour="red")

    def test_a_completed_program_keeps_its_outcome_and_stages(self, run: Storage) -> None:
        pid = run.add_program(RUN, "j", code="x", code_hash="h")
        stages = [_stage("quick", -3.0, 0.25), _stage("train", -2.0, 0.5, stdout="out", stderr="err", feedback="fb")]
        run.complete_program(pid, status="ok", score=-2.0, metrics={"score": -2.0, "gap_pct": 2.0}, stages=stages,
                             error=None, features={"len": 3.0}, cell="1,2", eval_index=1, run_evaluations=1)
        p = run.program(pid)
        assert (p.status, p.score, p.stage, p.eval_index, p.cell) == ("ok", -2.0, "train", 1, "1,2")
        assert p.metrics == {"score": -2.0, "gap_pct": 2.0} and p.features == {"len": 3.0}
        assert p.eval_seconds == pytest.approx(0.75)
        assert [(s.split, s.status, s.metrics, s.seconds) for s in p.stages] == \
            [("quick", "ok", {"score": -3.0}, 0.25), ("train", "ok", {"score": -2.0}, 0.5)]
        assert (p.stages[1].stdout, p.stages[1].stderr, p.stages[1].feedback) == ("out", "err", "fb")
        assert run.get_run(RUN).evaluations == 1

    def test_a_failure_keeps_its_reason(self, run: Storage) -> None:
        pid = run.add_program(RUN, "j", code="x")
        failed = StageResult("quick", "timeout", {}, error="took 9 s", seconds=9.0, failed_instance="inst-3")
        run.complete_program(pid, status="timeout", score=None, metrics={}, stages=[failed], error="took 9 s",
                             run_id=RUN)
        p = run.program(pid)
        assert (p.status, p.score, p.error, p.stages[0].failed_instance) == ("timeout", None, "took 9 s", "inst-3")

    def test_the_evaluation_counter_never_moves_back(self, run: Storage) -> None:
        a, b = run.add_program(RUN, "a", code="a"), run.add_program(RUN, "b", code="b")
        run.complete_program(b, status="ok", score=1.0, metrics={}, stages=[], error=None, run_evaluations=5)
        run.complete_program(a, status="ok", score=1.0, metrics={}, stages=[], error=None, run_evaluations=4)
        assert run.get_run(RUN).evaluations == 5

    def test_completing_an_unknown_program_is_an_archive_error(self, run: Storage) -> None:
        with pytest.raises(ArchiveError, match="999"):
            run.complete_program(999, status="ok", score=1.0, metrics={}, stages=[], error=None)
        with pytest.raises(ArchiveError, match="999"):
            run.complete_program(999, status="ok", score=1.0, metrics={}, stages=[], error=None, run_id=RUN)

    def test_an_unknown_program_or_one_of_another_run_is_an_archive_error(self, run: Storage) -> None:
        run.create_run("run-2", "smtt", {}, 0, None)
        pid = run.add_program("run-2", "j", code="x")
        with pytest.raises(ArchiveError, match=str(pid + 1000)):
            run.program(pid + 1000)
        with pytest.raises(ArchiveError, match=str(pid)):
            run.program(pid, RUN)
        assert run.program(pid, "run-2").id == pid

    def test_hold_out_metrics_and_stage_are_kept(self, run: Storage) -> None:
        pid = run.add_program(RUN, "j", code="x")
        run.complete_program(pid, status="ok", score=1.0, metrics={"score": 1.0}, stages=[_stage("train", 1.0)],
                             error=None)
        run.set_holdout(pid, {"score": 0.5}, _stage("holdout", 0.5))
        p = run.program(pid)
        assert p.holdout == {"score": 0.5} and p.score == 1.0
        assert [s.split for s in p.stages] == ["train", "holdout"]
        with pytest.raises(ArchiveError, match="999"):
            run.set_holdout(999, {"score": 0.0})

    def test_programs_filter_by_status_and_role_in_insertion_order(self, run: Storage) -> None:
        seed = run.add_program(RUN, "s", role="seed", code="s", edit=None)
        ok = run.add_program(RUN, "a", code="a", edit="diff a")
        bad = run.add_program(RUN, "b", code="b")
        base = run.add_program(RUN, "c", role="baseline", name="EDD", code="c")
        run.complete_program(ok, status="ok", score=1.0, metrics={}, stages=[_stage("train", 1.0)], error=None)
        run.complete_program(bad, status="crash", score=None, metrics={}, stages=[], error="boom")
        assert [p.id for p in run.programs(RUN)] == [seed, ok, bad, base]
        assert [p.id for p in run.programs(RUN, statuses=("ok", "crash"))] == [ok, bad]
        assert [p.id for p in run.programs(RUN, roles=("baseline",))] == [base]
        assert run.programs(RUN, roles=("baseline",))[0].name == "EDD"
        brief = {p.id: p for p in run.programs(RUN, with_code=False)}
        assert (brief[ok].code, brief[ok].edit, brief[ok].status) == ("", None, "ok")
        assert run.programs(RUN)[1].code == "a" and run.programs(RUN)[1].stages == ()
        assert run.programs("no-such-run") == []

    def test_top_ranks_best_first_ties_earliest_and_skips_what_it_is_told(self, run: Storage) -> None:
        outcomes = [("ok", -5.0, 0), ("crash", None, 0), ("ok", -1.0, 1), ("ok", -3.0, 0), ("ok", -1.0, 0)]
        ids = []
        for i, (status, score, island) in enumerate(outcomes):
            pid = run.add_program(RUN, f"j{i}", code=str(i), island=island)
            run.complete_program(pid, status=status, score=score, metrics={}, stages=[], error=None)
            ids.append(pid)
        base = run.add_program(RUN, "b", role="baseline", code="b")
        run.complete_program(base, status="ok", score=100.0, metrics={}, stages=[], error=None)
        assert [p.id for p in run.top(RUN, n=10)] == [ids[2], ids[4], ids[3], ids[0]]
        assert [p.id for p in run.top(RUN, n=2)] == [ids[2], ids[4]]
        assert [p.id for p in run.top(RUN, n=10, island=1)] == [ids[2]]
        assert [p.id for p in run.top(RUN, n=10, status=None)][-1] == ids[1]  # unscored last
        assert [p.id for p in run.top(RUN, n=1, roles=("baseline",))] == [base]

    def test_status_counts_count_candidates_only(self, run: Storage) -> None:
        run.add_program(RUN, "s", role="seed", code="s")
        for i, status in enumerate(["ok", "ok", "crash"]):
            pid = run.add_program(RUN, f"j{i}", code=str(i))
            run.complete_program(pid, status=status, score=None, metrics={}, stages=[], error=None)
        run.add_program(RUN, "p", code="p")
        assert run.status_counts(RUN) == {"ok": 2, "crash": 1, "pending": 1}

    def test_code_and_metrics_round_trip_exactly(self, run: Storage) -> None:
        code = "def f(x):\n    return 'é\\t%s' % x  # ✓ ? % _ '\n"
        metrics = {"score": -1.5, "gap_pct": 0.125, "per_instance": [1, 2.5, None], "nested": {"a": "b"}}
        pid = run.add_program(RUN, "j", code=code, code_hash="h" * 64)
        run.complete_program(pid, status="ok", score=-1.5, metrics=metrics, stages=[], error=None)
        p = run.program(pid)
        assert p.code == code and p.metrics == metrics and p.code_hash == "h" * 64

    # -- LLM calls and events ---------------------------------------------------------------------------
    def test_llm_calls_are_stored_linked_and_summed(self, run: Storage) -> None:
        pid = run.add_program(RUN, "j", code="x")
        run.add_llm_calls(RUN, [
            {"model": "m1", "status": "ok", "prompt": "p", "response": "r", "prompt_tokens": 10,
             "completion_tokens": 5, "cost_usd": 0.5, "retries": 1, "retry_statuses": [429]},
            {"model": "m1", "status": "error", "error": "500", "prompt_tokens": 3, "cost_usd": 0.25}], program_id=pid)
        run.add_llm_calls(RUN, [])
        run.add_llm_calls(RUN, [{"model": "m2", "status": "ok", "response": "r2", "prompt_tokens": 1,
                                 "completion_tokens": 1}], program_id=pid)
        calls = run.llm_calls(RUN)
        assert [(c.model, c.status, c.program_id) for c in calls] == [("m1", "ok", pid), ("m1", "error", pid),
                                                                      ("m2", "ok", pid)]
        assert calls[0].id < calls[1].id < calls[2].id and (calls[0].retries, calls[0].retry_statuses) == (1, [429])
        assert (calls[0].prompt, calls[0].response, calls[1].error) == ("p", "r", "500")
        assert run.llm_spent(RUN) == (pytest.approx(0.75), 20, 2)
        assert run.llm_spent("no-such-run") == (0.0, 0, 0)

    def test_an_llm_call_needs_a_model_and_a_status(self, run: Storage) -> None:
        with pytest.raises(ValueError, match="model"):
            run.add_llm_calls(RUN, [{"status": "ok"}])
        with pytest.raises(ValueError, match="colour"):
            run.add_llm_calls(RUN, [{"model": "m", "status": "ok", "colour": "red"}])

    def test_events_are_kept_in_order_and_filtered_by_kind(self, run: Storage) -> None:
        run.add_event(RUN, "resume", "resumed", {"evaluations": 3})
        run.add_event(RUN, "stop", "iterations")
        run.add_event(RUN, "resume", "again")
        events = run.events(RUN)
        assert [(e["kind"], e["message"], e["data"]) for e in events] == \
            [("resume", "resumed", {"evaluations": 3}), ("stop", "iterations", {}), ("resume", "again", {})]
        assert [e["message"] for e in run.events(RUN, "resume")] == ["resumed", "again"]
        assert isinstance(events[0]["created_at"], dt.datetime)

    # -- batches and persistence ------------------------------------------------------------------------
    def test_a_batch_keeps_its_writes_and_reads_them_before_it_ends(self, run: Storage) -> None:
        with run.batch():
            pid = run.add_program(RUN, "j", code="x")
            run.complete_program(pid, status="ok", score=2.0, metrics={}, stages=[_stage("train", 2.0)],
                                 error=None, eval_index=1, run_evaluations=1, run_id=RUN)
            run.add_llm_calls(RUN, [{"model": "m", "status": "ok"}], program_id=pid)
            run.add_event(RUN, "note")
            with run.batch():  # a nested block joins the outer one
                run.update_run(RUN, best_program_id=pid, best_score=2.0)
            assert run.program(pid).score == 2.0
        assert run.get_run(RUN).best_program_id == pid and run.get_run(RUN).evaluations == 1
        assert len(run.llm_calls(RUN)) == 1 and len(run.events(RUN)) == 1

    def test_a_batch_that_fails_leaves_nothing_behind(self, run: Storage) -> None:
        kept = run.add_program(RUN, "kept", code="k")
        with pytest.raises(RuntimeError, match="mid-batch"):
            with run.batch():
                pid = run.add_program(RUN, "j", code="x")
                run.complete_program(pid, status="ok", score=1.0, metrics={}, stages=[_stage("train", 1.0)],
                                     error=None, run_evaluations=1)
                run.add_llm_calls(RUN, [{"model": "m", "status": "ok"}])
                run.add_event(RUN, "note")
                run.update_run(RUN, best_program_id=pid)
                raise RuntimeError("mid-batch")
        assert [p.id for p in run.programs(RUN)] == [kept]
        got = run.get_run(RUN)
        assert (got.evaluations, got.best_program_id) == (0, None)
        assert run.llm_calls(RUN) == [] and run.events(RUN) == []

    def test_a_reopened_store_keeps_everything(self, run: Storage) -> None:
        pid = run.add_program(RUN, "j", code="x")
        run.complete_program(pid, status="ok", score=1.0, metrics={"score": 1.0}, stages=[_stage("train", 1.0)],
                             error=None, run_evaluations=1)
        run.add_llm_calls(RUN, [{"model": "m", "status": "ok"}], program_id=pid)
        before = (run.get_run(RUN), run.program(pid), run.llm_calls(RUN))
        run.close()
        again = self.reopen(run)
        if again is None:
            pytest.skip("this backend keeps nothing once closed")
        try:
            assert (again.get_run(RUN), again.program(pid), again.llm_calls(RUN)) == before
        finally:
            again.close()
