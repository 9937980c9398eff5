"""Starting the local evaluator's workers early: each thread's sandbox zygote boots while the run imports."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from evaluators import sandbox as sandbox_mod
from evolve import worker


def config(*overrides: str) -> Any:
    from evolve.config import register

    register()  # the structured configs the YAML extends, as the CLI registers them (this file alone too)
    with initialize_config_module("evolve.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides))


def _zygotes() -> set[int]:
    """Running sandbox zygotes that are children of this process, read from /proc."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if fields[0] not in "ZX" and int(fields[1]) == os.getpid() and b"--zygote" in argv:
            found.add(int(pid))
    return found


def _zygote_of(sb: Any) -> int | None:
    """The zygote `sb` runs, if any: the child of this process working in the sandbox's folder."""
    for pid in _zygotes():
        try:
            if os.readlink(f"/proc/{pid}/cwd") == str(sb.tmp_root):
                return pid
        except OSError:
            pass
    return None


def test_each_local_worker_thread_starts_its_own_zygote() -> None:
    before = _zygotes()
    executor = worker.start_local_workers(config("evaluator.workers=2"))
    assert executor is not None
    try:
        deadline = time.monotonic() + 60.0  # started early, in the background: no task has been submitted
        while len(_zygotes() - before) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a third one, if any, would have appeared by now
        assert len(_zygotes() - before) == 2  # one per worker thread
    finally:
        executor.shutdown(wait=True)
    # the threads are gone and their sandboxes with them: no zygote outlives the executor
    deadline = time.monotonic() + 10.0
    while _zygotes() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _zygotes() - before == set()


@pytest.mark.parametrize("overrides", [("evaluator=loky",), ("evaluator.workers=-1",)])
def test_no_early_start_for_other_evaluators_or_a_config_the_run_refuses(overrides: tuple[str, ...]) -> None:
    assert worker.start_local_workers(config(*overrides)) is None


def test_starting_the_workers_imports_neither_the_archive_nor_the_llm_clients() -> None:
    code = ("import sys\nfrom evolve.worker import start_local_workers\n"
            "print(sorted(m for m in ('sqlalchemy', 'aiohttp', 'litellm', 'openai', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_a_run_adopts_the_started_workers_and_starts_no_other_zygote(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from evolve.runner import run

    started: list[int] = []
    original = sandbox_mod.Sandbox.start

    def counting(self: Any) -> Any:
        if _zygote_of(self) is None:
            started.append(threading.get_ident())
        return original(self)

    monkeypatch.setattr(sandbox_mod.Sandbox, "start", counting)
    cfg = config("evaluator.workers=2", "search.iterations=6", "search.max_seconds=0", "quiet=true",
                 "search.holdout_top_k=1")
    executor = worker.start_local_workers(cfg)
    summary = run(cfg, tmp_path / "run", None, executor)
    assert summary["evaluations"] == 6 and summary["stop_reason"] == "iterations"
    assert len(started) == 2 and len(set(started)) == 2  # one zygote per worker thread, all started early


def test_the_loop_runs_with_the_start_up_objects_frozen_and_a_run_leaves_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from evolve import runner
    from evolve.loop import Evolution

    seen: list[tuple[bool, int]] = []
    original = Evolution.run

    async def observed(evo: Any) -> str:  # the loop itself, as the run calls it
        seen.append((gc.isenabled(), gc.get_freeze_count()))
        return await original(evo)

    monkeypatch.setattr(Evolution, "run", observed)
    cfg = config("evaluator.workers=1", "search.iterations=2", "search.max_seconds=0", "quiet=true",
                 "search.holdout_top_k=1")
    gc.disable()  # as the CLI leaves it
    try:
        runner.run(cfg, tmp_path / "run", None, worker.start_local_workers(cfg))
    finally:
        gc.enable()
    (enabled, frozen), = seen
    assert enabled and frozen > 10_000  # the modules, config, archive and problem made at start-up
    assert gc.get_freeze_count() == 0  # nothing stays frozen for a caller that runs again
