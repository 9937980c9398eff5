"""`evolve run` with an LLM, over real HTTP to the scripted server: the OpenAI protocol (aiohttp and openai-SDK
clients) and the litellm path.

Each run replays scripted replies (good edits, every kind of bad edit, 429 with Retry-After, 500s, a reply
slower than the timeout, a truncated body) and the archive must record each outcome, with its tokens and
cost, and rank the improved SMTT program first.
"""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from evolve.archive import Archive
from evolve.testing.llm_server import RecordedRequest, Reply, ScriptedLLMServer

MDD_DIFF = "Use MDD.\n<<<<<<< SEARCH\n    return d\n=======\n    return max(d, t + p)\n>>>>>>> REPLACE\n"
COMMON = ["evaluator.workers=1", "search.max_seconds=120", "llm.max_concurrency=1", "quiet=true"]


def rewrite(expr: str) -> str:
    return f"New rule.\n```python\ndef priority(p, d, t):\n    return {expr}\n```\n"


def filler(req: RecordedRequest) -> Reply:
    """After the script: distinct programs that order jobs exactly as EDD does (so they never win)."""
    return Reply.text(rewrite(f"d + {5000 + len(req.prompt_text) % 1000}"), prompt_tokens=10, completion_tokens=5)


def litellm_price(model: str) -> dict[str, float]:
    """The model's entry in the price table bundled with litellm (read directly: importing litellm is slow)."""
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((folder / "model_prices_and_context_window_backup.json").read_text())[model]


