"""Adding an LLM provider is one registration (docs/extending.md): config, mutator, client and check follow."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest
from hydra import compose, initialize_config_module
from llm_helpers import MDD_DIFF, smtt_request

from evolve.config import register, validate
from evolve.errors import ConfigError
from evolve.llm import providers
from evolve.llm.clients import CallSettings, ChatClient, Completion, HTTPClient
from evolve.llm.models import ModelSpec, model_specs
from evolve.llm.mutator import LLMMutator
from evolve.llm.preflight import check_model
from evolve.llm.providers import Provider, register_provider
from evolve.mutators.registry import make_mutator
from evolve.testing.llm_server import Reply, ScriptedLLMServer


class TaggedClient:
    """The docs' example client: the OpenAI protocol, with the model name the provider wants."""

    def __init__(self, spec: ModelSpec, settings: CallSettings) -> None:
        self.inner = HTTPClient(spec, settings)
        self.settings = settings

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        return await self.inner.complete(messages)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def check_tagged(spec: ModelSpec, client: ChatClient) -> str:
    return spec.model


@pytest.fixture
def tagged() -> Iterator[None]:
    register_provider(Provider("tagged", client=TaggedClient, check=check_tagged,
                               model_name=lambda model, base, setting: model.removeprefix("tagged/")))
    yield
    providers._PROVIDERS.pop("tagged")


def _compose(overrides: list[str]):  # type: ignore[no-untyped-def]
    register()
    with initialize_config_module(config_module="evolve.conf", version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_a_registered_provider_is_configured_called_and_checked(tagged: None) -> None:
    with ScriptedLLMServer([Reply.text(MDD_DIFF)], models=["m"]) as server:
        cfg = _compose(["llm=openai_compatible", "llm.provider=tagged", f"llm.api_base={server.url}",
                        "llm.model=tagged/m"])
        validate(cfg)
        mutator = make_mutator(cfg)
        assert isinstance(mutator, LLMMutator) and isinstance(mutator.clients[0], TaggedClient)
        assert mutator.specs[0].model == "m"

        async def go() -> None:
            assert (await check_model(mutator.specs[0], mutator.clients[0])).detail.endswith("serves m")
            proposal = await mutator.propose(smtt_request(), random.Random(0))
            assert proposal.status == "ok" and len(proposal.llm_calls) == 1
            await mutator.aclose()

        asyncio.run(go())
        (request,) = server.completions
    assert request.body is not None and request.body["model"] == "m"


def test_an_unregistered_provider_is_refused_with_the_choices() -> None:
    cfg = _compose(["llm=openai", "llm.provider=nope"])
    with pytest.raises(ConfigError, match=r"^llm\.provider: unknown provider 'nope'; use offline, litellm, openai"):
        validate(cfg)
    with pytest.raises(ConfigError, match=r"^llm\.provider=nope: no such LLM provider"):
        model_specs(cfg.llm)
