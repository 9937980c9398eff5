"""The scripted OpenAI chat-completions server, spoken to over plain HTTP."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest

from evolve.testing.llm_server import RecordedRequest, Reply, ScriptedLLMServer


def post(server: ScriptedLLMServer, body: dict[str, Any] | None = None, key: str | None = None,
         timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    payload = body if body is not None else {"model": "scripted-model", "messages": [{"role": "user", "content": "hi"}]}
    conn.request("POST", "/v1/chat/completions", json.dumps(payload), headers)
    resp = conn.getresponse()
    try:
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get(server: ScriptedLLMServer, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body


def test_replies_come_in_script_order_with_the_scripted_usage() -> None:
    with ScriptedLLMServer([Reply.text("first", prompt_tokens=11, completion_tokens=3), "second"]) as server:
        status, _, body = post(server)
        assert status == 200
        data = json.loads(body)
        assert data["choices"][0]["message"] == {"role": "assistant", "content": "first"}
        assert data["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
        assert json.loads(post(server)[2])["choices"][0]["message"]["content"] == "second"
        assert [r.reply.content for r in server.completions if r.reply] == ["first", "second"]
        assert server.completions[0].messages == [{"role": "user", "content": "hi"}]


def test_an_exhausted_script_asks_the_responder_then_the_default_then_refuses() -> None:
    def responder(req: RecordedRequest) -> str | None:
        return "from responder" if "please" in req.prompt_text else None

    with ScriptedLLMServer([], responder=responder) as server:
        body = {"model": "m", "messages": [{"role": "user", "content": "please"}]}
        assert json.loads(post(server, body)[2])["choices"][0]["message"]["content"] == "from responder"
        status, _, raw = post(server)
        assert status == 400 and "script exhausted" in json.loads(raw)["error"]["message"]
        server.default = Reply.text("fallback")
        assert json.loads(post(server)[2])["choices"][0]["message"]["content"] == "fallback"


def test_rate_limit_replies_carry_retry_after_and_an_openai_error_body() -> None:
    with ScriptedLLMServer([Reply.rate_limited(retry_after=2.5), Reply.server_error(503)]) as server:
        status, headers, raw = post(server)
        assert status == 429 and headers["retry-after"] == "2.5"
        assert json.loads(raw)["error"]["type"] == "rate_limit_error"
        assert post(server)[0] == 503


def test_a_truncated_body_is_cut_short_of_its_content_length() -> None:
    with ScriptedLLMServer([Reply.truncated("x" * 200)]) as server, pytest.raises(http.client.IncompleteRead):
        post(server)


def test_a_connection_is_kept_alive_across_requests_and_closed_after_a_cut_body() -> None:
    with ScriptedLLMServer(["one", "two", Reply.truncated("x" * 200)]) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        try:
            replies, socks = [], []
            for _ in range(2):
                conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                replies.append(json.loads(resp.read())["choices"][0]["message"]["content"])
                socks.append(conn.sock)
            assert replies == ["one", "two"] and socks[0] is socks[1] is not None  # one connection, two answers
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            with pytest.raises(http.client.IncompleteRead):
                resp.read()
        finally:
            conn.close()


def test_a_slow_reply_waits_before_answering() -> None:
    with ScriptedLLMServer([Reply.slow("late", delay_s=0.4)]) as server:
        start = time.monotonic()
        assert post(server)[0] == 200
        assert time.monotonic() - start >= 0.4


def test_a_raw_body_is_sent_verbatim() -> None:
    with ScriptedLLMServer([Reply(raw_body="{not json")]) as server:
        assert post(server)[2] == b"{not json"


def test_models_are_listed_and_unknown_models_are_refused() -> None:
    with ScriptedLLMServer(["never sent"], models=["a", "b"]) as server:
        assert get(server, "/v1/models") == (200, {"object": "list", "data": [
            {"id": "a", "object": "model", "created": 0, "owned_by": "scripted"},
            {"id": "b", "object": "model", "created": 0, "owned_by": "scripted"}]})
        status, _, raw = post(server, {"model": "c", "messages": []})
        assert status == 404 and json.loads(raw)["error"]["code"] == "model_not_found"
        assert server.remaining == 1


def test_a_server_without_a_model_list_answers_404() -> None:
    with ScriptedLLMServer(list_models=False) as server:
        assert get(server, "/v1/models")[0] == 404


def test_a_required_key_is_checked() -> None:
    with ScriptedLLMServer(["ok"], api_key="sk-1") as server:
        assert post(server)[0] == 401
        assert post(server, key="sk-1")[0] == 200
        assert server.completions[-1].headers["authorization"] == "Bearer sk-1"


def test_script_entries_load_from_json() -> None:
    assert Reply.from_json("text") == Reply(content="text")
    assert Reply.from_json({"status": 429, "retry_after": 1}) == Reply(status=429, retry_after=1)
    with pytest.raises(ValueError, match="unknown reply fields"):
        Reply.from_json({"colour": "red"})
