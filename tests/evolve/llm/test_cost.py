"""What calls cost: known models priced by name even behind a gateway, configured prices, and a warning
(never a silent $0) when a budget is set and the price or the usage is unknown."""

from __future__ import annotations

import asyncio
import logging

import pytest
from llm_helpers import MDD_DIFF, make_mutator, propose

from evolve.archive import Archive
from evolve.llm.cost import Pricing
from evolve.llm.models import ModelSpec
from evolve.testing.llm_server import Reply, ScriptedLLMServer

GPT_IN, GPT_OUT = 0.4 / 1e6, 1.6 / 1e6  # gpt-4.1-mini in litellm's bundled price table


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "openai/gpt-4.1-mini"])
def test_a_known_model_behind_a_gateway_is_priced_by_its_name(archive: Archive, model: str) -> None:
    with ScriptedLLMServer([Reply.text(MDD_DIFF, prompt_tokens=9000, completion_tokens=616)]) as server:
        proposal = propose(make_mutator([ModelSpec(model, model, "openai", server.url)], archive))
    assert proposal.cost_usd == pytest.approx(9000 * GPT_IN + 616 * GPT_OUT) and proposal.cost_usd > 0
    assert archive.llm_calls("r")[0].cost_usd == pytest.approx(proposal.cost_usd)


def test_configured_prices_override_the_table() -> None:
    spec = ModelSpec("gpt-4.1-mini", "gpt-4.1-mini", "openai", "http://127.0.0.1:9/v1")
    assert Pricing(1.0, 2.0).cost(spec, 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert Pricing(0.0, 0.0).cost(spec, 1_000_000, 1_000_000) == 0.0 and not Pricing(0.0, 0.0).unknown_price(spec)


def test_an_unknown_local_model_has_an_unknown_price() -> None:
    spec = ModelSpec("qwen2.5-coder:7b", "qwen2.5-coder:7b", "openai", "http://127.0.0.1:9/v1")
    assert Pricing().unknown_price(spec) and Pricing().cost(spec, 1000, 1000) == 0.0


def test_a_budget_with_an_unknown_price_is_said_before_the_first_call(archive: Archive,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    with ScriptedLLMServer(models=["my-model"]) as server:
        mutator = make_mutator([ModelSpec("my-model", "my-model", "openai", server.url)], archive)
        mutator.budget_usd = 2.0
        with caplog.at_level(logging.WARNING):
            assert asyncio.run(mutator.preflight()) == ()
        assert server.completions == []
    assert "llm.max_cost_usd=2 is set, but the price of llm.model=my-model is unknown" in caplog.text
    assert "llm.input_cost_per_mtok" in caplog.text
    assert [e["kind"] for e in archive.events("r")] == ["cost_warning"]
    mutator.budget_usd = None
    assert mutator.cost_warnings() == []


def test_a_reply_without_usage_is_counted_with_a_tokenizer_and_said_once(archive: Archive,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    with ScriptedLLMServer([Reply.text(MDD_DIFF, usage=False), Reply.text(MDD_DIFF, usage=False)]) as server:
        mutator = make_mutator([ModelSpec("m", "m", "openai", server.url)], archive, pricing=Pricing(1.0, 4.0))
        with caplog.at_level(logging.WARNING):
            first = propose(mutator)
            second = propose(mutator)
    assert first.prompt_tokens > 100 and first.completion_tokens > 5
    assert first.cost_usd == pytest.approx((first.prompt_tokens + 4 * first.completion_tokens) / 1e6)
    assert second.cost_usd > 0
    assert caplog.text.count("returns no token usage") == 1


def test_pricing_a_model_reads_the_price_table_without_importing_litellm() -> None:
    """An OpenAI-protocol run never needs litellm; importing it to price a call cost ~3 s and ~150 MB."""
    import subprocess
    import sys

    code = ("import sys; from evolve.llm.cost import table_rates; "
            "print(table_rates('openai/gpt-4.1-mini'), table_rates('a-local-model'), 'litellm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["(4e-07,", "1.6e-06)", "None", "False"], out.stdout + out.stderr
