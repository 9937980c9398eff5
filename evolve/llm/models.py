"""Which models a configuration names: one `llm.model`, or an ensemble `llm.models`, resolved to ModelSpecs.

Each spec carries what a client needs (provider, api_base, the name of the environment variable holding
its key) and `setting`, the config key to name when something about it is wrong. The `ollama` and
`vllm` options let a user write the bare model name: the litellm provider prefix is added here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from evolve.errors import ConfigError, LLMError
from evolve.llm.providers import get_provider

# llm=<option> -> the litellm prefix a bare model name gets, and the prefixes that count as already given
_PREFIXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ollama": ("ollama_chat/", ("ollama_chat/", "ollama/", "openai/")),
    "vllm": ("hosted_vllm/", ("hosted_vllm/", "openai/")),
}


@dataclass(frozen=True)
class ModelSpec:
    """One model the mutator may call."""

    key: str  # unique label: Proposal.model, the archive's model column, the bandit's arm
    model: str  # the model string handed to the client
    provider: str  # a registered LLM provider (evolve/llm/providers.py): litellm | openai | …
    api_base: str | None = None
    api_key_env: str | None = None
    weight: float = 1.0
    setting: str = "llm.model"  # the config key naming this model, for error messages

    def api_key(self) -> str | None:
        """The key from the environment variable named by api_key_env (None when no variable is named)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def key_setting(self) -> str:
        """The config key naming this model's key variable."""
        return self.setting.rsplit(".", 1)[0] + ".api_key_env" if self.setting != "llm.model" else "llm.api_key_env"

    def base_setting(self) -> str:
        return self.setting.rsplit(".", 1)[0] + ".api_base" if self.setting != "llm.model" else "llm.api_base"


def model_specs(llm: Any) -> list[ModelSpec]:
    """The models of an `llm` config node; raises ConfigError naming the key to fix."""
    provider = str(llm.provider)
    get_provider(provider)
    option = str(getattr(llm, "name", "") or "")
    entries = list(getattr(llm, "models", None) or [])
    specs: list[ModelSpec] = []
    if entries:
        for i, entry in enumerate(entries):
            setting = f"llm.models[{i}].model"
            model = _get(entry, "model")
            if not model:
                raise ConfigError(f"{setting}: empty; every ensemble entry needs a model, e.g. "
                                  "{model: gpt-4.1-mini, weight: 1}")
            w = _get(entry, "weight")
            weight = 1.0 if w is None else float(w)
            if weight < 0:
                raise ConfigError(f"llm.models[{i}].weight={weight}: must be zero or positive")
            p = _get(entry, "provider") or provider
            get_provider(p, f"llm.models[{i}].provider")
            base = _get(entry, "api_base") or llm.api_base
            name = _native(_prefixed(option, str(model), p), p, base, setting)
            specs.append(ModelSpec(key=str(model), model=name, provider=p, api_base=base,
                                   api_key_env=_get(entry, "api_key_env") or llm.api_key_env,
                                   weight=weight, setting=setting))
        if not any(s.weight > 0 for s in specs):
            raise ConfigError("llm.models: every weight is zero; give at least one model a positive weight")
    else:
        if not llm.model:
            example = (f"the name the server at {llm.api_base} serves" if llm.api_base
                       else "e.g. llm.model=gpt-4.1-mini")
            raise ConfigError(f"llm.model: no model set for llm={option or provider}; pass llm.model=NAME "
                              f"({example}), or list an ensemble in llm.models")
        name = _native(_prefixed(option, str(llm.model), provider), provider, llm.api_base, "llm.model")
        specs.append(ModelSpec(key=str(llm.model), model=name, provider=provider, api_base=llm.api_base,
                               api_key_env=llm.api_key_env))
    return _unique_keys(specs)


def _get(entry: Any, name: str, default: Any = None) -> Any:
    if isinstance(entry, dict):
        return entry.get(name, default)
    return getattr(entry, name, default)


def _native(model: str, provider: str, api_base: str | None, setting: str) -> str:
    """The name the provider's client sends for `model`."""
    return get_provider(provider).model_name(model, api_base, setting)


def _prefixed(option: str, model: str, provider: str) -> str:
    if provider != "litellm" or option not in _PREFIXES:
        return model
    prefix, known = _PREFIXES[option]
    return model if model.startswith(known) else prefix + model


def _unique_keys(specs: list[ModelSpec]) -> list[ModelSpec]:
    """Two entries naming the same model (e.g. at two servers) get distinct keys."""
    seen: dict[str, int] = {}
    out = []
    for s in specs:
        n = seen.get(s.key, 0)
        seen[s.key] = n + 1
        if n:
            s = ModelSpec(f"{s.key}#{n + 1}", s.model, s.provider, s.api_base, s.api_key_env, s.weight, s.setting)
        out.append(s)
    return out


def require_key(spec: ModelSpec) -> None:
    """Raise LLMError when the environment variable named for this model's key is unset or empty."""
    if spec.api_key_env and not os.environ.get(spec.api_key_env):
        raise LLMError(f"{spec.key_setting()}={spec.api_key_env}: the environment variable {spec.api_key_env} is "
                       f"not set (needed by {spec.setting}={spec.key}); export {spec.api_key_env}=… or point "
                       f"{spec.key_setting()} at the variable that holds the key")
