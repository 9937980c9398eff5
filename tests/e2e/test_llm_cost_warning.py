"""A budget with a model whose price is unknown is said before the first call, on the console and in the
archive's events: never a silent $0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evolve.archive import Archive
from evolve.testing.llm_server import Reply, ScriptedLLMServer


@pytest.mark.slow
def test_a_budget_with_an_unknown_price_is_said_before_the_first_call(cli: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    reply = Reply.text("NAME: x\n```python\ndef priority(p, d, t):\n    return d + 1\n```\n")
    with ScriptedLLMServer([reply], models=["my-local-model"]) as server:
        proc = cli(["run", "llm=openai_compatible", f"llm.api_base={server.url}", "llm.model=my-local-model",
                    "llm.max_cost_usd=2", "search.iterations=1", "evaluator.workers=1", "quiet=true",
                    f"hydra.run.dir={run_dir}"], timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "llm.max_cost_usd=2 is set, but the price of llm.model=my-local-model is unknown" in said
    archive = Archive.for_run_dir(run_dir)
    (event,) = archive.events(archive.get_run().id, kind="cost_warning")
    first_call = archive.llm_calls(archive.get_run().id)[0]
    assert event["created_at"] <= first_call.created_at and "llm.input_cost_per_mtok" in event["message"]
