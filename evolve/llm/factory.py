"""Builds the LLM mutator from an `llm` configuration (evolve/mutators/registry.py calls it)."""

from __future__ import annotations

from typing import Any

from evolve.archive import Storage
from evolve.errors import ConfigError
from evolve.llm.mutator import LLMMutator


def call_settings(llm: Any) -> Any:
    """The per-call settings of an `llm` config node."""
    from evolve.llm.clients import CallSettings

    if llm.timeout_s <= 0:
        raise ConfigError(f"llm.timeout_s={llm.timeout_s}: must be positive")
    if llm.max_retries < 0:
        raise ConfigError(f"llm.max_retries={llm.max_retries}: must be zero or positive")
    if llm.max_tokens < 1:
        raise ConfigError(f"llm.max_tokens={llm.max_tokens}: must be at least 1")
    return CallSettings(temperature=float(llm.temperature), max_tokens=int(llm.max_tokens),
                        timeout_s=float(llm.timeout_s), max_retries=int(llm.max_retries),
                        client=str(llm.client), num_ctx=llm.num_ctx)


def make_llm_mutator(cfg: Any, archive: Storage | None = None, run_id: str | None = None) -> LLMMutator:
    """The LLM mutator of `cfg.llm` (its provider, models, prompts, prices and budget)."""
    from evolve.llm.cost import Pricing
    from evolve.llm.models import model_specs
    from evolve.llm.prompts import PromptBuilder

    llm = cfg.llm
    if llm.fix_retries < 0:
        raise ConfigError(f"llm.fix_retries={llm.fix_retries}: must be zero or positive")
    for key in ("input_cost_per_mtok", "output_cost_per_mtok", "max_cost_usd"):
        value = getattr(llm, key)
        if value is not None and value < 0:
            raise ConfigError(f"llm.{key}={value}: must be zero or positive")
    prompts_dir = cfg.prompts.dir if "prompts" in cfg else None
    prompts = PromptBuilder(prompts_dir, max_tokens=int(llm.prompt_max_tokens))
    prompts.check()
    mutator = LLMMutator(model_specs(llm), settings=call_settings(llm),
                         pricing=Pricing(llm.input_cost_per_mtok, llm.output_cost_per_mtok),
                         selection=str(llm.selection),
                         mode_weights=(float(llm.diff_prob), float(llm.full_prob), float(llm.crossover_prob)),
                         fix_retries=int(llm.fix_retries), prompts=prompts,
                         archive=archive, run_id=run_id)
    mutator.budget_usd = llm.max_cost_usd
    mutator.concurrency = int(llm.max_concurrency)
    mutator.fix_rate = float(llm.fix_rate)
    mutator.history = int(llm.prompt_history)
    return mutator
