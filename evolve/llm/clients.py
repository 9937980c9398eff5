"""Chat clients: litellm (any provider string) and the OpenAI protocol (any OpenAI-compatible `base_url`).

The OpenAI protocol has two clients: the openai SDK (`llm.client=sdk`) and, by default, a direct
aiohttp client (`llm.client=aiohttp`) that sends the same request and reads the same reply at about a
fifth of the SDK's CPU per call (bench/llm_clients.py: ~1 ms against ~5 ms), which is what limits the
iteration rate when the model answers fast. Both retry 408/409/429/5xx, timeouts and broken connections
`max_retries` times with exponential backoff and honour Retry-After, as the SDK does.

One retry layer, always one library's: the openai SDK's, or the aiohttp client's loop. litellm hands `max_retries` to that same
SDK for OpenAI-protocol providers (openai/…, azure/…); for providers it serves with its own HTTP code
(anthropic/…, ollama_chat/…, hosted_vllm/…) a one-deployment litellm Router retries instead, since
litellm's per-call `num_retries` does not resend those in the litellm this was built against. Clients
are created per event loop (the runner uses one loop for preflight and another for the run).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
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
    #: the client for the OpenAI protocol: aiohttp (lean, default) or sdk (the openai SDK)
    client: str = "aiohttp"
    #: Ollama's context size (options.num_ctx); None leaves the server's default (2048 or 4096 tokens in
    #: Ollama, which silently cuts a longer prompt)
    num_ctx: int | None = None


@dataclass(frozen=True)
class Completion:
    """A model's reply and what it reported using, with what the archive keeps about the call."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    #: the reasoning the server sent apart from the content (`reasoning_content` / `reasoning`)
    reasoning: str | None = None
    request_id: str | None = None  # the provider's id of the request (x-request-id, else the body's id)
    retries: int = 0  # attempts beyond the first
    retry_statuses: tuple[str, ...] = ()  # why each failed attempt failed: "429", "500", "timeout", "malformed"…
    usage_known: bool = True  # False: the reply carried no usage, so tokens (and cost) are unknown


class CallFailed(Exception):
    """A call that failed after the library's retries; `status` is `timeout` or `error`."""

    def __init__(self, message: str, status: str = "error", retry_statuses: tuple[str, ...] = (),
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_statuses = retry_statuses
        self.retries = max(0, len(retry_statuses) - 1)
        self.request_id = request_id

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
    """The client of the model's provider (evolve/llm/providers.py)."""
    from evolve.llm.providers import get_provider

    _quiet_http_logs()
    return get_provider(spec.provider, spec.setting.rsplit(".", 1)[0] + ".provider").client(spec, settings)


def where(spec: ModelSpec) -> str:
    return f"{spec.model}" + (f" via {spec.api_base}" if spec.api_base else "")


def _protocol_key(spec: ModelSpec) -> str | None:
    """The key an OpenAI-protocol request carries: the configured one, or a placeholder for a server of
    our own (api_base) that wants none."""
    return spec.api_key() or (PLACEHOLDER_KEY if spec.api_base else None)


def _token_limit_field(spec: ModelSpec) -> str:
    """OpenAI's own API takes max_completion_tokens; OpenAI-compatible servers still expect max_tokens."""
    return "max_tokens" if spec.api_base else "max_completion_tokens"


def _completion(resp: Any) -> Completion:
    """A Completion from an SDK or litellm response object."""
    choices = getattr(resp, "choices", None) or []
    if not choices:
        raise CallFailed("the reply has no choices")
    message = getattr(choices[0], "message", None)
    extra = getattr(message, "model_extra", None) or {}
    reasoning = getattr(message, "reasoning_content", None) or extra.get("reasoning_content") \
        or extra.get("reasoning")
    usage = getattr(resp, "usage", None)
    request_id = getattr(resp, "_request_id", None) or getattr(resp, "id", None)
    return Completion(text=_text(getattr(message, "content", None)),
                      prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                      completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                      finish_reason=getattr(choices[0], "finish_reason", None),
                      reasoning=str(reasoning) if reasoning else None,
                      request_id=str(request_id) if request_id else None, usage_known=usage is not None)


def _text(content: Any) -> str:
    """The message content as text; gateways that send a list of parts get their text parts joined."""
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") if isinstance(part, dict) else str(getattr(part, "text", "") or "")
                       for part in content)
    return str(content or "")


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
            key = _protocol_key(self.spec)
            self._clients[loop] = openai.AsyncOpenAI(base_url=self.spec.api_base, api_key=key,
                                                     timeout=self.settings.timeout_s,
                                                     max_retries=self.settings.max_retries)
        return self._clients[loop]

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        limit = _token_limit_field(self.spec)
        try:
            resp = await self._client().chat.completions.create(
                model=self.spec.model, messages=messages, temperature=self.settings.temperature,
                **{limit: self.settings.max_tokens})
        except Exception as exc:
            raise CallFailed.from_exception(exc, where(self.spec)) from exc
        return _completion(resp)

    async def aclose(self) -> None:
        """Close the client of the running loop; clients of finished loops are dropped (their loop is gone)."""
        clients, self._clients = self._clients, weakref.WeakKeyDictionary()
        mine = clients.get(asyncio.get_running_loop())
        if mine is not None:
            try:
                await mine.close()
            except Exception:
                pass


