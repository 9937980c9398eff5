"""What a model is told in a real run through the CLI: per-class feedback, the parent's earlier children with
their NAME/IDEA lines and outcomes, and a run summary with the median prompt and completion tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evolve.archive import Archive
from evolve.testing.llm_server import Reply, ScriptedLLMServer


def answer(name: str, expr: str, **kw: Any) -> Reply:
    """A reply as a model writes it when asked for NAME/IDEA lines, slow enough for the previous child to be
    evaluated before the next prompt is written."""
    return Reply.slow(f"NAME: {name}\nIDEA: try {expr}\n```python\ndef priority(p, d, t):\n    return {expr}\n```\n",
                      1.5, prompt_tokens=kw.get("prompt_tokens", 1000), completion_tokens=kw.get("completion", 50))


@pytest.mark.slow
def test_prompts_carry_feedback_and_the_parents_history_and_the_summary_the_median_tokens(cli: Any,
                                                                                        tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    script = [answer("zero slack", "d // (t - t)", prompt_tokens=900, completion=40),
              answer("plain due date", "d", prompt_tokens=1000, completion=50),
              answer("late first", "d - 2 * t", prompt_tokens=1100, completion=60)]
    with ScriptedLLMServer(script) as server:
        proc = cli(["run", "llm=openai_compatible", f"llm.api_base={server.url}", "llm.model=scripted-model",
                    "search=sequential", "llm.fix_rate=0", "llm.max_concurrency=1", "search.iterations=2",  # the duplicate costs no evaluation
                    "evaluator.workers=1", f"hydra.run.dir={run_dir}"], timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        prompts = [r.messages[-1]["content"] for r in server.completions]
    archive = Archive.for_run_dir(run_dir)
    crashed, duplicate, _ = archive.programs(archive.get_run().id, roles=("candidate",))
    assert crashed.name == "zero slack — try d // (t - t)" and crashed.status == "crash"
    assert duplicate.status == "duplicate"
    assert "Where it loses: gap per due-date class" in prompts[0]
    third = prompts[2]
    assert f'- #{crashed.id} "zero slack — try d // (t - t)": crash: ' in third and "ZeroDivisionError" in third
    assert f'- #{duplicate.id} "plain due date — try d": duplicate: same program as #' in third
    assert "LLM: 3 calls" in proc.stdout and "median tokens per call: prompt 1,000, completion 50" in proc.stdout
