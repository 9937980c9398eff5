"""LLM providers by config name (`llm.provider`): how a model is called and how preflight checks it.

Adding a provider is one `register_provider` call plus its config file under evolve/conf/llm/ (see
docs/extending.md): `llm.provider` accepts it, model entries may name it, the LLM mutator calls its
client and `evolve llm check` runs its check. Built in: `openai` (the OpenAI protocol, any
OpenAI-compatible `api_base`) and `litellm` (any provider string litellm routes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evolve.errors import ConfigError

if TYPE_CHECKING:
    from evolve.llm.clients import CallSettings, ChatClient
    from evolve.llm.models import ModelSpec


def _as_written(model: str, api_base: str | None, setting: str) -> str:
    return model


@dataclass(frozen=True)
class Provider:
    """One way of calling models: the client to build, and what preflight checks before any call."""

    name: str
    #: builds the client for one model (called once per model when the mutator is made)
    client: Callable[[ModelSpec, CallSettings], ChatClient]
    #: preflight: raise LLMError naming the setting to fix (a missing key, a model nobody serves); returns
    #: the name the endpoint lists the model under
    check: Callable[[ModelSpec, ChatClient], Awaitable[str]]
    #: the model name the client sends, from the one configured (raises ConfigError naming `setting`)
    model_name: Callable[[str, str | None, str], str] = _as_written
    #: the endpoint a model without llm.api_base is served from, when known (preflight lists its models)
    default_api_base: str | None = None


_PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Make `provider` selectable as `llm.provider=<name>` (and in `llm.models[…].provider`)."""
    _PROVIDERS[provider.name] = provider


def provider_names() -> tuple[str, ...]:
    return tuple(_PROVIDERS)


def get_provider(name: str, setting: str = "llm.provider") -> Provider:
    """The provider registered as `name`; ConfigError naming `setting` and the choices otherwise."""
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise ConfigError(f"{setting}={name}: no such LLM provider; use {' or '.join(_PROVIDERS)}") from None


# -- the built-in providers ---------------------------------------------------------------------------
OPENAI_API = "https://api.openai.com/v1"


def _openai_client(spec: ModelSpec, settings: CallSettings) -> ChatClient:
    from evolve.llm.clients import HTTPClient, OpenAIClient

    return OpenAIClient(spec, settings) if settings.client == "sdk" else HTTPClient(spec, settings)


def _litellm_client(spec: ModelSpec, settings: CallSettings) -> ChatClient:
    from evolve.llm.clients import LiteLLMClient

    return LiteLLMClient(spec, settings)


async def _check_openai(spec: ModelSpec, client: ChatClient) -> str:
    from evolve.llm.preflight import check_openai

    return check_openai(spec)


async def _check_litellm(spec: ModelSpec, client: ChatClient) -> str:
    from evolve.llm.preflight import check_litellm

    return check_litellm(spec, client)


def _openai_name(model: str, api_base: str | None, setting: str) -> str:
    """The name OpenAI's own API knows: `openai/gpt-4.1-mini` is litellm's spelling of `gpt-4.1-mini`.

    Behind an api_base the name is kept as written (a gateway may serve `openai/gpt-4.1-mini` by that name).
    """
    if api_base or "/" not in model:
        return model
    prefix, bare = model.split("/", 1)
    if prefix == "openai":
        return bare
    raise ConfigError(f"{setting}={model}: llm.provider=openai talks to OpenAI's API, which does not serve "
                      f"{prefix}/ models; use llm.provider=litellm (e.g. llm=anthropic for anthropic/…), or set "
                      "llm.api_base to the gateway that serves this name")


register_provider(Provider("litellm", client=_litellm_client, check=_check_litellm))
register_provider(Provider("openai", client=_openai_client, check=_check_openai, model_name=_openai_name,
                           default_api_base=OPENAI_API))

__all__ = ["Provider", "get_provider", "provider_names", "register_provider"]
