"""Archives for the browse and report tests: a real `evolve run`, and a known archive written through the
Archive API (imported by tests/evolve/browse/conftest.py and tests/evolve/report/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from evolve.archive import Archive
from evolve.archive.store import sqlite_url
from evolve.evaluation import StageResult

SEED_CODE = '''"""Seed."""


# EVOLVE-BLOCK-START
def priority(p, d, t):
    return d
# EVOLVE-BLOCK-END


def schedule(p, d):
    return sorted(range(len(p)), key=lambda k: (priority(p[k], d[k], 0), k))
'''


def variant(expr: str) -> str:
    return SEED_CODE.replace("    return d\n", f"    return {expr}\n")


def real_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of a short real `evolve run`, made once per test session (shared by the fixtures
    of both test folders through the session's base temp directory)."""
    base = tmp_path_factory.getbasetemp() / "evolve-real-run"
    done = base / "run_dir.txt"
    if done.is_file():
        return Path(done.read_text().strip())
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run([sys.executable, "-m", "evolve.cli", "run", "search.iterations=40",
                           "search.max_seconds=90", "seed=0", "quiet=true", "search.islands=2"],
                          cwd=base, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = next((base / "runs" / "smtt").iterdir())
    assert (run_dir / "archive.db").is_file() and (run_dir / "summary.json").is_file()
    done.write_text(str(run_dir))
    return run_dir


@dataclass(frozen=True)
class Built:
    """A small archive with known content (ids in insertion order)."""

    run_dir: Path
    run_id: str
    seed: int
    better: int  # child of the seed
    best: int  # child of `better`, with an LLM call linked
    crash: int  # child of `better`, crashed
    duplicate: int
    unparsed: int  # a reply that could not be parsed: no code
    baseline: int


def build_archive(run_dir: Path, run_id: str = "r-test", status: str = "finished", url: str | None = None) -> Built:
    """Write a run through the Archive API, like the loop does (into run_dir/archive.db, or into `url`)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    a = Archive(url or sqlite_url(run_dir / "archive.db"))
    try:
        a.create_run(run_id, "smtt", {"search": {"islands": 2, "feature_dims": ["code_length", "ast_nodes"],
                                                 "feature_bins": 4, "iterations": 10, "name": "evolution"},
                                      "llm": {"name": "openai", "model": "gpt-test"}}, 0, str(run_dir),
                     meta={"summary_metrics": ["score"], "reference_score": {"train": 0.0, "holdout": 0.0},
                           "metric_notes": {"score": "-gap_pct", "gap_pct": "gap to the reference"}})

        def ok(pid: int, score: float, index: int | None, cell: str, gap_extra: float = 0.0) -> None:
            m = {"score": score, "gap_pct": -score + gap_extra, "instances": 4.0}
            a.complete_program(pid, status="ok", score=score, metrics=m, error=None, cell=cell,
                               features={"code_length": 10.0}, eval_index=index, run_evaluations=index,
                               stages=[StageResult("quick", "ok", {"score": score - 1}, seconds=0.01),
                                       StageResult("train", "ok", m, seconds=0.02, stdout="hello from train")])

        seed = a.add_program(run_id, "seed", role="seed", name="seed", code=SEED_CODE, code_hash="h0",
                             edit_kind="seed")
        ok(seed, -60.0, None, "0,0")
        better = a.add_program(run_id, "j1", parent_id=seed, island=0, generation=1, code=variant("d + p"),
                               code_hash="h1", edit="replace: d -> d + p", edit_kind="offline:replace",
                               model="offline")
        ok(better, -20.0, 1, "1,0")
        best = a.add_program(run_id, "j2", parent_id=better, island=1, generation=2, code=variant("d + 2 * p"),
                             code_hash="h2", edit="<<<<<<< SEARCH\n    return d + p\n=======\n    return d + 2 * p\n"
                                                  ">>>>>>> REPLACE", edit_kind="diff", model="gpt-test",
                             prompt_tokens=1200, completion_tokens=80, cost_usd=0.0031)
        ok(best, -5.0, 2, "1,1")
        a.add_llm_calls(run_id, [dict(model="gpt-test", kind="diff", prompt="PROMPT: improve priority()",
                                      response="REPLY: return d + 2 * p", prompt_tokens=1200, completion_tokens=80,
                                      cost_usd=0.0031, latency_s=1.5, status="ok")], program_id=best)
        a.add_llm_calls(run_id, [dict(model="gpt-test", kind="diff", prompt="x", response=None, status="error",
                                      error="RateLimitError: slow down")])
        crash = a.add_program(run_id, "j3", parent_id=better, island=0, generation=2, code=variant("d / 0"),
                              code_hash="h3", edit="replace: d + p -> d / 0", edit_kind="offline:replace",
                              model="offline")
        a.complete_program(crash, status="crash", score=None, metrics={}, error=(
            'instance 3:   File "candidate.py", line 6, in priority\nZeroDivisionError: division by zero\n'),
            stages=[StageResult("quick", "crash", error="ZeroDivisionError: division by zero",
                                failed_instance="quick/n20-s1", seconds=0.01)],
            eval_index=3, run_evaluations=3)
        duplicate = a.add_program(run_id, "j4", parent_id=seed, island=0, generation=1, code=variant("d + p"),
                                  code_hash="h1", status="duplicate", error=f"same program as #{better}",
                                  model="offline", edit_kind="offline:wrap")
        unparsed = a.add_program(run_id, "j5", parent_id=better, island=1, generation=2, code="", code_hash="",
                                 status="parse_error", error="no SEARCH/REPLACE block in the reply",
                                 model="gpt-test", edit_kind="diff")
        a.set_holdout(best, {"score": -7.5, "gap_pct": 7.5})
        a.set_holdout(seed, {"score": -61.0, "gap_pct": 61.0})
        baseline = a.add_program(run_id, "baseline:edd", role="baseline", name="edd", code=SEED_CODE,
                                 code_hash="h0")
        ok(baseline, -60.0, None, "0,0")
        a.set_holdout(baseline, {"score": -61.0, "gap_pct": 61.0})
        a.update_run(run_id, best_program_id=best, best_score=-5.0, evaluations=3, status=status,
                     stop_reason="iterations" if status == "finished" else None)
    finally:
        a.close()
    return Built(run_dir, run_id, seed, better, best, crash, duplicate, unparsed, baseline)
