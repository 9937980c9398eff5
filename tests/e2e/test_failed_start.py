"""Whatever stops a run before or during its start ends it cleanly: one line, a non-zero exit, the run
marked `failed` with the reason (never left `running`), the reason in evolve.log, no empty run folder."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from evolve.archive import Archive
from evolve.scaffold import write_skeleton

QUICK = ["search.iterations=3", "search.max_seconds=null", "evaluator.workers=1"]


def _one_line_error(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _run_dirs(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "runs").glob("*/*") if p.is_dir()] if (tmp_path / "runs").exists() else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("args, reason", [
    (["llm=openai_compatible", "llm.model=m", "llm.api_base=http://127.0.0.1:{port}/v1"], "cannot connect"),
    # refused whether or not the dask extra is installed: not installed, or no scheduler at that address
    (["evaluator=dask", "evaluator.address=tcp://127.0.0.1:{port}"], "evaluator=dask"),
], ids=["llm-preflight", "evaluator-refuses"])
def test_a_run_that_cannot_start_is_marked_failed_with_its_reason(cli, tmp_path: Path, args: list[str],
                                                                   reason: str) -> None:
    args = [a.format(port=_free_port()) for a in args]
    err = _one_line_error(cli(["run", *QUICK, *args], timeout=120))
    assert reason in err
    (run_dir,) = _run_dirs(tmp_path)
    run = Archive.for_run_dir(run_dir).get_run()
    assert run.status == "failed" and reason in (run.stop_reason or "")
    log = (run_dir / "evolve.log").read_text()
    assert "started" in log and reason in log


@pytest.mark.parametrize("args, says", [
    (["seed=-1"], "seed: must be 0 or more"),
    (["+search.iteration=5"], "did you mean search.iterations?"),
    (["evaluator.workers=100000"], "evaluator.workers=100000: more than 4 per core"),
    (["evaluator.nofile=1000000000"], "evaluator.nofile=1000000000"),
    (["archive.url=postgresql+psycopg://u:p@127.0.0.1:1/db"], "cannot open the archive"),
], ids=["seed", "unknown-key", "workers", "nofile", "no-database"])
def test_a_bad_value_is_one_line_before_any_work_and_leaves_no_run_folder(cli, tmp_path: Path, args: list[str],
                                                                         says: str) -> None:
    err = _one_line_error(cli(["run", *QUICK, *args], timeout=120))
    assert says in err
    assert _run_dirs(tmp_path) == [] and not (tmp_path / "runs" / "smtt").exists()


def test_a_broken_plugin_is_one_line_and_leaves_no_run_folder(cli, tmp_path: Path) -> None:
    plugin = write_skeleton("brokenplug", tmp_path / "plugins")
    (plugin / "__init__.py").write_text((plugin / "__init__.py").read_text() + "\nraise RuntimeError('boom')\n")
    err = _one_line_error(cli(["run", *QUICK, f"problem.path={plugin}"], timeout=120))
    assert "boom" in err
    assert _run_dirs(tmp_path) == []


def test_a_run_writes_its_log(cli, tmp_path: Path) -> None:
    proc = cli(["run", *QUICK, "search.holdout_top_k=1"], timeout=240)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = _run_dirs(tmp_path)
    log = (run_dir / "evolve.log").read_text()
    assert "started in" in log and "stopped (iterations) after 3 evaluations" in log
