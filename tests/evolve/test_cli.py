"""The `evolve` command's dispatch into Hydra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl

from evolve import cli


def _composes(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> list[str]:
    """Run `run_hydra` on a task that does nothing; the run modes of every config composition, in order."""
    seen: list[str] = []
    original = ConfigLoaderImpl.load_configuration

    def counting(self: Any, config_name: Any, overrides: list[str], run_mode: Any, **kw: Any) -> Any:
        seen.append(run_mode.name)
        return original(self, config_name, overrides, run_mode, **kw)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counting)
    import hydra

    @hydra.main(config_path=str(Path(cli.__file__).parent / "conf"), config_name="config", version_base="1.3")
    def task(cfg: Any) -> None:
        return None

    cli.run_hydra(task, "evolve run", args)
    return seen


def test_a_run_composes_its_config_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _composes(monkeypatch, [f"hydra.run.dir={tmp_path}"]) == ["RUN"]


def test_a_mode_override_is_read_from_the_composed_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Hydra composes once to learn the mode, then once per job of the sweep
    seen = _composes(monkeypatch, ["hydra.mode=MULTIRUN", f"hydra.sweep.dir={tmp_path}", "seed=1,2"])
    assert seen[0] == "MULTIRUN" and len(seen) >= 3


def test_the_mode_lookup_is_restored_after_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hydra._internal.hydra import Hydra

    before = Hydra.get_mode
    _composes(monkeypatch, [f"hydra.run.dir={tmp_path}"])
    assert Hydra.get_mode is before


def _exit_after_in_a_process(tmp_path: Path, body: str) -> Any:
    """Run `cli.exit_after(work)` in a fresh interpreter; `body` defines `work` (and may set up more)."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "script.py"
    script.write_text("import atexit, sys, threading, time\nfrom pathlib import Path\nfrom evolve import cli\n"
                      f"OUT = Path({str(tmp_path)!r})\n" + textwrap.dedent(body) + "\ncli.exit_after(work)\n")
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)


def test_exit_after_keeps_what_a_normal_exit_does(tmp_path: Path) -> None:
    proc = _exit_after_in_a_process(tmp_path, """
        def late() -> None:
            time.sleep(0.3)
            (OUT / "thread").write_text("done")

        def work() -> None:
            threading.Thread(target=late).start()  # not a daemon: the process waits for it
            atexit.register(lambda: (OUT / "atexit").write_text("ran"))
            print("unflushed", end="")
            sys.stderr.write("err-unflushed")
            sys.exit(3)
    """)
    assert proc.returncode == 3
    assert proc.stdout == "unflushed" and proc.stderr == "err-unflushed"
    assert (tmp_path / "thread").read_text() == "done"
    assert (tmp_path / "atexit").read_text() == "ran"


@pytest.mark.parametrize(("ending", "code", "stderr"), [
    ("return None", 0, ""), ("sys.exit()", 0, ""), ("sys.exit(130)", 130, ""),
    ("sys.exit('no such problem')", 1, "no such problem\n"),
])
def test_exit_after_turns_the_outcome_into_the_exit_status(tmp_path: Path, ending: str, code: int,
                                                           stderr: str) -> None:
    proc = _exit_after_in_a_process(tmp_path, f"def work() -> None:\n    {ending}\n")
    assert (proc.returncode, proc.stderr) == (code, stderr)


def test_exit_after_lets_an_unexpected_error_print_its_traceback(tmp_path: Path) -> None:
    proc = _exit_after_in_a_process(tmp_path, "def work() -> None:\n    raise RuntimeError('broken plugin')\n")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "RuntimeError: broken plugin" in proc.stderr


def test_exit_after_leaves_the_exit_to_a_profiler(tmp_path: Path) -> None:
    # `python -m cProfile` writes its results after the program returns: a hard exit would lose them
    proc = _exit_after_in_a_process(tmp_path, """
        sys.setprofile(lambda *args: None)

        def work() -> None:
            sys.exit(4)

        try:
            cli.exit_after(work)
        except SystemExit as exc:
            sys.setprofile(None)
            print("profiler saw exit", exc.code)
    """)
    # ... and the helper's own call after it, with no profiler left, exits hard with the same status
    assert proc.stdout == "profiler saw exit 4\n" and proc.returncode == 4


def test_a_run_keeps_the_collector_off_until_its_loop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start-up (imports, config, archive, problem) runs without full collections; evolve.runner turns
    the collector back on, with the start-up objects frozen, when the loop starts (tested there)."""
    import gc

    from evolve import runner, worker

    seen: list[bool] = []

    def run(cfg: Any, *args: Any) -> dict[str, Any]:
        seen.append(gc.isenabled())
        return {"stop_reason": "iterations"}

    monkeypatch.setattr(worker, "start_local_workers", lambda cfg: None)  # no zygotes for a run that never runs
    monkeypatch.setattr(runner, "run", run)
    cli.main(["run", f"hydra.run.dir={tmp_path}"])
    assert seen == [False] and gc.isenabled()

    def fails(cfg: Any, *args: Any) -> None:
        raise RuntimeError("a broken plugin")

    monkeypatch.setattr(runner, "run", fails)
    with pytest.raises(SystemExit):  # Hydra reports the error and exits 1
        cli.main(["run", f"hydra.run.dir={tmp_path}"])
    assert gc.isenabled()  # back on whatever happened


def test_a_relative_problem_folder_is_stored_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    out = cli.rewrite_overrides(["problem.path=mine/bin_packing", "search.iterations=5"])
    assert f"problem.path={tmp_path / 'mine' / 'bin_packing'}" in out
    assert "problem.name=bin_packing" in out and "search.iterations=5" in out
    assert "problem.path='my plugins/x'" in cli.rewrite_overrides(["problem.path='my plugins/x'"])  # quoted: as given


def test_the_old_spelling_of_an_offline_setting_sets_the_new_one() -> None:
    assert cli.rewrite_overrides(["llm.max_nodes=150", "llm.max_steps=2", "llm.crossover_rate=0.2"]) == [
        "offline.max_nodes=150", "offline.max_steps=2", "offline.crossover_rate=0.2"]
