"""The loop, driven in-process with a scripted mutator: every outcome is stored and the run goes on."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from evaluators.dispatch import make_executor
from evolve.archive import Archive
from evolve.archive.store import sqlite_url
from evolve.config import register
from evolve.edit.blocks import replace_blocks
from evolve.loop import Evolution, ViewCache
from evolve.mutators.base import Mutator, ProgramView, Proposal, ProposalRequest
from evolve.plugins import load_problem
from evolve.runner import isolation_from, limits_from
from evolve.worker import ProblemSpec

register()
SEED = load_problem("smtt").initial_program


def body(expr_or_block: str) -> str:
    """The seed with its EVOLVE-BLOCK replaced."""
    if "def priority" not in expr_or_block:
        expr_or_block = f"def priority(p, d, t):\n    return {expr_or_block}\n"
    return replace_blocks(SEED, [expr_or_block])


HOSTILE = {
    "loops_forever": "def priority(p, d, t):\n    while True:\n        pass\n",
    "raises": "def priority(p, d, t):\n    raise ValueError('no')\n",
    "allocates_10gb": "import numpy as np\ndef priority(p, d, t):\n    np.ones(10 * 1024**3 // 8)\n    return d\n",
}


class Scripted(Mutator):
    """A mutator that replays fixed children (then repeats the last), driven as the LLM mutator is."""

    name = "scripted"
    concurrency, fix_rate, history = 4, 0.1, 5

    def __init__(self, codes: list[str | None]) -> None:
        self.codes = codes
        self.i = 0

    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
        code = self.codes[min(self.i, len(self.codes) - 1)]
        self.i += 1
        if code is None:
            return Proposal(None, "", "scripted", self.name, status="parse_error", error="unparseable reply")
        return Proposal(code, f"script step {self.i}", "scripted", self.name)

    def state(self) -> dict[str, Any]:
        return {"i": self.i}

    def load_state(self, state: dict[str, Any]) -> None:
        self.i = int(state.get("i", 0))

    async def aclose(self) -> None:
        return None


def make_evolution(tmp_path: Path, mutator: Any, overrides: list[str]) -> tuple[Evolution, Archive]:
    with initialize_config_module("evolve.conf", version_base="1.3"):
        cfg = compose("config", overrides=["evaluator.name=inline", "evaluator.workers=1", "search.max_seconds=0",
                                           "evaluator.instance_wall_s=1", "evaluator.split_wall_s=3",
                                           "evaluator.memory_mb=1024", *overrides])
    archive = Archive(sqlite_url(tmp_path / "archive.db"))
    archive.create_run("r", "smtt", {}, 0, str(tmp_path))
    problem = load_problem("smtt")
    evo = Evolution(cfg=cfg, problem=problem, spec=ProblemSpec("smtt"), archive=archive, run_id="r",
                    mutator=mutator, executor_factory=lambda: make_executor("inline", 1),
                    workers=1, limits=limits_from(cfg), isolation=isolation_from(cfg), seed=0)
    return evo, archive


@pytest.mark.slow
def test_hostile_and_broken_children_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    codes: list[str | None] = [body(HOSTILE["loops_forever"]), body(HOSTILE["raises"]),
                               body("d + p"), None, body(HOSTILE["allocates_10gb"]),
                               replace_blocks(SEED, ["def priority(p, d, t):\n    return d\n"]).replace(
                                   "return order", "return order[:-1]"),
                               body("max(d, t + p)")]
    evo, archive = make_evolution(tmp_path, Scripted(codes), ["search.iterations=6"])
    try:
        evo.seed_population(SEED)
        reason = asyncio.run(evo.run())
    finally:
        evo.close()
    assert reason == "iterations"
    rows = archive.programs("r", roles=("candidate",))
    statuses = [r.status for r in rows]
    assert sorted(statuses) == sorted(["timeout", "crash", "ok", "parse_error", "memory", "invalid", "ok"])
    by_status = {r.status: r for r in rows}
    assert "ValueError" in (by_status["crash"].error or "")
    assert "unparseable reply" in (by_status["parse_error"].error or "")
    best = archive.top("r", n=1)[0]
    assert "max(d, t + p)" in best.code
    assert archive.get_run("r").evaluations == 6


def test_non_permutation_output_is_invalid_with_the_reason(tmp_path: Path) -> None:
    broken = SEED.replace("    return order\n", "    return order[:-1] + [order[0]]\n")
    evo, archive = make_evolution(tmp_path, Scripted([broken]), ["search.iterations=1"])
    try:
        evo.seed_population(SEED)
        asyncio.run(evo.run())
    finally:
        evo.close()
    (row,) = archive.programs("r", roles=("candidate",))
    assert row.status == "invalid" and "not a permutation" in (row.error or "")
    full = archive.program(row.id)
    assert full.stages[0].failed_instance is not None


def test_duplicates_cost_no_evaluation(tmp_path: Path) -> None:
    same = body("d + 0")
    evo, archive = make_evolution(tmp_path, Scripted([same, same, same, body("d + 1")]), ["search.iterations=2"])
    try:
        evo.seed_population(SEED)
        asyncio.run(evo.run())
    finally:
        evo.close()
    statuses = [r.status for r in archive.programs("r", roles=("candidate",))]
    assert statuses.count("duplicate") == 2 and archive.get_run("r").evaluations == 2


def test_an_invalid_seed_refuses_to_start(tmp_path: Path) -> None:
    from evolve.errors import EvolveError

    evo, _ = make_evolution(tmp_path, Scripted([SEED]), ["search.iterations=1"])
    try:
        with pytest.raises(EvolveError, match="seed program"):
            evo.seed_population(body("undefined_name"))
    finally:
        evo.close()


def test_target_score_stops_the_run(tmp_path: Path) -> None:
    evo, _ = make_evolution(tmp_path, Scripted([body("max(d, t + p)")] + [body(f"d + {i}") for i in range(50)]),
                            ["search.iterations=50", "search.target_score=-5"])
    try:
        evo.seed_population(SEED)
        assert asyncio.run(evo.run()) == "target_score"
        # the first candidate reached the target; what was already queued for the worker is finished,
        # nothing new is proposed
        assert 1 <= evo.progress.evaluations <= evo.capacity == 2
        best = evo.archive.top(evo.run_id, n=1)[0]
        assert best.eval_index == 1 and "max(d, t + p)" in best.code
    finally:
        evo.close()


def test_the_worker_has_its_next_candidate_queued_while_the_loop_handles_a_result(tmp_path: Path) -> None:
    """The local executor asks for one evaluation queued per worker thread, so the thread does not idle
    through the loop's turn (store the outcome, admit it, dispatch) between two candidates."""
    evo, _ = make_evolution(tmp_path, Scripted([body(f"d + {i}") for i in range(1, 12)]), ["search.iterations=10"])
    in_flight: list[int] = []  # evaluations still in flight once the loop has handled a turn's results
    report = evo.on_progress

    def watched(progress: Any) -> None:
        in_flight.append(len(evo.inflight))
        report(progress)

    evo.on_progress = watched
    try:
        evo.seed_population(SEED)
        assert asyncio.run(evo.run()) == "iterations"
    finally:
        evo.close()
    assert evo.capacity == 2 and max(in_flight) == 1  # the one worker's next candidate, already queued


