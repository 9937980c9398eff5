"""What a call cost: configured prices, else litellm's price table by model name, else unknown.

A model is priced by its name wherever it is served: `gpt-4.1-mini` behind a gateway, a proxy or Azure
(`api_base`) costs what OpenAI charges for it, and a gateway's `openai/gpt-4.1-mini` is looked up without
its prefix too. A name litellm does not know (a local vLLM or Ollama model) has no price: its calls count
$0, and `unknown_price` lets the run say so before it spends anything when a budget is set.
`llm.input_cost_per_mtok` / `llm.output_cost_per_mtok` override the table for every model of the run.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolve.llm.litellm_loader import load_litellm
from evolve.llm.models import ModelSpec


@dataclass
class Pricing:
    """USD per million tokens, configured or from litellm's table (looked up once per model)."""

    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    _rates: dict[str, tuple[float, float] | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def configured(self) -> bool:
        return self.input_per_mtok is not None or self.output_per_mtok is not None

    def rates(self, spec: ModelSpec) -> tuple[float, float] | None:
        """(input, output) USD per token for this model; None when its price is unknown."""
        if self.configured:
            return (self.input_per_mtok or 0.0) / 1e6, (self.output_per_mtok or 0.0) / 1e6
        if spec.model not in self._rates:
            self._rates[spec.model] = table_rates(spec.model)
        return self._rates[spec.model]

    def unknown_price(self, spec: ModelSpec) -> bool:
        return self.rates(spec) is None

    def cost(self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one call; 0 for a model whose price is unknown."""
        if prompt_tokens == 0 and completion_tokens == 0:
            return 0.0
        rates = self.rates(spec)
        if rates is None:
            return 0.0
        return prompt_tokens * rates[0] + completion_tokens * rates[1]


#: the price table litellm ships (and reads itself with LITELLM_LOCAL_MODEL_COST_MAP=True)
PRICE_TABLE = "model_prices_and_context_window_backup.json"


@functools.lru_cache(maxsize=1)
def _price_table() -> dict[str, Any] | None:
    """litellm's bundled price table, read from its file: importing litellm to price a call costs about 3 s
    and 150 MB, which an OpenAI-protocol run (served by the aiohttp client) otherwise never pays."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        table = json.loads((Path(next(iter(spec.submodule_search_locations))) / PRICE_TABLE).read_text())
    except (OSError, ValueError):
        return None
    return table if isinstance(table, dict) else None


def table_rates(model: str) -> tuple[float, float] | None:
    """litellm's price of `model`, tried as written and without a leading `provider/` (gateways' names)."""
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    table = _price_table()
    if table is not None:
        for name in names:
            price = _per_token(table.get(name))
            if price is not None:
                return price
        return None
    litellm = load_litellm()
    for name in names:
        try:
            info = litellm.get_model_info(name)
        except Exception:  # litellm raises for names missing from its table
            continue
        price = _per_token(info)
        if price is not None:
            return price
    return None


def _per_token(info: Any) -> tuple[float, float] | None:
    """(input, output) USD per token from a price-table entry; None when the entry prices neither."""
    if not isinstance(info, Mapping):
        return None
    inp, out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if inp is None and out is None:
        return None
    return float(inp or 0.0), float(out or 0.0)


def estimate_tokens(spec: ModelSpec, messages: list[dict[str, str]], reply: str) -> tuple[int, int]:
    """Prompt and completion tokens counted with litellm's tokenizer for the model (its default for
    names it does not know), for servers whose replies carry no `usage`."""
    litellm = load_litellm()
    try:
        prompt = int(litellm.token_counter(model=spec.model, messages=messages))
        completion = int(litellm.token_counter(model=spec.model, text=reply)) if reply else 0
    except Exception:  # a tokenizer that cannot load: about four characters a token
        prompt = sum(len(m.get("content") or "") for m in messages) // 4
        completion = len(reply) // 4
    return prompt, completion
