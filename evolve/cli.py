"""The `evolve` command: dispatches on its first word; `run` and `eval` go through Hydra.

Hydra has no subcommands, so for `run` and `eval` the arguments are rewritten into Hydra overrides and
`sys.argv` is replaced before the `@hydra.main` function is called.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape

from evolve.config import register
from evolve.errors import EvolveError

CONF = Path(__file__).with_name("conf")
console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("evolve")

USAGE = """usage: evolve COMMAND [ARGS]

commands:
  run [OVERRIDES…]              evolve a program (Hydra overrides: problem=…, llm=…, search.iterations=…)
  eval FILE [OVERRIDES…] [--json]   score one program file (split=quick|train|holdout)
  archive top|show|diff|lineage|export RUN …   browse a run's archive
  runs [DIR]                    list the runs under runs/
  report RUN [-o report.html]   write a self-contained HTML report (and report.md)
  problems                      list the problems that can be named, with their source
  new-problem NAME [--dir DIR]  write a working plugin skeleton
  check-problem NAME|PATH       run the plugin contract checks
  llm check [OVERRIDES…]        preflight an LLM configuration (key, endpoint, model)
  doctor                        which sandbox isolation mechanisms work on this machine
  bench PROBLEM [ARGS…]         a problem's benchmark table (e.g. evolve bench smtt)
  bench adrs [ARGS…]            the ADRS problems against their baselines, scored as the leaderboard does
  db upgrade [URL…]             migrate archive databases to the newest schema (default: the runs under runs/)
  db current [URL…]             print each archive database's schema revision; exit 1 when one is behind
  help                          this text

`evolve run --help` lists the config groups and keys.
"""

register()


def _fail(exc: BaseException) -> None:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
    sys.exit(2)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _run_main(cfg: DictConfig) -> None:
    gc.disable()  # until the loop starts: see evolve.runner._start_up_frozen
    try:
        _run_job(cfg)
    finally:
        gc.enable()


def _run_job(cfg: DictConfig) -> None:
    from evolve.worker import start_local_workers

    # the sandbox zygotes boot while the imports below run; a resumed run's own configuration says how many
    started = None if cfg.resume else start_local_workers(cfg)
    from evolve.runner import run

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = run(cfg, run_dir, console, started)
    except EvolveError as exc:
        logging.getLogger("evolve.exit").error("error: %s", exc)  # printed once below, kept in evolve.log
        _fail(exc)
    except KeyboardInterrupt:
        sys.exit(130)
    if summary.get("stop_reason") == "interrupted":
        sys.exit(130)
    if summary.get("stop_reason") == "evaluator lost":
        sys.exit(75)  # EX_TEMPFAIL: the cluster went away; `resume` continues the run


@hydra.main(config_path="conf", config_name="eval", version_base="1.3")
def _eval_main(cfg: DictConfig) -> None:
    from evolve.runner import eval_file

    try:
        result = eval_file(cfg)
    except EvolveError as exc:
        _fail(exc)
        return
    if cfg.json:
        print(json.dumps(result, default=str))
    else:
        color = "green" if result["status"] == "ok" else "red"
        console.print(f"[{color}]{result['status']}[/] {result['file']} on {result['problem']}/{result['split']}")
        for k, v in result["metrics"].items():
            console.print(f"  {k}: {v:.6g}" if isinstance(v, float) else f"  {k}: {v}")
        if result["error"]:
            console.print(f"  error: {result['error']}")
        if result.get("feedback"):
            console.print("  the evaluator's notes:\n" + escape(result["feedback"]), highlight=False)
    sys.exit(0 if result["status"] == "ok" else 1)


@hydra.main(config_path="conf", config_name="check", version_base="1.3")
def _llm_check_main(cfg: DictConfig) -> None:
    from evolve.llm.preflight import run_check

    try:
        sys.exit(run_check(cfg, console))
    except EvolveError as exc:
        _fail(exc)


def _bench(rest: list[str]) -> int:
    """`evolve bench PROBLEM …` runs the `bench` module of that problem's plugin package."""
    import importlib

    from evolve.plugins import discover

    if not rest or rest[0].startswith("-"):
        raise EvolveError("usage: evolve bench PROBLEM [ARGS…] (e.g. evolve bench smtt --help)")
    if rest[0] == "adrs":  # the ADRS problems together, not one plugin
        return int(importlib.import_module("problems.adrs_bench").main(rest[1:]) or 0)
    ref = next((r for r in discover() if r.name == rest[0]), None)
    if ref is None:
        raise EvolveError(f"unknown problem {rest[0]!r}; `evolve problems` lists them")
    base = ref.location.split(":", 1)[0]
    try:
        module = importlib.import_module(f"{base}.bench")
    except ModuleNotFoundError as exc:
        raise EvolveError(f"problem {rest[0]!r} has no benchmark (no {base}.bench module)") from exc
    return int(module.main(rest[1:]) or 0)


def _known_problem_configs() -> set[str]:
    return {p.stem for p in (CONF / "problem").glob("*.yaml")}


