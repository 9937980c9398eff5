"""Preflight: a missing key, a dead endpoint or an unknown model is one line naming the setting to fix."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from llm_helpers import make_mutator
from rich.console import Console

from evolve.config import register
from evolve.errors import LLMError
from evolve.llm.clients import CallSettings, make_client
from evolve.llm.models import ModelSpec
from evolve.llm.preflight import Check, check_model, run_check
from evolve.testing.llm_server import Reply, ScriptedLLMServer

register()


def check(spec: ModelSpec) -> Check:
    async def go() -> Check:
        client = make_client(spec, CallSettings(timeout_s=5, max_retries=0))
        try:
            return await check_model(spec, client)
        finally:
            await client.aclose()
    return asyncio.run(go())


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_a_served_model_passes_without_spending_tokens() -> None:
    with ScriptedLLMServer(models=["m"]) as server:
        result = check(ModelSpec("m", "m", "openai", server.url))
        assert result.probe is None and "serves m" in result.detail
        assert server.completions == []


def test_an_unset_key_variable_names_llm_api_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with ScriptedLLMServer() as server, pytest.raises(LLMError, match=r"^llm\.api_key_env=NO_SUCH_KEY_VAR: "):
        check(ModelSpec("m", "m", "openai", server.url, "NO_SUCH_KEY_VAR"))


def test_the_openai_api_without_a_key_names_llm_api_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMError, match=r"^llm\.api_key_env: no API key for the OpenAI API"):
        check(ModelSpec("gpt-4.1-mini", "gpt-4.1-mini", "openai"))


def test_an_unreachable_endpoint_names_llm_api_base() -> None:
    url = dead_url()
    with pytest.raises(LLMError, match=rf"^llm\.api_base={url}: cannot connect .*start the server or fix llm\.api_base"):
        check(ModelSpec("m", "m", "openai", url))


def test_an_unknown_model_names_llm_model_and_lists_what_is_served() -> None:
    with ScriptedLLMServer(models=["qwen", "llama"]) as server, \
            pytest.raises(LLMError, match=r"^llm\.model=gpt-5: the server at .* does not serve .*llama, qwen"):
        check(ModelSpec("gpt-5", "gpt-5", "openai", server.url))


def test_an_ensemble_entry_is_named_by_its_index() -> None:
    with ScriptedLLMServer(models=["a"]) as server, pytest.raises(LLMError, match=r"^llm\.models\[1\]\.model=b"):
        check(ModelSpec("b", "b", "openai", server.url, setting="llm.models[1].model"))


def test_a_rejected_key_names_the_key_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "wrong")
    with ScriptedLLMServer(api_key="right") as server, \
            pytest.raises(LLMError, match=r"^llm\.api_key_env: the server .* rejected the API key"):
        check(ModelSpec("m", "m", "openai", server.url, "SCRIPTED_KEY"))


def test_a_server_without_a_model_list_gets_a_one_token_probe() -> None:
    with ScriptedLLMServer([Reply.text("ok", prompt_tokens=9, completion_tokens=1)], list_models=False) as server:
        result = check(ModelSpec("m", "m", "openai", server.url))
        (probe,) = server.completions
    assert result.probe is not None and result.probe.prompt_tokens == 9
    assert probe.body is not None and probe.body["max_tokens"] == 1


def test_a_probe_the_server_refuses_names_the_model() -> None:
    with ScriptedLLMServer([Reply(status=404, error="The model `m` does not exist")], list_models=False) as server, \
            pytest.raises(LLMError, match=r"^llm\.model=m: the provider does not know this model"):
        check(ModelSpec("m", "m", "openai", server.url))


def test_the_mutator_preflight_raises_the_first_problem() -> None:
    mutator = make_mutator([ModelSpec("m", "m", "openai", dead_url())])
    with pytest.raises(LLMError, match="cannot connect"):
        asyncio.run(mutator.preflight())


def cfg(*overrides: str) -> Any:
    with initialize_config_module("evolve.conf", version_base="1.3"):
        return compose("check", overrides=list(overrides))


def test_run_check_prints_one_line_per_model_and_returns_the_exit_code() -> None:
    console = Console(record=True, width=200)
    with ScriptedLLMServer(models=["a"]) as server:
        code = run_check(cfg("llm=ensemble", f"llm.models=[{{model: a, provider: openai, api_base: '{server.url}'}}, "
                             f"{{model: b, provider: openai, api_base: '{server.url}'}}]"), console)
    text = console.export_text()
    assert code == 1
    assert "ok   a: " in text and "fail llm.models[1].model=b: the server" in text


def test_run_check_of_the_offline_mutator_has_nothing_to_check() -> None:
    console = Console(record=True, width=200)
    assert run_check(cfg("llm=offline"), console) == 0
    assert "nothing to check" in console.export_text()


def test_an_api_base_without_v1_is_named_with_the_fix() -> None:
    with ScriptedLLMServer(models=["m"], root="/v1") as server:
        with pytest.raises(LLMError, match=r"^llm\.api_base=http://127\.0\.0\.1:\d+: nothing answers.*try "
                                           r"llm\.api_base=http://127\.0\.0\.1:\d+/v1$"):
            check(ModelSpec("m", "m", "openai", server.origin))
        assert "serves m" in check(ModelSpec("m", "m", "openai", server.url)).detail


def test_an_unknown_model_at_a_v1_server_still_blames_the_model() -> None:
    with ScriptedLLMServer(models=["m"], root="/v1", list_models=False) as server:
        with pytest.raises(LLMError, match=r"^llm\.model=other: the provider does not know this model"):
            check(ModelSpec("other", "other", "openai", server.url))