def run(cli: Any, tmp_path: Path, args: list[str], env: dict[str, str] | None = None) -> tuple[Any, Archive, Any]:
    run_dir = tmp_path / "run"
    proc = cli(["run", *COMMON, f"hydra.run.dir={run_dir}", *args], env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    archive = Archive.for_run_dir(run_dir)
    return proc, archive, archive.get_run()


@pytest.mark.slow
@pytest.mark.parametrize("client", ["aiohttp", "sdk"])
def test_openai_protocol_run_records_every_outcome_with_tokens_and_cost(cli: Any, tmp_path: Path,
                                                                        client: str) -> None:
    script = [
        Reply.text("I would weigh the slack.", prompt_tokens=100, completion_tokens=11),
        Reply.text("<<<<<<< SEARCH\n    return x\n=======\n    return p\n>>>>>>> REPLACE\n",
                   prompt_tokens=101, completion_tokens=12),
        Reply.text("<<<<<<< SEARCH\nimport math\n=======\nimport os\n>>>>>>> REPLACE\n",
                   prompt_tokens=102, completion_tokens=13),
        Reply.text(rewrite("(d"), prompt_tokens=103, completion_tokens=14),
        Reply.rate_limited(retry_after=1.0), Reply.text(rewrite("d + 1000"), prompt_tokens=104, completion_tokens=15),
        Reply.server_error(), Reply.text(rewrite("d + 2000"), prompt_tokens=105, completion_tokens=16),
        Reply.slow(rewrite("d + 3000"), delay_s=2.5), Reply.slow(rewrite("d + 3000"), delay_s=2.5),
        Reply.truncated(rewrite("d + 4000")), Reply.truncated(rewrite("d + 4000")),
        Reply.text(rewrite("max(d, t + p)"), prompt_tokens=106, completion_tokens=17),
    ]
    with ScriptedLLMServer(script, responder=filler, models=["scripted-model"]) as server:
        proc, archive, run_rec = run(cli, tmp_path, [
            "llm=openai_compatible", f"llm.api_base={server.url}", "llm.model=scripted-model", "search.iterations=4",
            "llm.fix_retries=0", "llm.timeout_s=1", "llm.max_retries=1", f"llm.client={client}",
            "llm.input_cost_per_mtok=2", "llm.output_cost_per_mtok=8"])
        assert server.remaining == 0

    assert run_rec.status == "finished" and run_rec.stop_reason == "iterations"
    progs = archive.programs(run_rec.id, roles=("candidate",))
    assert [p.status for p in progs] == ["parse_error"] * 4 + ["ok", "ok", "llm_error", "llm_error", "ok", "ok"]
    reasons = [p.error or "" for p in progs]
    assert "neither SEARCH/REPLACE blocks nor a fenced" in reasons[0]
    assert "SEARCH text was not found" in reasons[1]
    assert "outside the EVOLVE-BLOCKs" in reasons[2]
    assert "not valid Python" in reasons[3]
    assert "timed out" in reasons[6]

    calls = archive.llm_calls(run_rec.id)
    assert [c.status for c in calls] == ["parse_error"] * 4 + ["ok", "ok", "timeout", "error", "ok", "ok"]
    assert [c.program_id for c in calls] == [p.id for p in progs]
    tokens = [(100, 11), (101, 12), (102, 13), (103, 14), (104, 15), (105, 16), (0, 0), (0, 0), (106, 17), (10, 5)]
    assert [(c.prompt_tokens, c.completion_tokens) for c in calls] == tokens
    for call, prog, (pt, ct) in zip(calls, progs, tokens):
        assert call.cost_usd == pytest.approx((2 * pt + 8 * ct) / 1e6)
        assert (prog.prompt_tokens, prog.completion_tokens) == (pt, ct)
        assert prog.cost_usd == pytest.approx(call.cost_usd) and prog.model == "scripted-model"
        assert call.prompt and "[system]" in call.prompt and "def schedule(p, d):" in call.prompt
    assert calls[4].latency_s >= 1.0  # waited out the Retry-After
    assert calls[0].response == "I would weigh the slack."

    best, *rest = archive.top(run_rec.id, n=10)
    assert best.id == progs[8].id and "max(d, t + p)" in best.code
    seed = archive.programs(run_rec.id, roles=("seed",))[0]
    assert best.score is not None and all(best.score > (p.score or -1e9) for p in [seed, *rest])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["cost_usd"] == pytest.approx(sum(c.cost_usd for c in calls), abs=1e-6)
    assert "LLM: 10 calls" in proc.stdout
    assert "Unclosed" not in proc.stdout + proc.stderr  # every HTTP session was closed in its own loop


@pytest.mark.slow
def test_litellm_run_sends_the_key_retries_fixes_and_prices_from_litellm(cli: Any, tmp_path: Path) -> None:
    script = [
        Reply.text("Let me think about it.", prompt_tokens=200, completion_tokens=20),
        Reply.text(MDD_DIFF, prompt_tokens=260, completion_tokens=30),
        Reply.rate_limited(retry_after=1.0), Reply.text(rewrite("d + 1000"), prompt_tokens=210, completion_tokens=25),
        Reply.server_error(), Reply.text(rewrite("d + 2000"), prompt_tokens=220, completion_tokens=26),
    ]
    with ScriptedLLMServer(script, responder=filler, models=["gpt-4.1-mini"], api_key="sk-e2e") as server:
        _, archive, run_rec = run(cli, tmp_path, [
            "llm=openai", "llm.provider=litellm", "llm.model=openai/gpt-4.1-mini", f"llm.api_base={server.url}",
            "llm.api_key_env=SCRIPTED_KEY", "search.iterations=3", "llm.fix_retries=1"],
            env={"SCRIPTED_KEY": "sk-e2e"})
        requests = list(server.requests)
    assert all(r.headers.get("authorization") == "Bearer sk-e2e" for r in requests)
    assert [r.reply.status for r in requests if r.reply] == [200, 200, 429, 200, 500, 200]

    progs = archive.programs(run_rec.id, roles=("candidate",))
    assert [p.status for p in progs] == ["ok", "ok", "ok"]
    assert progs[0].edit_kind == "diff+fix" and progs[1].edit_kind.endswith("full")
    calls = archive.llm_calls(run_rec.id)
    assert [c.status for c in calls] == ["parse_error", "ok", "ok", "ok"]
    assert calls[0].kind in ("diff", "full") and calls[1].kind == "fix"
    assert [c.program_id for c in calls] == [progs[0].id, progs[0].id, progs[1].id, progs[2].id]
    assert "could not be used" in (calls[1].prompt or "") and "Let me think about it." in (calls[1].prompt or "")

    price = litellm_price("gpt-4.1-mini")
    for call in calls:
        expected = call.prompt_tokens * price["input_cost_per_token"] + \
            call.completion_tokens * price["output_cost_per_token"]
        assert call.cost_usd == pytest.approx(expected) and call.cost_usd > 0
    assert progs[0].cost_usd == pytest.approx(calls[0].cost_usd + calls[1].cost_usd)
    assert (progs[0].prompt_tokens, progs[0].completion_tokens) == (460, 50)

    best = archive.top(run_rec.id, n=1)[0]
    assert best.id == progs[0].id and "return max(d, t + p)" in best.code


@pytest.mark.slow
def test_the_llm_budget_stops_the_run_cleanly(cli: Any, tmp_path: Path) -> None:
    with ScriptedLLMServer(responder=filler) as server:
        _, archive, run_rec = run(cli, tmp_path, [
            "llm=openai_compatible", f"llm.api_base={server.url}", "llm.model=scripted-model",
            "search.iterations=50", "llm.input_cost_per_mtok=20000", "llm.output_cost_per_mtok=0",
            "llm.max_cost_usd=0.5"])
    calls = archive.llm_calls(run_rec.id)
    assert run_rec.stop_reason.startswith("budget: llm.max_cost_usd") and run_rec.status == "finished"
    spent, per_call = sum(c.cost_usd for c in calls), max(c.cost_usd for c in calls)
    assert spent <= 0.5 < spent + per_call  # stopped when the next call would pass the cap, not after
    assert len(calls) < 10


def free_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_an_unreachable_endpoint_stops_the_run_before_any_evaluation(cli: Any, tmp_path: Path) -> None:
    url = free_url()
    proc = cli(["run", f"hydra.run.dir={tmp_path / 'run'}", "llm=openai_compatible", f"llm.api_base={url}",
                "llm.model=m", "search.iterations=2"], timeout=120)
    assert proc.returncode == 2
    assert f"llm.api_base={url}: cannot connect" in proc.stderr and "Traceback" not in proc.stderr
    assert "seed program" not in proc.stdout
    archive = Archive.for_run_dir(tmp_path / "run")
    assert archive.programs(archive.get_run().id) == []


def test_llm_check_reports_a_missing_key_in_one_line(cli: Any) -> None:
    proc = cli(["llm", "check", "llm=openai"], env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 1
    assert "fail llm.api_key_env=OPENAI_API_KEY: the environment variable OPENAI_API_KEY is not set" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_llm_check_passes_for_a_served_model(cli: Any) -> None:
    with ScriptedLLMServer(models=["my-model"]) as server:
        url = server.url
        proc = cli(["llm", "check", "llm=openai_compatible", f"llm.api_base={url}", "llm.model=my-model"])
        assert server.completions == []
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ok   my-model: {url} serves my-model" in proc.stdout


def test_llm_openai_option_uses_the_cheapest_client_and_sends_the_key(cli, tmp_path: Path) -> None:
    """`llm=openai` speaks the OpenAI protocol through the aiohttp client (bench/llm_clients.py: the openai SDK
    costs ~5x its CPU per call, litellm more); `llm.client=sdk` selects the SDK."""
    from hydra import compose, initialize_config_module

    from evolve.config import register
    from evolve.llm.clients import CallSettings, HTTPClient, OpenAIClient, make_client
    from evolve.llm.models import ModelSpec

    register()
    with initialize_config_module("evolve.conf", version_base="1.3"):
        cfg = compose("config", overrides=["llm=openai"])
    assert cfg.llm.provider == "openai" and cfg.llm.api_key_env == "OPENAI_API_KEY" and cfg.llm.client == "aiohttp"
    spec = ModelSpec("gpt-4.1-mini", "gpt-4.1-mini", cfg.llm.provider, cfg.llm.api_base, cfg.llm.api_key_env)
    assert isinstance(make_client(spec, CallSettings()), HTTPClient)
    assert isinstance(make_client(spec, CallSettings(client="sdk")), OpenAIClient)
    with ScriptedLLMServer(default=Reply.text(rewrite("d + 3")), models=["gpt-4.1-mini"],
                           api_key="sk-sdk") as server:
        _, archive, run_rec = run(cli, tmp_path, [
            "llm=openai", f"llm.api_base={server.url}", "llm.api_key_env=SCRIPTED_KEY", "search.iterations=2"],
            env={"SCRIPTED_KEY": "sk-sdk"})
    calls = archive.llm_calls(run_rec.id)
    assert calls and all(c.status == "ok" for c in calls if c.kind != "preflight")


def test_an_llm_run_resumes_with_its_own_model_not_the_offline_mutator(cli: Any, tmp_path: Path) -> None:
    with ScriptedLLMServer([], responder=filler, models=["scripted-model"]) as server:
        _, archive, first = run(cli, tmp_path, ["llm=openai_compatible", f"llm.api_base={server.url}",
                                                "llm.model=scripted-model", "search.iterations=3"])
        calls = len(archive.llm_calls(first.id))
        proc = cli(["run", f"resume={tmp_path / 'run'}", "search.iterations=5"], timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    archive = Archive.for_run_dir(tmp_path / "run")
    run_rec = archive.get_run()
    assert run_rec.evaluations == 5 and run_rec.config["llm"]["model"] == "scripted-model"
    later = archive.programs(run_rec.id, roles=("candidate",))[-2:]
    assert {p.model for p in later} == {"scripted-model"}
    assert len(archive.llm_calls(run_rec.id)) > calls