def test_stagnation_stops_the_run(tmp_path: Path) -> None:
    evo, _ = make_evolution(tmp_path, Scripted([body(f"d + {i}") for i in range(1, 60)]),
                            ["search.iterations=50", "search.stagnation=5"])
    try:
        evo.seed_population(SEED)
        assert asyncio.run(evo.run()) == "stagnation"
    finally:
        evo.close()


class Observing(Scripted):
    """A scripted mutator that records what the loop tells a learning mutator."""

    def __init__(self, codes: list[str | None]) -> None:
        super().__init__(codes)
        self.seen: list[tuple[int, bool, float | None, str | None]] = []

    def observe(self, program_id: int, improved: bool, score_delta: float | None = None,
                model: str | None = None) -> None:
        self.seen.append((program_id, improved, score_delta, model))


def test_the_loop_tells_a_learning_mutator_which_children_improved(tmp_path: Path) -> None:
    mutator = Observing([body("max(d, t + p)"), body("p"), body("undefined_name")])
    evo, archive = make_evolution(tmp_path, mutator, ["search.iterations=3"])
    try:
        evo.seed_population(SEED)
        asyncio.run(evo.run())
    finally:
        evo.close()
    assert len(mutator.seen) == 3
    by_id = {pid: (improved, delta, model) for pid, improved, delta, model in mutator.seen}
    statuses = {p.id: p.status for p in archive.programs("r", roles=("candidate",))}
    improved = [pid for pid, (imp, _, _) in by_id.items() if imp]
    assert len(improved) >= 1 and all(statuses[pid] == "ok" for pid in improved)
    crashed = [pid for pid, st in statuses.items() if st == "crash"]
    assert crashed and all(by_id[pid][:2] == (False, None) for pid in crashed)
    assert {m for _, _, m in by_id.values()} == {"scripted"}


