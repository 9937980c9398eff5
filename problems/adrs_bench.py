"""`evolve bench adrs`: the ADRS problems side by side, scored as the leaderboard scores them.

One table per problem (cant_be_late, cant_be_late_multi, cloudcast, prism): rows are the seed, every
baseline and any program given with `--program NAME=PATH` (run on each problem whose entry function it
defines); columns are the generated train and hold-out splits and, when a path to the leaderboard's own
data is given (`--traces DIR` for cant_be_late, `--multi-traces DIR` for cant_be_late_multi,
`--profiles DIR` for cloudcast), the leaderboard's evaluation on it. prism's hold-out is the
leaderboard's own 50 cases. Every program runs in the real sandbox and is
scored by the plugin in this process.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evaluators.sandbox import Limits, Sandbox
from evolve.errors import EvolveError
from evolve.evaluation import run_split
from evolve.problem import Problem

PROBLEMS = ("cant_be_late", "cant_be_late_multi", "cloudcast", "prism")
#: the metric printed beside the score, per problem
SECOND = {"cant_be_late": "avg_cost", "cant_be_late_multi": "avg_cost", "cloudcast": "total_cost",
          "prism": "avg_kvpr"}
#: room for the leaderboard's full evaluation (1080 cant_be_late episodes, each run twice)
LIMITS = Limits(split_wall_s=900.0, instance_wall_s=60.0, cpu_s=900.0)


def _make(name: str, options: dict[str, Any]) -> Problem:
    import importlib

    return importlib.import_module(f"problems.{name}").make(options)  # type: ignore[no-any-return]


def _defines(source: str, entry: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(n, ast.FunctionDef) and n.name == entry for n in tree.body)


def _columns(name: str, args: argparse.Namespace) -> list[tuple[str, Problem, str]]:
    cols = [("train", _make(name, {}), "train"), ("hold-out", _make(name, {}), "holdout")]
    if name == "cant_be_late" and args.traces:
        cols.append(("real traces", _make(name, {"traces": args.traces}), "holdout"))
    if name == "cant_be_late_multi" and args.multi_traces:
        cols.append(("real traces", _make(name, {"traces": args.multi_traces}), "holdout"))
    if name == "cloudcast" and args.profiles:
        cols.append(("real profiles", _make(name, {"profiles": args.profiles}), "holdout"))
    if name == "prism":
        cols[1] = ("leaderboard cases", cols[1][1], "holdout")
    return cols


def _cell(problem: Problem, split: str, code: str, sandbox: Sandbox, second: str, real: bool) -> str:
    stage = run_split(problem, sandbox, code, split, LIMITS)
    if stage.status != "ok":
        return f"{stage.status}: {(stage.error or '')[:40]}"
    m = stage.metrics
    extra = f" lb {m['leaderboard_score']:.0f}" if real and "leaderboard_score" in m else ""
    return f"{m['score']:.2f} ({m[second]:.4g}){extra}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evolve bench adrs", description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated subset of " + ", ".join(PROBLEMS))
    parser.add_argument("--program", action="append", default=[], metavar="NAME=PATH",
                        help="a program file to add as a row (repeatable)")
    parser.add_argument("--traces", default="", help="folder of the leaderboard's cant_be_late trace files")
    parser.add_argument("--multi-traces", default="",
                        help="folder of the leaderboard's aligned multi-region traces (<zone>/<i>.json)")
    parser.add_argument("--profiles", default="", help="folder of the leaderboard's cloudcast profiles and configs")
    args = parser.parse_args(list(argv or []))
    names = [n for n in args.problems.split(",") if n]
    unknown = [n for n in names if n not in PROBLEMS]
    if unknown:
        raise EvolveError(f"evolve bench adrs: unknown problem(s) {unknown}; choose from {list(PROBLEMS)}")
    programs: dict[str, str] = {}
    for item in args.program:
        label, sep, path = item.partition("=")
        if not sep or not label:
            raise EvolveError(f"--program {item!r}: write NAME=PATH")
        try:
            programs[label] = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise EvolveError(f"--program {item!r}: cannot read {path} ({exc.strerror})") from None
    console = Console()
    with Sandbox() as sandbox:
        for name in names:
            cols = _columns(name, args)
            base = cols[0][1]
            rows = {"seed": base.initial_program, **{f"baseline {k}": v for k, v in base.baselines().items()}}
            rows.update({f"program {k}": v for k, v in programs.items() if _defines(v, base.entry)})
            table = Table(title=f"{name}: score, higher is better ({SECOND[name]}; lb: the leaderboard's formula)")
            table.add_column("program")
            for label, _, _ in cols:
                table.add_column(label, justify="right")
            for label, code in rows.items():
                table.add_row(label, *(_cell(p, split, code, sandbox, SECOND[name], col.startswith("real"))
                                     for col, p, split in cols))
            console.print(table)
    return 0
