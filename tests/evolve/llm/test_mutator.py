"""The LLM mutator over the openai SDK against the scripted server: proposals, retries, and stored calls."""

from __future__ import annotations

import asyncio
import random

import pytest
from llm_helpers import MDD_DIFF, SEED, make_mutator, propose, rewrite, smtt_request

from evolve.archive import Archive
from evolve.edit.blocks import find_blocks
from evolve.llm.cost import Pricing
from evolve.llm.models import ModelSpec
from evolve.mutators.base import ProgramView, ProposalRequest, StageView
from evolve.testing.llm_server import Reply, ScriptedLLMServer


def spec(server: ScriptedLLMServer, model: str = "scripted-model", **kw: object) -> ModelSpec:
    return ModelSpec(model, model, "openai", server.url, **kw)  # type: ignore[arg-type]


def test_a_good_diff_becomes_a_child_and_its_call_is_stored(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.text(MDD_DIFF, prompt_tokens=321, completion_tokens=45)]) as server:
        proposal = propose(make_mutator([spec(server)], archive))
        (request,) = server.completions
    assert proposal.status == "ok" and proposal.edit_kind == "diff" and proposal.model == "scripted-model"
    assert "return max(d, t + p)" in find_blocks(proposal.code or "")[0].text
    assert (proposal.prompt_tokens, proposal.completion_tokens, proposal.cost_usd) == (321, 45, 0.0)
    (call,) = archive.llm_calls("r")
    assert (call.model, call.kind, call.status, call.error) == ("scripted-model", "diff", "ok", None)
    assert (call.prompt_tokens, call.completion_tokens, call.cost_usd) == (321, 45, 0.0)
    assert call.response == MDD_DIFF and call.latency_s > 0
    assert "[system]" in (call.prompt or "") and SEED.strip() in (call.prompt or "")
    assert request.body is not None and request.body["temperature"] == 0.5 and request.body["max_tokens"] == 256
    assert request.messages[0]["role"] == "system" and "schedule" in request.messages[0]["content"]


def test_configured_prices_give_the_cost(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.text(MDD_DIFF, prompt_tokens=1_000_000, completion_tokens=500_000)]) as server:
        proposal = propose(make_mutator([spec(server)], archive, pricing=Pricing(0.5, 2.0)))
    assert proposal.cost_usd == pytest.approx(0.5 + 1.0)
    assert archive.llm_calls("r")[0].cost_usd == pytest.approx(1.5)


def test_an_unusable_reply_is_a_parse_error_with_the_reason(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.text("I would use the slack.", prompt_tokens=10, completion_tokens=7)]) as server:
        proposal = propose(make_mutator([spec(server)], archive, fix_retries=0))
    assert proposal.code is None and proposal.status == "parse_error"
    assert "neither SEARCH/REPLACE blocks nor a fenced" in (proposal.error or "")
    assert (proposal.prompt_tokens, proposal.completion_tokens) == (10, 7)
    (call,) = archive.llm_calls("r")
    assert call.status == "parse_error" and call.error == proposal.error and call.response == "I would use the slack."


@pytest.mark.parametrize("reply, reason", [
    ("<<<<<<< SEARCH\n    return x\n=======\n    return p\n>>>>>>> REPLACE\n", "SEARCH text was not found"),
    ("<<<<<<< SEARCH\nimport math\n=======\nimport os\n>>>>>>> REPLACE\n", "outside the EVOLVE-BLOCKs"),
    (rewrite("(d"), "not valid Python"),
])
def test_each_kind_of_bad_edit_is_a_stored_parse_error(archive: Archive, reply: str, reason: str) -> None:
    with ScriptedLLMServer([reply]) as server:
        proposal = propose(make_mutator([spec(server)], archive))
    assert proposal.status == "parse_error" and reason in (proposal.error or "")
    assert [c.status for c in archive.llm_calls("r")] == ["parse_error"]


def test_a_fix_retry_sends_the_reason_back_and_each_call_is_stored(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.text("no code", prompt_tokens=100, completion_tokens=5),
                            Reply.text(MDD_DIFF, prompt_tokens=150, completion_tokens=40)]) as server:
        proposal = propose(make_mutator([spec(server)], archive, fix_retries=1))
        first, second = server.completions
    assert proposal.status == "ok" and proposal.edit_kind == "diff+fix"
    assert (proposal.prompt_tokens, proposal.completion_tokens) == (250, 45)
    assert second.messages[:2] == first.messages
    assert second.messages[2] == {"role": "assistant", "content": "no code"}
    assert "could not be used: the reply has neither SEARCH/REPLACE" in second.messages[3]["content"]
    calls = archive.llm_calls("r")
    assert [(c.kind, c.status) for c in calls] == [("diff", "parse_error"), ("fix", "ok")]
    assert len(proposal.llm_calls) == len(calls)


