"""The litellm path against the scripted server: retries in one layer, litellm's prices, its preflight.

Slow: importing litellm takes several seconds on its own.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from llm_helpers import MDD_DIFF, make_mutator, propose

from evolve.archive import Archive
from evolve.errors import LLMError
from evolve.llm.clients import CallSettings, LiteLLMClient
from evolve.llm.cost import Pricing
from evolve.llm.litellm_loader import load_litellm
from evolve.llm.models import ModelSpec
from evolve.llm.preflight import check_model
from evolve.testing.llm_server import Reply, ScriptedLLMServer

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Items .* are using the .ReadOnly. qualifier:UserWarning")]


def spec(server: ScriptedLLMServer, model: str = "openai/scripted-model", **kw: object) -> ModelSpec:
    return ModelSpec(model, model, "litellm", server.url, **kw)  # type: ignore[arg-type]


def check(s: ModelSpec) -> None:
    async def go() -> None:
        client = LiteLLMClient(s, CallSettings(timeout_s=5, max_retries=0))
        await check_model(s, client)
        await client.aclose()
    asyncio.run(go())


def test_an_openai_protocol_model_retries_in_the_sdk_and_honours_retry_after(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.rate_limited(retry_after=1.0),
                            Reply.text(MDD_DIFF, prompt_tokens=200, completion_tokens=30)]) as server:
        start = time.monotonic()
        proposal = propose(make_mutator([spec(server)], archive, max_retries=2))
        first, second = server.completions
    assert proposal.status == "ok" and proposal.model == "openai/scripted-model"
    assert second.at - first.at >= 0.95 and time.monotonic() - start >= 0.95
    assert (proposal.prompt_tokens, proposal.completion_tokens) == (200, 30)
    (call,) = archive.llm_calls("r")
    assert call.status == "ok" and call.cost_usd == 0.0  # not in litellm's table: free


def test_a_native_provider_is_retried_by_the_router(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.server_error(), Reply.text(MDD_DIFF)]) as server:
        proposal = propose(make_mutator([spec(server, "hosted_vllm/scripted-model")], archive, max_retries=2))
        assert [r.reply.status for r in server.completions if r.reply] == [500, 200]
    assert proposal.status == "ok"


def test_exhausted_retries_are_a_stored_llm_error(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.server_error(), Reply.server_error()]) as server:
        proposal = propose(make_mutator([spec(server)], archive, max_retries=1))
    assert proposal.status == "llm_error" and "HTTP 500" in (proposal.error or "")
    assert [c.status for c in archive.llm_calls("r")] == ["error"]


def test_a_known_model_is_priced_from_litellms_table(archive: Archive) -> None:
    with ScriptedLLMServer([Reply.text(MDD_DIFF, prompt_tokens=10_000, completion_tokens=2_000)]) as server:
        proposal = propose(make_mutator([spec(server, "openai/gpt-4.1-mini")], archive))
    inp, out = load_litellm().cost_per_token(model="openai/gpt-4.1-mini", prompt_tokens=10_000,
                                             completion_tokens=2_000)
    assert inp + out > 0
    assert proposal.cost_usd == pytest.approx(inp + out)
    assert archive.llm_calls("r")[0].cost_usd == pytest.approx(inp + out)


def test_configured_prices_override_litellms_table() -> None:
    s = ModelSpec("gpt-4.1-mini", "gpt-4.1-mini", "litellm")
    assert Pricing(1.0, 4.0).cost(s, 1_000_000, 250_000) == pytest.approx(2.0)
    assert Pricing(0.0, 0.0).cost(s, 1_000_000, 250_000) == 0.0
    assert Pricing().cost(ModelSpec("x", "hosted_vllm/x", "litellm", "http://h/v1"), 1000, 1000) == 0.0


def test_preflight_names_a_model_litellm_cannot_route() -> None:
    with ScriptedLLMServer() as server, pytest.raises(LLMError, match=r"^llm\.model=my-model: litellm cannot tell"):
        check(ModelSpec("my-model", "my-model", "litellm", None))
    assert server.requests == []


def test_preflight_names_the_key_litellm_expects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    s = ModelSpec("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5", "litellm",
                  setting="llm.models[1].model")
    with pytest.raises(LLMError, match=r"^llm\.models\[1\]\.model=anthropic/claude-sonnet-4-5: ANTHROPIC_API_KEY is "
                                       r"not set.*llm\.models\[1\]\.api_key_env"):
        check(s)


def test_preflight_reads_ollamas_model_list() -> None:
    with ScriptedLLMServer(models=["qwen2.5-coder:7b"]) as server:
        base = server.url.removesuffix("/v1")
        check(ModelSpec("qwen2.5-coder:7b", "ollama_chat/qwen2.5-coder:7b", "litellm", base))
        with pytest.raises(LLMError, match="does not serve this model"):
            check(ModelSpec("llama3", "ollama_chat/llama3", "litellm", base))
        assert [r.path for r in server.requests] == ["/api/tags", "/api/tags"]


def test_the_ollama_path_sets_a_context_size_that_fits_the_prompt() -> None:
    from evolve.testing.llm_server import Reply, ScriptedLLMServer

    with ScriptedLLMServer([Reply.text("hello", prompt_tokens=12, completion_tokens=2)]) as server:
        client = LiteLLMClient(ModelSpec("m", "ollama_chat/m", "litellm", server.origin),
                               CallSettings(timeout_s=10, max_retries=0, num_ctx=16384))

        async def go() -> Any:
            try:
                return await client.complete([{"role": "user", "content": "hi"}])
            finally:
                await client.aclose()

        out = asyncio.run(go())
        (request,) = [r for r in server.requests if r.method == "POST"]
    assert request.path == "/api/chat" and request.body is not None
    assert request.body["options"]["num_ctx"] == 16384
    assert (out.text, out.prompt_tokens, out.completion_tokens) == ("hello", 12, 2)


def test_llm_ollama_sets_num_ctx_and_local_servers_give_up_in_minutes() -> None:
    from hydra import compose, initialize_config_module

    from evolve.config import register

    register()
    with initialize_config_module("evolve.conf", version_base="1.3"):
        for option in ("ollama", "vllm", "openai_compatible"):
            llm = compose("config", overrides=[f"llm={option}"]).llm
            assert llm.timeout_s * (1 + llm.max_retries) <= 600, option
        assert compose("config", overrides=["llm=ollama"]).llm.num_ctx >= 16384
