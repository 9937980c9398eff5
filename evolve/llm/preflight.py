"""Before any work: is the key there, does the endpoint answer, does it know the model?

Each failure is one LLMError line naming the setting to fix. A server given by `api_base` is asked for
its model list (GET /models, or Ollama's /api/tags); a cloud provider (no api_base), or a server without
a model list, gets a one-token probe request, without retries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from evolve.errors import EvolveError, LLMError
from evolve.llm.clients import (
    CallFailed,
    CallSettings,
    ChatClient,
    Completion,
    LiteLLMClient,
    make_client,
)
from evolve.llm.litellm_loader import load_litellm
from evolve.llm.models import ModelSpec, model_specs, require_key
from evolve.llm.providers import OPENAI_API, get_provider

LIST_TIMEOUT_S = 10.0
PROBE = [{"role": "user", "content": "Reply with the single word: ok"}]


@dataclass(frozen=True)
class Check:
    """A model that passed: how it was checked, and the probe's reply if one was sent (it cost tokens)."""

    spec: ModelSpec
    detail: str
    probe: Completion | None = None


async def check_model(spec: ModelSpec, client: ChatClient) -> Check:
    """Check one model; raise LLMError naming the setting to fix."""
    require_key(spec)
    provider = get_provider(spec.provider)
    native = await provider.check(spec, client)
    base = spec.api_base or provider.default_api_base
    if base:
        ollama = spec.provider == "litellm" and spec.model.startswith(("ollama/", "ollama_chat/"))
        served = await asyncio.to_thread(_list_models, spec, base, ollama)
        if served is not None:
            names = set(served) | ({n.removesuffix(":latest") for n in served} if ollama else set())
            if native not in names:
                shown = ", ".join(sorted(served)[:12]) or "none"
                raise LLMError(f"{spec.setting}={spec.key}: the server at {base} does not serve this "
                               f"model (it serves: {shown})")
            return Check(spec, f"{base} serves {native}")
    completion = await _probe(spec, client)
    return Check(spec, f"{spec.model} answered a one-token probe", completion)


def check_openai(spec: ModelSpec) -> str:
    """The OpenAI protocol's own checks: a key for OpenAI's API; the model is listed as written."""
    if not spec.api_base and not (spec.api_key() or os.environ.get("OPENAI_API_KEY")):
        raise LLMError(f"{spec.key_setting()}: no API key for the OpenAI API (OPENAI_API_KEY is not set); "
                       f"export it, name your key's variable in {spec.key_setting()}, or set "
                       f"{spec.base_setting()} to your server")
    return spec.model


def check_litellm(spec: ModelSpec, client: ChatClient) -> str:
    """litellm's checks: it can route the model, and the key its provider expects is set; the model is
    listed without litellm's provider prefix."""
    assert isinstance(client, LiteLLMClient)
    provider = client.provider
    if provider is None:
        raise LLMError(f"{spec.setting}={spec.model}: litellm cannot tell which provider serves this model; "
                       "write it with the provider prefix, e.g. openai/…, anthropic/…, ollama_chat/…, "
                       "hosted_vllm/…")
    if not spec.api_key_env and not spec.api_base:
        missing = load_litellm().validate_environment(model=spec.model).get("missing_keys") or []
        if missing:
            raise LLMError(f"{spec.setting}={spec.model}: {', '.join(missing)} is not set; export it, or set "
                           f"{spec.key_setting()} to the variable that holds the key")
    return spec.model.split("/", 1)[1] if spec.model.startswith(f"{provider}/") else spec.model


