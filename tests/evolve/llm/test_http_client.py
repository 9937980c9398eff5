"""The aiohttp client of the OpenAI protocol, against the scripted server over real HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest

from evolve.llm.clients import CallFailed, CallSettings, HTTPClient, retry_after_seconds
from evolve.llm.models import ModelSpec
from evolve.testing.llm_server import Reply, ScriptedLLMServer

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


def _complete(server: ScriptedLLMServer, **settings: object) -> object:
    spec = ModelSpec("m", "m", "openai", server.url, "EVOLVE_TEST_HTTP_KEY")
    client = HTTPClient(spec, CallSettings(**{"timeout_s": 2.0, "max_retries": 1, **settings}))  # type: ignore[arg-type]

    async def go() -> object:
        try:
            return await client.complete(MESSAGES)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_reply_gives_its_text_tokens_and_finish_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLVE_TEST_HTTP_KEY", "sk-test")
    with ScriptedLLMServer([Reply.text("hi there", prompt_tokens=7, completion_tokens=3)], models=["m"],
                           api_key="sk-test") as server:
        out = _complete(server, temperature=0.25, max_tokens=99)
        request = server.completions[0]
    assert (out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason) == (  # type: ignore[attr-defined]
        "hi there", 7, 3, "stop")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body == {"model": "m", "messages": MESSAGES, "temperature": 0.25, "max_tokens": 99}


def test_rate_limits_are_retried_after_the_servers_delay() -> None:
    with ScriptedLLMServer([Reply.rate_limited(retry_after=0.6), Reply.text("ok")], models=["m"]) as server:
        started = time.monotonic()
        assert _complete(server).text == "ok"  # type: ignore[attr-defined]
    assert time.monotonic() - started >= 0.6


def test_a_server_error_past_the_retries_names_the_status() -> None:
    with ScriptedLLMServer([Reply.server_error(503), Reply.server_error(503)], models=["m"]) as server:
        with pytest.raises(CallFailed, match="HTTP 503 from m via"):
            _complete(server)


def test_a_client_error_is_not_retried() -> None:
    with ScriptedLLMServer([Reply(status=400, error="bad request"), Reply.text("never")], models=["m"]) as server:
        with pytest.raises(CallFailed, match=r"HTTP 400.*bad request"):
            _complete(server, max_retries=3)
        assert server.remaining == 1


def test_a_slow_model_times_out_with_the_timeout_status() -> None:
    with ScriptedLLMServer([Reply.slow("late", 1.5), Reply.slow("late", 1.5)], models=["m"]) as server:
        with pytest.raises(CallFailed, match="timed out") as err:
            _complete(server, timeout_s=0.5)
    assert err.value.status == "timeout"


def test_malformed_json_past_the_retries_is_a_clear_failure() -> None:
    with ScriptedLLMServer([Reply(raw_body="{not json"), Reply(raw_body="{not json")], models=["m"]) as server:
        with pytest.raises(CallFailed, match="not JSON") as err:
            _complete(server)
    assert err.value.retry_statuses == ("malformed", "malformed") and err.value.retries == 1


@pytest.mark.parametrize("bad", [Reply(raw_body="{not json"), Reply.html_error_page(200),
                                 Reply(raw_body='{"id": "x", "object": "chat.completion", "choices": []}'),
                                 Reply.html_error_page(502)])
def test_malformed_html_and_choiceless_bodies_are_retried_like_a_5xx(bad: Reply) -> None:
    with ScriptedLLMServer([bad, Reply.text("ok")], models=["m"]) as server:
        out = _complete(server)
    assert out.text == "ok" and out.retries == 1  # type: ignore[attr-defined]
    assert out.retry_statuses == ("502",) if bad.status == 502 else ("malformed",)  # type: ignore[attr-defined]


def test_a_call_records_its_retries_statuses_request_id_and_finish_reason() -> None:
    with ScriptedLLMServer([Reply.rate_limited(retry_after=0.05), Reply.server_error(500),
                            Reply.text("cut", finish_reason="length")], models=["m"]) as server:
        out = _complete(server, max_retries=3)
    assert (out.retries, out.retry_statuses) == (2, ("429", "500"))  # type: ignore[attr-defined]
    assert out.request_id == "req-scripted-3" and out.finish_reason == "length"  # type: ignore[attr-defined]


def test_reasoning_fields_are_kept_apart_from_the_answer() -> None:
    with ScriptedLLMServer([Reply.text("the answer", reasoning="first I think")], models=["m"]) as server:
        out = _complete(server)
    assert (out.text, out.reasoning) == ("the answer", "first I think")  # type: ignore[attr-defined]


def test_a_reply_without_usage_says_its_tokens_are_unknown() -> None:
    with ScriptedLLMServer([Reply.text("hi", usage=False)], models=["m"]) as server:
        out = _complete(server)
    assert out.usage_known is False and out.prompt_tokens == 0  # type: ignore[attr-defined]


def test_an_unreachable_server_says_so() -> None:
    with ScriptedLLMServer(models=["m"]) as server:
        url = server.url
    spec = ModelSpec("m", "m", "openai", url)
    client = HTTPClient(spec, CallSettings(timeout_s=2.0, max_retries=0))
    with pytest.raises(CallFailed, match="cannot reach"):
        asyncio.run(client.complete(MESSAGES))


def test_retry_after_accepts_seconds_and_milliseconds_and_ignores_nonsense() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_seconds({"retry-after": "3600"}) is None