def test_a_child_stopped_by_the_cascade_counts_as_its_parents_child_as_on_resume(tmp_path: Path) -> None:
    """The gate's rejects count toward their parent's children live, exactly as restore() counts them."""
    worse = [body(f"-d * {k}") for k in range(2, 5)]  # latest due date first: far below the seed on quick
    evo, archive = make_evolution(tmp_path, Scripted(worse), ["search.iterations=3", "search.cascade_threshold=0"])
    try:
        evo.seed_population(SEED)
        asyncio.run(evo.run())
        live = {m.id: m.children for isl in evo.pop.islands for m in isl.members.values()}
    finally:
        evo.close()
    rows = archive.programs("r", roles=("candidate",))
    assert [r.stage for r in rows] == ["quick"] * 3 and all(r.score is None for r in rows)
    (tmp_path / "resumed").mkdir()
    again, _ = make_evolution(tmp_path / "resumed", Scripted([]), ["search.iterations=3",
                                                                  "search.cascade_threshold=0"])
    again.archive, again.run_id = archive, "r"
    try:
        again.restore()
        restored = {m.id: m.children for isl in again.pop.islands for m in isl.members.values()}
    finally:
        again.close()
    assert live == restored and live[evo.pop.seed_id] == 3


def test_the_view_cache_drops_programs_that_left_the_population_first() -> None:
    members = {1}
    cache = ViewCache(3, keep=lambda pid: pid in members)
    for pid in (1, 2, 3, 4, 5):
        cache.put(ProgramView(pid, "code", -1.0))
    assert cache.ids() == [1, 4, 5]  # 2 and 3 went first: they are in no island
    assert cache.get(1) is not None and cache.ids() == [4, 5, 1]  # a use makes it the most recent
    for pid in (6, 7, 8):
        members.add(pid)
        cache.put(ProgramView(pid, "code", -1.0))
    assert cache.ids() == [6, 7, 8]  # all members now: the least recently used go as before
    assert cache.get(2) is None and len(cache) == 3


def test_the_task_statement_is_read_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    cls = type(load_problem("smtt"))
    original = cls.description
    monkeypatch.setattr(cls, "description", property(lambda self: reads.append(1) or original.fget(self)))

    class Recording(Scripted):
        def __init__(self, codes: list[str | None]) -> None:
            super().__init__(codes)
            self.descriptions: list[str] = []

        async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
            self.descriptions.append(request.description)
            return await super().propose(request, rng)

    mutator = Recording([body(f"d + {k}") for k in range(4)])
    evo, _ = make_evolution(tmp_path, mutator, ["search.iterations=4"])
    try:
        evo.seed_population(SEED)
        assert asyncio.run(evo.run()) == "iterations"
    finally:
        evo.close()
    assert len(mutator.descriptions) >= 4 and len(set(mutator.descriptions)) == 1
    assert "tardiness" in mutator.descriptions[0].lower() and len(reads) == 1