def test_fix_retries_give_up_with_the_last_reason(archive: Archive) -> None:
    with ScriptedLLMServer(["nothing", "still nothing"]) as server:
        proposal = propose(make_mutator([spec(server)], archive, fix_retries=1))
    assert proposal.status == "parse_error" and "(after 2 replies)" in (proposal.error or "")
    assert [c.status for c in archive.llm_calls("r")] == ["parse_error", "parse_error"]


def test_a_server_error_is_retried_by_the_sdk_in_one_call(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.server_error(), Reply.text(MDD_DIFF)]) as server:
        proposal = propose(make_mutator([spec(server)], archive, max_retries=2))
        assert [r.reply.status for r in server.completions if r.reply] == [500, 200]
    assert proposal.status == "ok"
    assert [c.status for c in archive.llm_calls("r")] == ["ok"]


def test_retry_after_is_honoured(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.rate_limited(retry_after=1.2), Reply.text(MDD_DIFF)]) as server:
        proposal = propose(make_mutator([spec(server)], archive, max_retries=2))
        first, second = server.completions
    assert proposal.status == "ok"
    assert second.at - first.at >= 1.15
    assert archive.llm_calls("r")[0].latency_s >= 1.15


def test_a_reply_slower_than_the_timeout_is_a_stored_timeout(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.slow(MDD_DIFF, delay_s=1.5)]) as server:
        proposal = propose(make_mutator([spec(server)], archive, timeout_s=0.5, max_retries=0))
    assert proposal.code is None and proposal.status == "llm_error" and "timed out" in (proposal.error or "")
    (call,) = archive.llm_calls("r")
    assert call.status == "timeout" and call.response is None and call.prompt_tokens == 0
    assert 0.4 < call.latency_s < 1.5


def test_a_truncated_body_is_a_stored_error_or_is_retried(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.truncated(MDD_DIFF)]) as server:
        failed = propose(make_mutator([spec(server)], archive, max_retries=0))
    assert failed.status == "llm_error" and archive.llm_calls("r")[0].status == "error"
    with ScriptedLLMServer([Reply.truncated(MDD_DIFF), Reply.text(MDD_DIFF)]) as server:
        recovered = propose(make_mutator([spec(server)], archive, max_retries=1))
    assert recovered.status == "ok"


def test_a_malformed_json_body_is_a_stored_error(archive: Archive) -> None:
    with ScriptedLLMServer([Reply(raw_body="{not json")]) as server:
        proposal = propose(make_mutator([spec(server)], archive, max_retries=0))
    assert proposal.status == "llm_error"
    assert archive.llm_calls("r")[0].status == "error"


def test_the_api_key_comes_from_the_named_variable(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "sk-secret")
    with ScriptedLLMServer([MDD_DIFF], api_key="sk-secret") as server:
        proposal = propose(make_mutator([spec(server, api_key_env="SCRIPTED_KEY")], archive))
    assert proposal.status == "ok"


def test_a_failed_parent_gets_the_fix_prompt(archive: Archive) -> None:
    broken = ProgramView(3, SEED.replace("return d", "return d / 0"), None, {}, "crash", "ZeroDivisionError",
                         (StageView("quick", "crash", "ZeroDivisionError: division by zero", "q1"),))
    with ScriptedLLMServer([rewrite("d")]) as server:
        proposal = propose(make_mutator([spec(server)], archive), smtt_request(broken))
        (request,) = server.completions
    assert proposal.status == "ok" and proposal.edit_kind.startswith("fix")
    assert "A program that fails" in request.messages[1]["content"]
    assert archive.llm_calls("r")[0].kind == "fix"


def test_a_crossover_child_says_which_prompt_made_it(archive: Archive) -> None:
    insp = (ProgramView(2, SEED.replace("return d", "return max(d, t + p)"), -1.3),)
    with ScriptedLLMServer([rewrite("max(d, t + p) - 0.5 * p")]) as server:
        proposal = propose(make_mutator([spec(server)], archive, modes=(0.0, 0.0, 1.0)), smtt_request(inspirations=insp))
        (request,) = server.completions
    assert proposal.edit_kind == "crossover:full"
    assert "Combine" in request.messages[1]["content"] and "score -1.3" in request.messages[1]["content"]
    assert archive.llm_calls("r")[0].kind == "crossover"


def _prompted_modes(modes: tuple[float, float, float], request: ProposalRequest, n: int) -> list[str]:
    """The kind of prompt each of `n` proposals sent the model, told apart by its instructions."""
    with ScriptedLLMServer([rewrite("d")] * n) as server:
        mutator = make_mutator([spec(server)], modes=modes)

        async def go() -> None:
            rng = random.Random(0)
            try:
                for _ in range(n):
                    await mutator.propose(request, rng)
            finally:
                await mutator.aclose()

        asyncio.run(go())
        prompts = [r.messages[-1]["content"] for r in server.completions]
    return ["crossover" if "Combine" in p else "diff" if "SEARCH/REPLACE blocks" in p else "full" for p in prompts]