def _list_models(spec: ModelSpec, base: str, ollama: bool) -> list[str] | None:
    """The model names the server lists; None when it has no model list."""
    base = base.rstrip("/")
    url = base.removesuffix("/v1") + "/api/tags" if ollama else base + "/models"
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    key = spec.api_key() or (os.environ.get("OPENAI_API_KEY") if base == OPENAI_API else None)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=LIST_TIMEOUT_S) as resp:
            payload = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise LLMError(f"{spec.key_setting()}: the server at {base} rejected the API key "
                           f"(HTTP {exc.code}); check the key in "
                           f"{spec.api_key_env or 'the variable named by ' + spec.key_setting()}") from exc
        if exc.code in (404, 405):
            return None
        raise LLMError(f"{spec.base_setting()}={base}: the server answered HTTP {exc.code} to "
                       f"GET {url}; is this the right URL?") from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LLMError(f"{spec.base_setting()}={base}: cannot connect ({reason}); start the server or "
                       f"fix {spec.base_setting()}") from exc
    except json.JSONDecodeError as exc:
        raise LLMError(f"{spec.base_setting()}={base}: GET {url} did not return JSON; is this an "
                       "OpenAI-compatible endpoint (usually ending in /v1)?") from exc
    items: list[Any] = (payload.get("models" if ollama else "data") or []) if isinstance(payload, dict) else []
    return [str(m.get("name") or m.get("model") or m.get("id")) for m in items if isinstance(m, dict)]


async def _probe(spec: ModelSpec, client: ChatClient) -> Completion:
    settings = CallSettings(temperature=0.0, max_tokens=1, timeout_s=min(30.0, client.settings.timeout_s),
                            max_retries=0)
    try:
        if isinstance(client, LiteLLMClient):
            return await client.complete(PROBE, max_tokens=1, retries=0)
        probe = make_client(spec, dataclasses.replace(settings, client=client.settings.client))
        try:
            return await probe.complete(PROBE)
        finally:
            await probe.aclose()
    except CallFailed as exc:
        text = str(exc)
        if "HTTP 401" in text or "HTTP 403" in text:
            raise LLMError(f"{spec.key_setting()}: the API key was rejected for {spec.model} ({text[:200]})") from exc
        base = (spec.api_base or "").rstrip("/")
        if "HTTP 404" in text and base and not base.endswith("/v1") and "model_not_found" not in text:
            raise LLMError(f"{spec.base_setting()}={spec.api_base}: nothing answers at {base}/models nor at "
                           f"{base}/chat/completions (HTTP 404); OpenAI-compatible servers (vLLM, llama.cpp, "
                           f"LM Studio, Ollama) serve under /v1: try {spec.base_setting()}={base}/v1") from exc
        if "HTTP 404" in text or "model_not_found" in text or "does not exist" in text:
            raise LLMError(f"{spec.setting}={spec.key}: the provider does not know this model ({text[:200]})") from exc
        if exc.status == "timeout" or "cannot reach" in text:
            target = f"{spec.base_setting()}={spec.api_base}" if spec.api_base else spec.setting + "=" + spec.key
            raise LLMError(f"{target}: the endpoint did not answer ({text[:200]})") from exc
        raise LLMError(f"{spec.setting}={spec.key}: the probe request failed: {text[:300]}") from exc


def run_check(cfg: Any, console: Console) -> int:
    """`evolve llm check`: check every configured model, one line each; 0 when all pass, else 1."""
    from evolve.llm.factory import call_settings
    from evolve.llm.providers import provider_names

    if cfg.llm.provider not in provider_names():
        console.print(f"llm={cfg.llm.name}: the {cfg.llm.provider} mutator calls no LLM; nothing to check")
        return 0
    specs = model_specs(cfg.llm)
    settings = call_settings(cfg.llm)

    async def check_all() -> list[tuple[ModelSpec, Check | EvolveError]]:
        out: list[tuple[ModelSpec, Check | EvolveError]] = []
        for spec in specs:
            client = make_client(spec, settings)
            try:
                out.append((spec, await check_model(spec, client)))
            except EvolveError as exc:
                out.append((spec, exc))
            finally:
                await client.aclose()
        return out

    failed = 0
    for spec, result in asyncio.run(check_all()):
        if isinstance(result, Check):
            console.print(f"[green]ok[/]   {spec.key}: {result.detail}", soft_wrap=True, highlight=False)
        else:
            failed += 1
            console.print(f"[red]fail[/] {result}", soft_wrap=True, highlight=False)
    return 1 if failed else 0
