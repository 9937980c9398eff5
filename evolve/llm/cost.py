"""What a call cost: configured prices, else litellm's price table, else nothing (local models)."""

from __future__ import annotations

from dataclasses import dataclass

from evolve.llm.litellm_loader import load_litellm
from evolve.llm.models import ModelSpec


@dataclass(frozen=True)
class Pricing:
    """`llm.input_cost_per_mtok` / `llm.output_cost_per_mtok` (USD per million tokens) override litellm."""

    input_per_mtok: float | None = None
    output_per_mtok: float | None = None

    @property
    def configured(self) -> bool:
        return self.input_per_mtok is not None or self.output_per_mtok is not None

    def cost(self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one call; 0 for a model neither configured nor in litellm's table."""
        if self.configured:
            return (prompt_tokens * (self.input_per_mtok or 0.0)
                    + completion_tokens * (self.output_per_mtok or 0.0)) / 1e6
        if spec.provider == "openai" and spec.api_base is not None:
            return 0.0  # an OpenAI-compatible local server: its model names say nothing about a price
        if prompt_tokens == 0 and completion_tokens == 0:
            return 0.0
        try:
            litellm = load_litellm()
            inp, out = litellm.cost_per_token(model=spec.model, prompt_tokens=prompt_tokens,
                                              completion_tokens=completion_tokens)
            return float(inp) + float(out)
        except Exception:  # litellm raises for models missing from its table: unknown means free
            return 0.0