def test_modes_follow_their_probabilities_and_crossover_needs_inspirations() -> None:
    insp = (ProgramView(2, SEED, -50.0),)
    assert _prompted_modes((0.0, 0.0, 1.0), smtt_request(), 1) == ["diff"]  # no crossover without inspirations
    assert _prompted_modes((0.0, 0.0, 1.0), smtt_request(inspirations=insp), 1) == ["crossover"]
    assert set(_prompted_modes((0.5, 0.5, 0.0), smtt_request(inspirations=insp), 30)) == {"diff", "full"}


def test_an_ensemble_spreads_proposals_by_weight(archive: Archive) -> None:
    with ScriptedLLMServer(responder=lambda r: rewrite(f"d + {len(r.prompt_text) % 7} * p"),
                           models=["a", "b"]) as server:
        mutator = make_mutator([spec(server, "a", weight=0.9), spec(server, "b", weight=0.1)], archive)

        async def many() -> list[str]:
            rng = random.Random(1)
            out = [p.model for p in await asyncio.gather(*(mutator.propose(smtt_request(), rng) for _ in range(30)))]
            await mutator.aclose()
            return out

        models = asyncio.run(many())
        sent = [r.model for r in server.completions]
    assert sorted(models) == sorted(sent)
    assert models.count("a") > models.count("b") >= 0 and models.count("a") >= 20
    assert {c.model for c in archive.llm_calls("r")} <= {"a", "b"}


def test_observe_teaches_the_bandit_through_the_archive(archive: Archive) -> None:
    with ScriptedLLMServer([rewrite("max(d, t + p)"), rewrite("d + 1")], models=["a", "b"]) as server:
        mutator = make_mutator([spec(server, "a"), spec(server, "b")], archive, selection="bandit")

        async def two() -> list[str]:
            rng = random.Random(0)
            first = await mutator.propose(smtt_request(), rng)
            second = await mutator.propose(smtt_request(), rng)
            await mutator.aclose()
            return [first.model, second.model]

        models = asyncio.run(two())
    assert sorted(models) == ["a", "b"]  # each model tried once
    pid = archive.add_program("r", "job-1", code="x", code_hash="h", model=models[0], status="ok")
    mutator.observe(pid, improved=True, score_delta=60.0)
    stats = mutator.state()["selector"]["arms"][models[0]]
    assert (stats["observed"], stats["improvements"], stats["score_delta"]) == (1, 1.0, 60.0)
    assert mutator.selector.pick(random.Random(0)) == mutator.selector.keys.index(models[0])


def test_state_round_trips_through_the_mutator(archive: Archive) -> None:
    with ScriptedLLMServer([MDD_DIFF]) as server:
        mutator = make_mutator([spec(server)], archive, selection="bandit")
        propose(mutator)
        again = make_mutator([spec(server)], archive, selection="bandit")
    again.load_state(mutator.state())
    assert again.state() == mutator.state()
    assert again.state()["selector"]["arms"]["scripted-model"]["calls"] == 1


def test_the_mutator_stores_no_call_they_travel_with_the_proposal(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.text("no code", prompt_tokens=100, completion_tokens=5),
                            Reply.text(MDD_DIFF, prompt_tokens=150, completion_tokens=40)]) as server:
        mutator = make_mutator([spec(server)], archive, fix_retries=1)
        proposal = asyncio.run(mutator.propose(smtt_request(), random.Random(0)))
        asyncio.run(mutator.aclose())
    assert archive.llm_calls("r") == []
    assert [(c["kind"], c["status"], c["prompt_tokens"]) for c in proposal.llm_calls] == [
        ("diff", "parse_error", 100), ("fix", "ok", 150)]
    pid = archive.add_program("r", "job-1", code="x", code_hash="h", status="pending")
    with archive.batch():
        archive.add_llm_calls("r", proposal.llm_calls, program_id=pid)
    calls = archive.llm_calls("r")
    assert [(c.kind, c.status, c.program_id) for c in calls] == [("diff", "parse_error", pid), ("fix", "ok", pid)]
    assert calls[1].response == MDD_DIFF and calls[0].created_at <= calls[1].created_at


def test_a_cancelled_request_is_handed_over_as_cancelled_once(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.slow(MDD_DIFF, delay_s=3)]) as server:
        mutator = make_mutator([spec(server)], archive)

        async def cancel() -> None:
            task = asyncio.ensure_future(mutator.propose(smtt_request(), random.Random(0)))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await mutator.aclose()

        asyncio.run(cancel())
    assert archive.llm_calls("r") == []  # the loop stores them: the mutator writes no call
    (call,) = mutator.abandoned_calls()
    assert call["status"] == "cancelled" and call["response"] is None
    assert mutator.abandoned_calls() == ()
    assert mutator.selector.inflight["scripted-model"] == 0
