"""Which models a configuration names, with provider prefixes, keys and the settings to blame."""

from __future__ import annotations

from typing import Any

import pytest
from hydra import compose, initialize_config_module

from evolve.config import register
from evolve.errors import ConfigError, LLMError
from evolve.llm.models import ModelSpec, model_specs, require_key

register()


def llm(*overrides: str) -> Any:
    with initialize_config_module("evolve.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides)).llm


def test_every_llm_option_composes() -> None:
    for option in ("offline", "openai", "anthropic", "ollama", "vllm", "openai_compatible", "ensemble"):
        assert llm(f"llm={option}").name == option


def test_openai_reads_its_key_from_openai_api_key() -> None:
    (spec,) = model_specs(llm("llm=openai", "llm.model=gpt-4.1-mini"))
    assert spec == ModelSpec("gpt-4.1-mini", "gpt-4.1-mini", "openai", None, "OPENAI_API_KEY")
    (spec,) = model_specs(llm("llm=anthropic"))
    assert spec.api_key_env == "ANTHROPIC_API_KEY" and spec.model.startswith("anthropic/")


def test_ollama_and_vllm_get_their_litellm_prefix_for_a_bare_name() -> None:
    (spec,) = model_specs(llm("llm=ollama", "llm.model=qwen2.5-coder:7b"))
    assert (spec.key, spec.model, spec.api_base, spec.api_key_env) == (
        "qwen2.5-coder:7b", "ollama_chat/qwen2.5-coder:7b", "http://localhost:11434", None)
    (spec,) = model_specs(llm("llm=vllm", "llm.model=Qwen/Qwen2.5-Coder-7B"))
    assert spec.model == "hosted_vllm/Qwen/Qwen2.5-Coder-7B"
    (spec,) = model_specs(llm("llm=vllm", "llm.model=openai/served"))
    assert spec.model == "openai/served"


def test_openai_compatible_uses_the_sdk_with_the_given_base() -> None:
    (spec,) = model_specs(llm("llm=openai_compatible", "llm.api_base=http://127.0.0.1:9/v1", "llm.model=m"))
    assert (spec.provider, spec.model, spec.api_base, spec.api_key_env) == ("openai", "m", "http://127.0.0.1:9/v1", None)


def test_an_ensemble_lists_its_models_with_weights_and_settings() -> None:
    specs = model_specs(llm("llm=ensemble", "llm.models=[{model: gpt-4.1-mini, weight: 0.8}, "
                            "{model: anthropic/claude-sonnet-4-5, weight: 0.2, api_key_env: MY_KEY}]"))
    assert [(s.key, s.weight, s.api_key_env, s.setting) for s in specs] == [
        ("gpt-4.1-mini", 0.8, None, "llm.models[0].model"),
        ("anthropic/claude-sonnet-4-5", 0.2, "MY_KEY", "llm.models[1].model")]
    assert specs[1].key_setting() == "llm.models[1].api_key_env"


def test_the_same_model_twice_gets_distinct_keys() -> None:
    specs = model_specs(llm("llm=ensemble", "llm.models=[{model: m, api_base: 'http://a/v1'}, "
                            "{model: m, api_base: 'http://b/v1'}]"))
    assert [s.key for s in specs] == ["m", "m#2"]


def test_a_missing_model_names_llm_model() -> None:
    with pytest.raises(ConfigError, match=r"^llm.model: no model set for llm=vllm"):
        model_specs(llm("llm=vllm"))


def test_all_zero_weights_are_rejected() -> None:
    with pytest.raises(ConfigError, match="every weight is zero"):
        model_specs(llm("llm=ensemble", "llm.models=[{model: a, weight: 0}]"))


def test_an_unset_key_variable_names_the_setting_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (spec,) = model_specs(llm("llm=openai"))
    with pytest.raises(LLMError, match=r"^llm.api_key_env=OPENAI_API_KEY: the environment variable OPENAI_API_KEY"):
        require_key(spec)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    require_key(spec)
    assert spec.api_key() == "sk-x"


def test_litellm_spelling_of_an_openai_model_works_with_llm_openai() -> None:
    (spec,) = model_specs(llm("llm=openai", "llm.model=openai/gpt-4.1-mini"))
    assert (spec.key, spec.model) == ("openai/gpt-4.1-mini", "gpt-4.1-mini")
    (gateway,) = model_specs(llm("llm=openai", "llm.model=openai/gpt-4.1-mini", "llm.api_base=http://gw/v1"))
    assert gateway.model == "openai/gpt-4.1-mini"  # a gateway may serve it by that very name


def test_another_providers_model_with_llm_openai_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"^llm\.model=anthropic/claude-sonnet-4-5: llm\.provider=openai .* "
                                          r"use llm\.provider=litellm"):
        model_specs(llm("llm=openai", "llm.model=anthropic/claude-sonnet-4-5"))