def rewrite_overrides(args: list[str]) -> list[str]:
    """Let `problem=NAME` name any discovered plugin, `resume=DIR` reuse that run directory, and a moved
    key (MOVED_KEYS: `llm.max_nodes`) set its new one (`offline.max_nodes`)."""
    from evolve.config import MOVED_KEYS

    out: list[str] = []
    for a in args:
        key = a.split("=", 1)[0]
        if key in MOVED_KEYS and "=" in a:
            a = f"{MOVED_KEYS[key]}={a.split('=', 1)[1]}"
        if a.startswith("problem=") and a.split("=", 1)[1] not in _known_problem_configs():
            out.append(f"problem.name={a.split('=', 1)[1]}")
            continue
        folder = a.split("=", 1)[1] if a.startswith("problem.path=") else ""
        if folder and folder != "null" and folder[0] not in "'\"" and " " not in folder:
            # stored absolute: the run's config then names the folder from any directory (resume, the
            # export hint, workers whose working directory differs)
            out.append(f"problem.path={Path(folder).expanduser().resolve()}")
            continue
        out.append(a)
        if a.startswith("resume="):
            target = a.split("=", 1)[1]
            if not Path(target).is_dir() and any(x.startswith("archive.url=") for x in args):
                continue  # a run id in a shared database: this machine gets a fresh run directory
            out.append(f"hydra.run.dir={target}")  # the run's own settings come from its archive (evolve.resume)
            out.append("hydra.output_subdir=null")  # .hydra/ keeps the composition that made the run
    folder_arg = next((a for a in args if a.startswith(("problem.path=", "problem.openevolve="))), None)
    if folder_arg is not None and not any(a.startswith(("problem=", "problem.name=")) for a in args):
        out.append(f"problem.name={Path(folder_arg.split('=', 1)[1]).expanduser().resolve().name}")
    return out


def run_hydra(fn: Any, prog: str, args: list[str]) -> None:
    """Run the `@hydra.main` function `fn` as the command `prog args` would, composing its config once."""
    sys.argv = [prog, *args]
    if any(a.lstrip("+~").startswith("hydra.mode=") for a in args):
        fn()  # the mode comes from the composed config: let Hydra compose it to find out
        return
    # Before a run, Hydra composes the whole config once only to read `hydra.mode`, which none of our
    # configs set: the mode is then `--multirun` or not. Answering that directly saves one full
    # composition (about 0.3 s of every start). A `hydra.mode=` override takes the path above.
    from hydra._internal.hydra import Hydra

    original = Hydra.get_mode
    Hydra.get_mode = _mode_from_flags  # type: ignore[method-assign]
    try:
        fn()
    finally:
        Hydra.get_mode = original  # type: ignore[method-assign]


def _mode_from_flags(self: Any, config_name: str | None, overrides: list[str]) -> None:
    """Hydra's `get_mode` when no config sets `hydra.mode`: None, i.e. run unless --multirun."""
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `evolve` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    cmd, rest = args[0], args[1:]
    try:
        if cmd == "run":
            overrides = rewrite_overrides(rest)
            if argv is None:  # the process's own command: nothing runs after it
                exit_after(lambda: run_hydra(_run_main, "evolve run", overrides))
            run_hydra(_run_main, "evolve run", overrides)
        elif cmd == "eval":
            _eval_cmd(rest)
        elif cmd in ("archive", "runs", "report"):
            from evolve import browse

            sys.exit(browse.main(cmd, rest))
        elif cmd in ("problems", "new-problem", "check-problem"):
            from evolve import plugin_cli

            sys.exit(plugin_cli.main(cmd, rest))
        elif cmd == "llm":
            if not rest or rest[0] != "check":
                raise EvolveError("usage: evolve llm check [llm=… llm.model=… OVERRIDES…]")
            run_hydra(_llm_check_main, "evolve llm check", rewrite_overrides(rest[1:]))
        elif cmd == "doctor":
            from evaluators import doctor

            sys.exit(doctor.main(rest))
        elif cmd == "bench":
            sys.exit(_bench(rest))
        elif cmd == "db":
            from evolve.archive import admin

            sys.exit(admin.main(rest))
        else:
            err_console.print(f"[bold red]error:[/] unknown command {cmd!r}\n{USAGE}")
            sys.exit(2)
    except EvolveError as exc:
        _fail(exc)


def exit_after(work: Callable[[], None]) -> NoReturn:
    """Run `work`, then end the process without tearing the interpreter down.

    A run ends holding a large heap (Hydra, SQLAlchemy, aiohttp, the run's own objects); freeing it
    object by object costs 0.2-0.3 s at the end of every `evolve run`, about 3% of a 600-iteration run,
    and nothing needs freeing. What a normal exit does that matters still happens, in its order: the
    other threads are waited for, the exit handlers run (log files, temporary folders), the output is
    flushed. An exception other than SystemExit propagates, so its traceback prints as usual. Under a
    profiler or a tracer (`python -m cProfile`, coverage) the exit is the usual SystemExit, which lets
    it write its results.
    """
    try:
        work()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    wait_for_threads = getattr(threading, "_shutdown", None)  # what the interpreter calls first at exit
    if wait_for_threads is not None:
        wait_for_threads()
    atexit._run_exitfuncs()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)  # as the interpreter does for sys.exit("message")
        code = 1
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)


def _eval_cmd(rest: list[str]) -> None:
    files = [a for a in rest if "=" not in a and not a.startswith("-")]
    flags = [a for a in rest if a.startswith("-")]
    unknown = [f for f in flags if f not in ("--json", "--help", "-h")]
    if unknown:
        raise EvolveError(f"evolve eval: unknown option {unknown[0]}; usage: evolve eval FILE [problem=…] "
                          "[split=quick|train|holdout] [--json]")
    if "--help" in flags or "-h" in flags:
        print("usage: evolve eval FILE [problem=NAME] [split=quick|train|holdout] [--json] [OVERRIDES…]")
        return
    if len(files) != 1:
        raise EvolveError("evolve eval takes exactly one program file: evolve eval FILE [problem=…] [--json]")
    overrides = [a for a in rest if "=" in a]
    file_arg = str(Path(files[0]).resolve()).replace("'", "\\'")
    extra = [f"file='{file_arg}'"] + (["json=true"] if "--json" in flags else [])
    run_hydra(_eval_main, "evolve eval", rewrite_overrides(overrides) + extra)


if __name__ == "__main__":
    main()
