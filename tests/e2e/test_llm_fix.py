"""The fix prompt through the CLI: a child that crashes is handed back to the model with its edit and its error,
and the fixed program is that child's child."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evolve.archive import Archive
from evolve.testing.llm_server import Reply, ScriptedLLMServer


def rewrite(expr: str) -> str:
    return f"NAME: try {expr}\n```python\ndef priority(p, d, t):\n    return {expr}\n```\n"


@pytest.mark.slow
def test_a_crashed_child_is_handed_back_to_be_fixed(cli: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # the second reply is slow, so the crash is known when the third proposal chooses its parent
    script = [rewrite("d // (t - t)"), Reply.slow(rewrite("d + 7"), 2.0), rewrite("max(d, t + p)")]
    with ScriptedLLMServer(script) as server:
        proc = cli(["run", "llm=openai_compatible", f"llm.api_base={server.url}", "llm.model=scripted-model",
                    "llm.fix_rate=1.0", "llm.max_concurrency=1", "search.iterations=3", "evaluator.workers=1",
                    "quiet=true", f"hydra.run.dir={run_dir}"], timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        fix_prompt = server.completions[2].messages[-1]["content"]
    archive = Archive.for_run_dir(run_dir)
    broken, _, fixed = archive.programs(archive.get_run().id, roles=("candidate",))
    assert broken.status == "crash" and "ZeroDivisionError" in (broken.error or "")
    assert fixed.parent_id == broken.id and fixed.edit_kind.startswith("fix") and fixed.status == "ok"
    assert "A program that fails" in fix_prompt and "d // (t - t)" in fix_prompt
    assert "ZeroDivisionError" in fix_prompt and "likely cause" in fix_prompt
    assert [c.kind for c in archive.llm_calls(archive.get_run().id)][-1] == "fix"
