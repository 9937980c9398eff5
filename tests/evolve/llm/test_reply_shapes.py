"""Every shape of reply real models send, through the scripted server and the mutator: the child is the edit
the model meant, or a stored parse error that says why; each call keeps its finish reason, retries and id."""

from __future__ import annotations

import pytest
from llm_helpers import SEED, make_mutator, propose, smtt_request

from evolve.archive import Archive
from evolve.edit.blocks import find_blocks, outside_blocks
from evolve.llm.models import ModelSpec
from evolve.mutators.base import ProgramView
from evolve.testing.llm_server import Reply, ScriptedLLMServer

MDD = "    return max(d, t + p)\n"
DIFF = f"Use MDD.\n<<<<<<< SEARCH\n    return d\n=======\n{MDD}>>>>>>> REPLACE\n"
WRONG = "<<<<<<< SEARCH\n    return d\n=======\n    return -p\n>>>>>>> REPLACE\n"


def spec(server: ScriptedLLMServer) -> ModelSpec:
    return ModelSpec("scripted-model", "scripted-model", "openai", server.url)


def block(code: str | None) -> str:
    return find_blocks(code or "")[0].text


def program(body: str) -> str:
    return SEED.replace("    return d\n", body)


SHAPES = {
    "think tags around a draft": f"<think>\nSPT?\n{WRONG}No, MDD.\n</think>\n{DIFF}",
    "a dangling closing tag": f"Let me see. {WRONG}\n</think>\n\n{DIFF}",
    "a reasoning field": Reply.text(DIFF, reasoning=f"Maybe:\n{WRONG}"),
    "two fences, the last is the answer": f"Draft:\n```python\n{program('    return d - t' + chr(10))}```\n"
                                          f"Final:\n```python\n{program(MDD)}```\n",
    "a shortened rewrite": "```python\nimport math\n\nimport numpy as np\n\n\n# EVOLVE-BLOCK-START\n"
                           f"def priority(p, d, t):\n{MDD}# EVOLVE-BLOCK-END\n\n# ... schedule() unchanged\n```\n",
    "a unified diff": "```diff\n--- a/initial.py\n+++ b/initial.py\n@@ -17,3 +17,3 @@\n     The job with the "
                      f"smallest value is dispatched next.\n     \"\"\"\n-    return d\n+{MDD}```\n",
    "CRLF line ends": DIFF.replace("\n", "\r\n"),
    "a SEARCH without indentation": f"<<<<<<< SEARCH\nreturn d\n=======\n{MDD}>>>>>>> REPLACE",
}


@pytest.mark.parametrize("name", SHAPES)
def test_the_child_is_the_edit_the_model_meant(archive: Archive, name: str) -> None:
    with ScriptedLLMServer([SHAPES[name]]) as server:
        proposal = propose(make_mutator([spec(server)], archive))
    assert proposal.status == "ok", proposal.error
    assert block(proposal.code).rstrip().endswith("return max(d, t + p)")
    assert outside_blocks(proposal.code or "") == outside_blocks(SEED)


FAILING = {
    "an empty reply": (Reply.text(""), "the reply is empty"),
    "a refusal": (Reply.text("I'm sorry, but I can't help with that."), "neither SEARCH/REPLACE"),
    "reasoning cut off by the token limit": (Reply.text(f"<think>\nFirst {WRONG}", finish_reason="length"),
                                             "ends inside its reasoning"),
    "only a reasoning field, cut off": (Reply.text("", reasoning=f"Let me think {WRONG}", finish_reason="length"),
                                        "holds only reasoning (its reasoning_content field)"),
    "a rewrite cut off by the token limit": (Reply.text(f"```python\n{SEED[:200]}", finish_reason="length"),
                                             "hit llm.max_tokens and was cut off"),
}


@pytest.mark.parametrize("name", FAILING)
def test_an_unusable_reply_is_a_parse_error_saying_why(archive: Archive, name: str) -> None:
    reply, reason = FAILING[name]
    with ScriptedLLMServer([reply]) as server:
        proposal = propose(make_mutator([spec(server)], archive))
    assert proposal.status == "parse_error" and reason in (proposal.error or "")
    (call,) = archive.llm_calls("r")
    assert call.status == "parse_error" and call.finish_reason == reply.finish_reason


def test_a_search_inside_a_longer_line_is_not_applied(archive: Archive) -> None:
    parent = ProgramView(1, program("    return d + p\n"), -60.0, {"score": -60.0})
    with ScriptedLLMServer([DIFF]) as server:
        proposal = propose(make_mutator([spec(server)], archive), smtt_request(parent))
    assert proposal.status == "parse_error" and "SEARCH text was not found" in (proposal.error or "")


def test_an_ambiguous_search_is_a_parse_error_naming_the_places(archive: Archive) -> None:
    parent = ProgramView(1, program("    if t > d:\n        return d\n    return d\n"), -60.0, {"score": -60.0})
    with ScriptedLLMServer(["<<<<<<< SEARCH\nreturn d\n=======\nreturn p\n>>>>>>> REPLACE\n"]) as server:
        proposal = propose(make_mutator([spec(server)], archive), smtt_request(parent))
    assert proposal.status == "parse_error" and "matches 2 places (lines" in (proposal.error or "")


def test_each_call_keeps_its_retries_request_id_reasoning_and_finish_reason(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.rate_limited(retry_after=0.05), Reply.server_error(500),
                            Reply(raw_body="{not json"), Reply.html_error_page(),
                            Reply.text(DIFF, reasoning="MDD beats EDD")]) as server:
        proposal = propose(make_mutator([spec(server)], archive, max_retries=4))
    assert proposal.status == "ok"
    (call,) = archive.llm_calls("r")
    assert (call.retries, call.retry_statuses) == (4, ["429", "500", "malformed", "malformed"])
    assert (call.request_id, call.reasoning, call.finish_reason) == ("req-scripted-5", "MDD beats EDD", "stop")


def test_a_hung_request_is_a_timeout_that_records_its_attempts(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.slow(DIFF, 3.0), Reply.slow(DIFF, 3.0)]) as server:
        proposal = propose(make_mutator([spec(server)], archive, timeout_s=0.4, max_retries=1))
    assert proposal.status == "llm_error" and "timed out" in (proposal.error or "")
    (call,) = archive.llm_calls("r")
    assert (call.status, call.retries, call.retry_statuses) == ("timeout", 1, ["timeout", "timeout"])