@pytest.mark.parametrize("cascade", [True, False])
def test_search_cascade_false_evaluates_on_train_only(tmp_path: Path, cascade: bool) -> None:
    children = [body(f"d + {k}") for k in range(3)]
    evo, archive = make_evolution(tmp_path, Scripted(children), ["search.iterations=3",
                                                                 f"search.cascade={str(cascade).lower()}"])
    try:
        seed = evo.seed_population(SEED)
        reason = asyncio.run(evo.run())
        quick = [m.quick for isl in evo.pop.islands for m in isl.members.values()]
    finally:
        evo.close()
    assert reason == "iterations"
    rows = [archive.program(r.id) for r in archive.programs("r")]
    assert rows[0].id == seed.id and len(rows) == 4
    for r in rows:
        assert r.status == "ok" and r.score is not None
        assert [st.split for st in r.stages] == (["quick", "train"] if cascade else ["train"])
        assert ("_quick_score" in r.metrics) is cascade
    assert all((q is not None) is cascade for q in quick)


def test_a_cascade_threshold_without_the_cascade_is_a_config_error(tmp_path: Path) -> None:
    from evolve.config import validate
    from evolve.errors import ConfigError

    with initialize_config_module("evolve.conf", version_base="1.3"):
        cfg = compose("config", overrides=["search.cascade=false", "search.cascade_threshold=0"])
    with pytest.raises(ConfigError, match=r"search\.cascade_threshold: .* search\.cascade=true"):
        validate(cfg)


class Counting(Scripted):
    """A scripted mutator that records how many of its proposals were in flight at once."""

    def __init__(self, codes: list[str | None], concurrency: int | None) -> None:
        super().__init__(codes)
        self.concurrency = concurrency
        self.running = 0
        self.most = 0

    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.concurrency is not None:
                await asyncio.sleep(0.01)  # an LLM waits on its reply
            return await super().propose(request, rng)
        finally:
            self.running -= 1


@pytest.mark.parametrize("concurrency", [None, 3])
def test_the_loop_drives_a_mutator_by_its_declared_concurrency(tmp_path: Path, concurrency: int | None) -> None:
    mutator = Counting([body(f"d + {k} * p") for k in range(1, 30)], concurrency)
    evo, archive = make_evolution(tmp_path, mutator, ["search.iterations=8"])
    try:
        evo.seed_population(SEED)
        assert asyncio.run(evo.run()) == "iterations"
    finally:
        evo.close()
    # one worker: a mutator that answers at once is asked for one child at a time, an LLM for up to three
    assert mutator.most == (1 if concurrency is None else 3)
    assert archive.get_run("r").evaluations == 8


class Hanging(Scripted):
    """A mutator whose proposals never return, and that had made an LLM call for each."""

    concurrency = 2

    def __init__(self) -> None:
        super().__init__([None])
        self.cancelled = 0

    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")

    def abandoned_calls(self) -> tuple[dict[str, Any], ...]:
        rows = tuple({"model": "m", "kind": "diff", "prompt": "p", "response": None, "status": "cancelled"}
                     for _ in range(self.cancelled))
        self.cancelled = 0
        return rows


def test_the_loop_stores_the_calls_of_proposals_cancelled_when_the_run_stops(tmp_path: Path) -> None:
    mutator = Hanging()
    evo, archive = make_evolution(tmp_path, mutator, ["search.iterations=5"])

    async def interrupted() -> str:
        asyncio.get_running_loop().call_later(0.3, evo.stop, "interrupted")
        return await evo.run()

    try:
        evo.seed_population(SEED)
        assert asyncio.run(interrupted()) == "interrupted"
    finally:
        evo.close()
    calls = archive.llm_calls("r")
    assert len(calls) == 2 and {(c.status, c.program_id) for c in calls} == {("cancelled", None)}
