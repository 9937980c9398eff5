"""Chat clients: litellm (any provider string) and the openai SDK (any OpenAI-compatible `base_url`).

One retry layer, always the library's: the openai SDK retries 408/409/429/5xx, timeouts and broken
connections with exponential backoff and honours Retry-After. litellm hands `max_retries` to that same
SDK for OpenAI-protocol providers (openai/…, azure/…); for providers it serves with its own HTTP code
(anthropic/…, ollama_chat/…, hosted_vllm/…) a one-deployment litellm Router retries instead, since
litellm's per-call `num_retries` does not resend those in the litellm this was built against. Clients
are created per event loop (the runner uses one loop for preflight and another for the run).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from evolve.llm.litellm_loader import load_litellm
from evolve.llm.models import ModelSpec

SDK_PROVIDERS = frozenset({"openai", "azure", "custom_openai"})
PLACEHOLDER_KEY = "not-needed"  # the openai SDK insists on a key even for servers that want none


@dataclass(frozen=True)
class CallSettings:
    """Per-call settings shared by every model of a run."""

    temperature: float = 0.8
    max_tokens: int = 4096
    timeout_s: float = 120.0
    max_retries: int = 4


@dataclass(frozen=True)
class Completion:
    """A model's reply and what it reported using."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


class CallFailed(Exception):
    """A call that failed after the library's retries; `status` is `timeout` or `error`."""

    def __init__(self, message: str, status: str = "error") -> None:
        super().__init__(message)
        self.status = status

    @classmethod
    def from_exception(cls, exc: BaseException, where: str) -> CallFailed:
        import openai

        text = " ".join(str(exc).split())[:500] or exc.__class__.__name__
        if isinstance(exc, openai.APITimeoutError):
            return cls(f"timed out at {where} (llm.timeout_s, after llm.max_retries retries): {text}", "timeout")
        if isinstance(exc, openai.APIConnectionError):
            return cls(f"cannot reach {where}: {text}")
        status = getattr(exc, "status_code", None)
        prefix = f"HTTP {status} from {where}" if isinstance(status, int) else f"{exc.__class__.__name__} at {where}"
        return cls(f"{prefix}: {text}")


class ChatClient(Protocol):
    """Sends one chat request (with the library's retries) and returns the reply."""

    spec: ModelSpec
    settings: CallSettings

    async def complete(self, messages: list[dict[str, str]]) -> Completion: ...

    async def aclose(self) -> None: ...


def _quiet_http_logs() -> None:
    """The openai SDK's HTTP library logs every request at INFO; keep that out of the run's log."""
    for name in ("httpx", "httpx2"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def make_client(spec: ModelSpec, settings: CallSettings) -> ChatClient:
    _quiet_http_logs()
    return OpenAIClient(spec, settings) if spec.provider == "openai" else LiteLLMClient(spec, settings)


def where(spec: ModelSpec) -> str:
    return f"{spec.model}" + (f" via {spec.api_base}" if spec.api_base else "")


def _completion(resp: Any) -> Completion:
    choices = getattr(resp, "choices", None) or []
    if not choices:
        raise CallFailed("the reply has no choices")
    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None) or ""
    usage = getattr(resp, "usage", None)
    return Completion(text=str(text), prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                      completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                      finish_reason=getattr(choices[0], "finish_reason", None))


class OpenAIClient:
    """The openai SDK's AsyncOpenAI against `api_base` (vLLM, llama.cpp, LM Studio, Ollama's /v1, OpenAI)."""

    def __init__(self, spec: ModelSpec, settings: CallSettings) -> None:
        self.spec, self.settings = spec, settings
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            import openai

            _quiet_http_logs()
            key = self.spec.api_key() or (PLACEHOLDER_KEY if self.spec.api_base else None)
            self._clients[loop] = openai.AsyncOpenAI(base_url=self.spec.api_base, api_key=key,
                                                     timeout=self.settings.timeout_s,
                                                     max_retries=self.settings.max_retries)
        return self._clients[loop]

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        limit = "max_tokens" if self.spec.api_base else "max_completion_tokens"
        try:
            resp = await self._client().chat.completions.create(
                model=self.spec.model, messages=messages, temperature=self.settings.temperature,
                **{limit: self.settings.max_tokens})
        except Exception as exc:
            raise CallFailed.from_exception(exc, where(self.spec)) from exc
        return _completion(resp)

    async def list_models(self) -> list[str]:
        """The model ids the endpoint serves (GET /models)."""
        page = await self._client().models.list()
        return [m.id for m in page.data]

    async def aclose(self) -> None:
        """Close the client of the running loop; clients of finished loops are dropped (their loop is gone)."""
        clients, self._clients = self._clients, weakref.WeakKeyDictionary()
        mine = clients.get(asyncio.get_running_loop())
        if mine is not None:
            try:
                await mine.close()
            except Exception:
                pass


class LiteLLMClient:
    """litellm.acompletion for any provider string; `api_base` for self-hosted servers."""

    def __init__(self, spec: ModelSpec, settings: CallSettings) -> None:
        self.spec, self.settings = spec, settings
        self._provider: str | None = None
        self._routers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    @property
    def provider(self) -> str | None:
        """litellm's provider for the model (None when litellm cannot tell)."""
        if self._provider is None:
            litellm = load_litellm()
            try:
                self._provider = str(litellm.get_llm_provider(self.spec.model, api_base=self.spec.api_base)[1])
            except Exception:
                return None
        return self._provider

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.spec.model, "timeout": self.settings.timeout_s}
        if self.spec.api_base:
            params["api_base"] = self.spec.api_base
        key = self.spec.api_key()
        if key is None and self.spec.api_base and self.provider in SDK_PROVIDERS:
            key = PLACEHOLDER_KEY
        if key is not None:
            params["api_key"] = key
        return params

    def _router(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop not in self._routers:
            litellm = load_litellm()
            self._routers[loop] = litellm.Router(
                model_list=[{"model_name": "evolve", "litellm_params": self._params()}],
                num_retries=self.settings.max_retries, timeout=self.settings.timeout_s, disable_cooldowns=True)
        return self._routers[loop]

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None,
                       retries: int | None = None) -> Completion:
        litellm = load_litellm()
        common = {"messages": messages, "temperature": self.settings.temperature,
                  "max_tokens": max_tokens or self.settings.max_tokens, "drop_params": True}
        try:
            if retries is not None:  # preflight probe: no retries, straight to the endpoint
                resp = await litellm.acompletion(**self._params(), **common, max_retries=retries)
            elif self.provider in SDK_PROVIDERS:
                resp = await litellm.acompletion(**self._params(), **common, max_retries=self.settings.max_retries)
            else:
                resp = await self._router().acompletion(model="evolve", **common)
        except Exception as exc:
            raise CallFailed.from_exception(exc, where(self.spec)) from exc
        return _completion(resp)

    async def aclose(self) -> None:
        self._routers = weakref.WeakKeyDictionary()
