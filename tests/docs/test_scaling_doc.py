"""docs/scaling.md and `evolve help` say what a cluster user needs, in commands that work as written."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evolve import config

REPO = Path(__file__).resolve().parents[2]
SCALING = (REPO / "docs" / "scaling.md").read_text(encoding="utf-8")


def commands() -> list[str]:
    """The shell lines of the doc's code blocks and inline code, continuation lines joined."""
    blocks = re.findall(r"```\n(.*?)```", SCALING, flags=re.S)
    lines = " ".join(blocks).replace("\\\n", " ").splitlines() + re.findall(r"`([^`\n]+)`", SCALING)
    return [ln.split("#", 1)[0].strip() if not ln.lstrip().startswith("#") else "" for ln in lines]


def test_ray_token_authentication_is_switched_on_where_the_head_starts() -> None:
    cmds = commands()
    generate = next(i for i, c in enumerate(cmds) if c.startswith("ray get-auth-token --generate"))
    head = next(i for i, c in enumerate(cmds) if "ray start --head" in c)
    assert generate < head and cmds[head].startswith("RAY_AUTH_MODE=token ray start --head")
    workers = [c for c in cmds if "ray start --address" in c]
    assert workers and all(c.startswith("RAY_AUTH_MODE=token ") for c in workers)


def test_psql_is_never_given_the_sqlalchemy_driver_url() -> None:
    psql = [c for c in commands() if re.search(r"\bpsql\b", c)]
    assert psql, "the doc shows how to list runs with psql"
    for c in psql:
        assert '"$EVOLVE_DB"' not in c and "+psycopg://" not in c, c


@pytest.mark.parametrize("program", ["dask scheduler", "dask worker"])
def test_dask_processes_listen_on_one_address_and_keep_the_dashboard_local(program: str) -> None:
    started = [c for c in commands() if c.startswith(program) and "…" not in c]
    assert started
    for c in started:
        assert "--host " in c and ("--dashboard-address 127.0.0.1" in c or "--no-dashboard" in c), c


def test_dask_workers_run_under_a_supervisor_that_restarts_them() -> None:
    assert "Restart=always" in SCALING and "exits when it loses its scheduler" in SCALING


def test_the_time_to_notice_a_lost_ray_head_is_stated() -> None:
    assert re.search(r"about 30 s for a Ray head", SCALING)


def test_every_config_key_the_doc_names_exists() -> None:
    groups = {"llm": config.LLMConfig, "evaluator": config.EvaluatorConfig, "search": config.SearchConfig,
              "archive": config.ArchiveConfig}
    named = set(re.findall(r"\b(llm|evaluator|search|archive)\.([a-z_]+)\b", SCALING))
    assert ("llm", "max_concurrency") in named
    for group, key in named:
        assert key in {f.name for f in dataclasses.fields(groups[group])}, f"{group}.{key}"


def test_evolve_help_lists_every_db_command() -> None:
    out = subprocess.run([sys.executable, "-m", "evolve.cli", "help"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    for action in ("upgrade", "current"):
        assert re.search(rf"^\s+db {action}\b", out, flags=re.M), action
