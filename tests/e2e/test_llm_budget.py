"""Budgets a researcher can trust, through the CLI against the scripted server: spent cost persists across a
resume, calls in flight count against the cap, and a reply that arrives at a stop is kept and evaluated later."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from evolve.archive import Archive
from evolve.testing.llm_server import RecordedRequest, Reply, ScriptedLLMServer

# $20,000 per million prompt tokens and 10 prompt tokens a reply: every call costs $0.20
PRICED = ["llm=openai_compatible", "llm.model=scripted-model", "llm.input_cost_per_mtok=20000",
          "llm.output_cost_per_mtok=0", "evaluator.workers=1", "quiet=true", "llm.fix_retries=0"]
CALL_USD = 0.2


def rewrite(k: int) -> str:
    return f"Idea {k}.\n```python\ndef priority(p, d, t):\n    return d + {k}\n```\n"


def responder(delay_s: float) -> Any:
    counter = itertools.count(1)

    def answer(_: RecordedRequest) -> Reply:
        return Reply.slow(rewrite(next(counter)), delay_s, prompt_tokens=10, completion_tokens=0)
    return answer


def run(cli: Any, run_dir: Path, server: ScriptedLLMServer, *args: str) -> tuple[Archive, Any]:
    proc = cli(["run", *PRICED, f"llm.api_base={server.url}", f"hydra.run.dir={run_dir}", *args], timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    archive = Archive.for_run_dir(run_dir)
    return archive, archive.get_run()


@pytest.mark.slow
def test_the_cost_cap_holds_with_calls_in_flight_and_across_a_resume(cli: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    budget = ["search.iterations=60", "llm.max_concurrency=3", "llm.max_cost_usd=1.0"]
    with ScriptedLLMServer(responder=responder(0.3)) as server:
        archive, first = run(cli, run_dir, server, *budget)
        calls = archive.llm_calls(first.id)
        spent = sum(c.cost_usd for c in calls)
        assert first.stop_reason.startswith("budget: llm.max_cost_usd") and first.status == "finished"
        assert spent <= 1.0 + CALL_USD + 1e-9  # overshoot at most one call
        assert not [c for c in calls if c.status == "cancelled"]  # nothing paid for was thrown away
        sent = len(server.completions)

        archive, again = run(cli, run_dir, server, *budget, f"resume={run_dir}")
        assert len(server.completions) == sent  # the resumed run starts from what was spent, not from $0
        assert sum(c.cost_usd for c in archive.llm_calls(again.id)) == pytest.approx(spent)
        assert again.stop_reason.startswith("budget: llm.max_cost_usd")


@pytest.mark.slow
def test_a_reply_that_arrives_at_a_stop_is_stored_and_evaluated_on_resume(cli: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # the first reply sets the expected cost ($0.20); the second costs $1.20 and passes the $1 cap while
    # two slow replies are still on their way
    script = [Reply.text(rewrite(1), prompt_tokens=10, completion_tokens=0),
              Reply.text(rewrite(2), prompt_tokens=60, completion_tokens=0),
              Reply.slow(rewrite(3), 1.5, prompt_tokens=10, completion_tokens=0),
              Reply.slow(rewrite(4), 1.5, prompt_tokens=10, completion_tokens=0)]
    with ScriptedLLMServer(script, responder=responder(0.0)) as server:
        archive, first = run(cli, run_dir, server, "search.iterations=60", "llm.max_concurrency=3",
                             "llm.max_cost_usd=1.0")
        assert first.stop_reason.startswith("budget: llm.max_cost_usd")
        calls = archive.llm_calls(first.id)
        assert [c.status for c in calls] == ["ok"] * 4  # the replies in flight at the stop were kept
        progs = archive.programs(first.id, roles=("candidate",))
        pending = [p.id for p in progs if p.status == "pending"]
        # the child of the reply that passed the cap and the two that arrived after the stop
        assert len(pending) == 3 and all("return d + " in archive.program(i).code for i in pending)
        evaluated = first.evaluations

        archive, again = run(cli, run_dir, server, f"search.iterations={evaluated + 3}", "llm.max_concurrency=3",
                             "llm.max_cost_usd=3.0", f"resume={run_dir}")
    for pid in pending:
        prog = archive.program(pid)
        assert prog.status != "pending" and prog.eval_index is not None and prog.eval_index > evaluated
    assert again.evaluations == evaluated + 3
