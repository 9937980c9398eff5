"""`evolve run problem.openevolve=DIR` on the project's OpenEvolve-format test problems: offline, and with the
scripted LLM server (the evaluator's artifacts reach the next prompt; a raising evaluator is a crash)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evolve.archive import Archive
from evolve.testing.llm_server import RecordedRequest, Reply, ScriptedLLMServer

PROBLEMS = Path(__file__).resolve().parents[1] / "evolve" / "openevolve" / "problems"
COMMON = ["evaluator.workers=1", "search.max_seconds=120", "quiet=true"]


def run(cli: Any, tmp_path: Path, args: list[str]) -> tuple[Any, Archive, Any, dict[str, Any]]:
    run_dir = tmp_path / "run"
    proc = cli(["run", *COMMON, f"hydra.run.dir={run_dir}", *args], timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    archive = Archive.for_run_dir(run_dir)
    return proc, archive, archive.get_run(), json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow
def test_offline_run_of_function_minimisation_improves_and_scores_the_named_holdout(cli: Any,
                                                                                   tmp_path: Path) -> None:
    _, archive, run_rec, summary = run(cli, tmp_path, [
        f"problem.openevolve={PROBLEMS / 'minimize'}", "+problem.options.holdout=evaluate_holdout",
        "search.iterations=40"])
    assert run_rec.status == "finished" and run_rec.problem == "minimize"
    assert summary["has_holdout"] and summary["best"]["train"]["score"] > summary["seed"]["train"]["score"]
    assert "combined_score" in summary["best"]["holdout"] and "seconds_taken" not in summary["best"]["holdout"]
    best = archive.program(summary["best"]["id"])
    assert [s.split for s in best.stages] == ["quick", "train", "holdout"] and best.metrics["value_score"] > 0


@pytest.mark.slow
def test_offline_run_without_a_holdout_says_so_with_worker_processes(cli: Any, tmp_path: Path) -> None:
    proc, archive, run_rec, summary = run(cli, tmp_path, [f"problem.openevolve={PROBLEMS / 'cascade'}",
                                                          "search.iterations=10", "evaluator=loky"])
    assert summary["has_holdout"] is False and "holdout" not in summary["best"]
    assert "no hold-out" in proc.stdout
    report = cli(["report", str(tmp_path / "run"), "-o", str(tmp_path / "report.html")], timeout=120)
    assert report.returncode == 0, report.stderr
    assert "no hold-out" in (tmp_path / "report.md").read_text()
    seed = archive.program(next(iter(archive.programs(run_rec.id, roles=("seed",)))).id)
    assert seed.holdout is None and seed.metrics["stage2_ran"] == 1.0


@pytest.mark.slow
def test_an_openevolve_run_resumes_from_its_run_directory(cli: Any, tmp_path: Path) -> None:
    _, _, run_rec, _ = run(cli, tmp_path, [f"problem.openevolve={PROBLEMS / 'minimize'}", "search.iterations=6"])
    assert run_rec.evaluations == 6
    proc = cli(["run", *COMMON, f"resume={tmp_path / 'run'}", "search.iterations=10"], timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = Archive.for_run_dir(tmp_path / "run").get_run()
    assert again.id == run_rec.id and again.evaluations == 10 and again.problem == "minimize"


@pytest.mark.slow
def test_llm_run_shows_the_evaluators_artifacts_in_the_next_prompt(cli: Any, tmp_path: Path) -> None:
    up = "Guess higher.\n<<<<<<< SEARCH\n    return 10\n=======\n    return 30\n>>>>>>> REPLACE\n"

    def filler(req: RecordedRequest) -> Reply:
        return Reply.text(f"Another.\n```python\ndef guess():\n    return {20 + len(req.prompt_text) % 7}\n```\n")

    with ScriptedLLMServer([Reply.text(up)], responder=filler, models=["scripted-model"]) as server:
        _, archive, run_rec, _ = run(cli, tmp_path, [
            f"problem.openevolve={PROBLEMS / 'artifacts'}", "llm=openai_compatible", f"llm.api_base={server.url}",
            "llm.model=scripted-model", "search.iterations=4", "llm.max_concurrency=1"])
        prompts = [r.prompt_text for r in server.requests if r.method == "POST"]
    # the seed's artifacts are in the first prompt, as OpenEvolve shows them: the evaluator's own words
    assert "the guess 10 is too low: guess higher" in prompts[0]
    assert "bytes are sent as text" in prompts[0]
    thirty = [p for p in archive.programs(run_rec.id, roles=("candidate",)) if "return 30" in archive.program(p.id).code]
    stored = archive.program(thirty[0].id)
    assert stored.status == "ok" and "the guess 30 is too low" in stored.stages[-1].feedback


@pytest.mark.slow
def test_llm_run_records_a_raising_evaluator_as_a_crash_and_goes_on(cli: Any, tmp_path: Path) -> None:
    bad = "Try negative.\n<<<<<<< SEARCH\n    return 1\n=======\n    return -3\n>>>>>>> REPLACE\n"
    good = "Bigger.\n<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n"
    with ScriptedLLMServer([Reply.text(bad), Reply.text(good)], default=Reply.text(good),
                           models=["scripted-model"]) as server:
        _, archive, run_rec, summary = run(cli, tmp_path, [
            f"problem.openevolve={PROBLEMS / 'raises'}", "llm=openai_compatible", f"llm.api_base={server.url}",
            "llm.model=scripted-model", "search.iterations=2", "llm.max_concurrency=1"])
    progs = [archive.program(p.id) for p in archive.programs(run_rec.id, roles=("candidate",))]
    crash = next(p for p in progs if "return -3" in p.code)
    assert crash.status == "crash" and "cannot score a negative answer (-3)" in (crash.error or "")
    assert summary["best"]["train"]["score"] == 2.0


@pytest.mark.slow
def test_an_llm_ensemble_on_two_islands_evolves_an_openevolve_folder(cli: Any, tmp_path: Path) -> None:
    """Two models of one ensemble, chosen by weight, each reply a different guess; two islands."""

    def guesser(req: RecordedRequest) -> Reply:
        offset = 40 if req.model == "model-b" else 0  # model-b guesses 40-48, model-a 0-8
        guess = offset + len(req.prompt_text) % 9
        return Reply.text(f"Closer.\n```python\ndef guess():\n    return {guess}\n```\n")

    with ScriptedLLMServer([], responder=guesser, models=["model-a", "model-b"]) as server:
        models = (f"llm.models=[{{model: model-a, weight: 0.5, provider: openai, api_base: '{server.url}'}}, "
                  f"{{model: model-b, weight: 0.5, provider: openai, api_base: '{server.url}'}}]")
        _, archive, run_rec, summary = run(cli, tmp_path, [
            f"problem.openevolve={PROBLEMS / 'artifacts'}", "llm=ensemble", models, "search.islands=2",
            "search.iterations=12", "llm.max_concurrency=2", "seed=3"])
    calls = archive.llm_calls(run_rec.id)
    assert {c.model for c in calls} == {"model-a", "model-b"} and all(c.status == "ok" for c in calls)
    evaluated = [p for p in archive.programs(run_rec.id, roles=("candidate",)) if p.eval_index is not None]
    assert len(evaluated) == 12 and {p.island for p in evaluated} == {0, 1}
    assert summary["best"]["train"]["score"] > summary["seed"]["train"]["score"]