#: the openai SDK's backoff: 0.5 s doubling to at most 8 s, with up to 25 % jitter; Retry-After up to 60 s
BACKOFF_S, BACKOFF_MAX_S, RETRY_AFTER_MAX_S = 0.5, 8.0, 60.0
RETRY_STATUSES = frozenset({408, 409, 429})
DEFAULT_API_BASE = "https://api.openai.com/v1"


class HTTPClient:
    """POST {api_base}/chat/completions over aiohttp, with the SDK's retry policy and error messages."""

    def __init__(self, spec: ModelSpec, settings: CallSettings) -> None:
        self.spec, self.settings = spec, settings
        self.url = (spec.api_base or DEFAULT_API_BASE).rstrip("/") + "/chat/completions"
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _session(self) -> Any:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            import aiohttp

            key = _protocol_key(self.spec)
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            session = self._sessions[loop] = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s))
        return session

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        import aiohttp

        limit = _token_limit_field(self.spec)
        body = {"model": self.spec.model, "messages": messages, "temperature": self.settings.temperature,
                limit: self.settings.max_tokens}
        at = where(self.spec)
        failed: list[str] = []  # why each attempt failed, for the call's record
        request_id = None
        for attempt in range(self.settings.max_retries + 1):
            last = attempt == self.settings.max_retries
            delay = None
            try:
                async with self._session().post(self.url, json=body) as resp:
                    request_id = resp.headers.get("x-request-id") or resp.headers.get("request-id") or request_id
                    if resp.status == 200:
                        raw = await resp.read()
                        try:
                            done = _completion_json(_json(raw), at)
                        except CallFailed as exc:  # HTML from a proxy, bad JSON, no choices: retried like a 5xx
                            failed.append("malformed")
                            if last:
                                raise CallFailed(str(exc), retry_statuses=tuple(failed),
                                                 request_id=request_id) from None
                        else:
                            return dataclasses.replace(done, request_id=request_id or done.request_id,
                                                       retries=attempt, retry_statuses=tuple(failed))
                    else:
                        failed.append(str(resp.status))
                        text = " ".join((await resp.text(errors="replace")).split())[:500]
                        if last or not (resp.status in RETRY_STATUSES or resp.status >= 500):
                            raise CallFailed(f"HTTP {resp.status} from {at}: {text or resp.reason}",
                                             retry_statuses=tuple(failed), request_id=request_id)
                        delay = retry_after_seconds(resp.headers)
            except TimeoutError:
                failed.append("timeout")
                if last:
                    raise CallFailed(f"timed out at {at} (llm.timeout_s, after llm.max_retries retries): "
                                     f"no reply in {self.settings.timeout_s:g} s", "timeout",
                                     retry_statuses=tuple(failed), request_id=request_id) from None
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                failed.append("connection")
                if last:
                    kind = "cannot reach" if isinstance(exc, aiohttp.ClientConnectorError) else "broken reply from"
                    raise CallFailed(f"{kind} {at}: {exc.__class__.__name__}: {exc}", retry_statuses=tuple(failed),
                                     request_id=request_id) from None
            await asyncio.sleep(delay if delay is not None else _backoff(attempt))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, weakref.WeakKeyDictionary()
        mine = sessions.get(asyncio.get_running_loop())
        if mine is not None:
            await mine.close()


def _backoff(attempt: int) -> float:
    import random

    return min(BACKOFF_MAX_S, BACKOFF_S * 2 ** attempt) * (1 - 0.25 * random.random())


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds the server asked us to wait (Retry-After, or retry-after-ms), when sensible."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if 0 <= seconds <= RETRY_AFTER_MAX_S:
            return seconds
    return None


def _json(raw: bytes) -> Any:
    """The parsed body, or CallFailed saying what came instead (an HTML page from a proxy, cut JSON)."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        head = " ".join(raw[:200].decode("utf-8", "replace").split())
        what = "an HTML page" if head.lower().startswith(("<!doctype", "<html")) else f"not JSON ({exc})"
        raise CallFailed(f"malformed reply: {what}: {head[:120]!r}") from None


def _completion_json(payload: Any, at: str) -> Completion:
    """A Completion from the JSON of a chat-completions reply; CallFailed when it is not one."""
    if not isinstance(payload, dict):
        raise CallFailed(f"malformed reply from {at}: not a JSON object")
    if "error" in payload and not payload.get("choices"):
        raise CallFailed(f"error reply from {at}: {str(payload['error'])[:500]}")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CallFailed(f"malformed reply from {at}: the reply has no choices")
    message = choices[0].get("message") or {}
    if not isinstance(message, dict):
        message = {}
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else None
    return Completion(text=_text(message.get("content")), prompt_tokens=int((usage or {}).get("prompt_tokens") or 0),
                      completion_tokens=int((usage or {}).get("completion_tokens") or 0),
                      finish_reason=choices[0].get("finish_reason"),
                      reasoning=str(reasoning) if reasoning else None,
                      request_id=str(payload["id"]) if payload.get("id") else None, usage_known=usage is not None)


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
        if self.settings.num_ctx and self.provider in ("ollama", "ollama_chat"):
            common["num_ctx"] = self.settings.num_ctx
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
