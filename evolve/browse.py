"""`evolve archive …`, `evolve runs` and `evolve report`: read a run from the terminal.

RUN is a run directory, an archive.db file, or a database URL (with --run-id when it holds several runs).
Everything here only reads the archive (SQLite is opened read-only), so it works while a run is going.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console, Group, JustifyMethod
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from evaluators.status import FAILURES, Status
from evolve.archive import Archive, ProgramRecord, RunRecord, locate
from evolve.archive import queries as q
from evolve.archive.store import damage_advice
from evolve.errors import ArchiveError, EvolveError
from evolve.report.text import (
    code_diff,
    diff_stats,
    duration,
    edit_summary,
    first_line,
    last_line,
    local_time,
    metric_columns,
    money,
    num,
    printable,
    signed,
)

STATUS_CHOICES = (Status.OK.value, "all", *(s.value for s in FAILURES), Status.PENDING.value)
STATUS_STYLE: dict[str, str] = {Status.OK: "green", Status.DUPLICATE: "dim", Status.PENDING: "yellow", Status.RUNNING: "yellow"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one EvolveError line instead of exiting."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split())
        raise EvolveError(f"{self.prog}: {message}; {usage}")


def _parsers() -> dict[str, argparse.ArgumentParser]:
    archive = _Parser(prog="evolve archive", description="Browse the programs of a run.")
    sub = archive.add_subparsers(dest="action", metavar="top|show|diff|lineage|export", parser_class=_Parser)
    sub.required = True

    def run_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("run", metavar="RUN", help="run directory, archive.db file, or database URL")
        p.add_argument("--run-id", help="which run of a database that holds several (default: the newest)")

    top = sub.add_parser("top", help="the best programs, ranked")
    run_args(top)
    top.add_argument("-n", type=int, default=20, help="how many (default 20)")
    top.add_argument("--island", type=int, default=None, help="only this island")
    top.add_argument("--status", default="ok", choices=STATUS_CHOICES, help="ok (default), all, or one status")
    top.add_argument("--every", action="store_true",
                     help="one row per program; by default programs with the same metrics (the same behaviour "
                          "in effect) share the row of the best of them, counted in the 'alike' column")
    show = sub.add_parser("show", help="one program: code, metrics, stages, error, LLM prompt and reply")
    run_args(show)
    show.add_argument("id", type=int, metavar="ID")
    diff = sub.add_parser("diff", help="what changed: from A's parent to A, or from A to B",
                          description="`diff RUN A` shows the changes from A's parent to A; `diff RUN A B` the "
                                      "changes from A (the base, lines marked -) to B (lines marked +).")
    run_args(diff)
    diff.add_argument("id", type=int, metavar="A", help="the program (compared with its parent); with B, the base")
    diff.add_argument("id2", type=int, metavar="B", nargs="?", help="the program compared with the base A (A -> B)")
    lineage = sub.add_parser("lineage", help="the ancestors of a program back to the seed")
    run_args(lineage)
    lineage.add_argument("id", type=int, metavar="ID")
    export = sub.add_parser("export", help="write a program to a standalone file")
    run_args(export)
    export.add_argument("id", type=int, metavar="ID")
    export.add_argument("-o", "--output", help="file to write (default: print the code)")

    runs = _Parser(prog="evolve runs", description="List the runs under a folder (default runs/) or in a database.")
    runs.add_argument("dir", nargs="?", default="runs", metavar="DIR", help="folder or database URL (default runs)")

    report = _Parser(prog="evolve report", description="Write a self-contained HTML report and a Markdown one.")
    report.add_argument("run", metavar="RUN", help="run directory, archive.db file, or database URL")
    report.add_argument("--run-id", help="which run of a database that holds several (default: the newest)")
    report.add_argument("-o", "--output", help="HTML file (default: RUN/report.html, or ./report-<run id>.html "
                                               "for a database URL); report.md is written next to it")
    report.add_argument("--top", type=int, default=20, help="programs in the ranked table (default 20)")
    return {"archive": archive, "runs": runs, "report": report}


def main(cmd: str, argv: Sequence[str], console: Console | None = None) -> int:
    """Run `evolve CMD ARGV…` for CMD in archive|runs|report; returns the exit code.

    Output goes to `console` (default: stdout; give one with markup=False: stored text is printed verbatim).
    """
    out = console or Console(markup=False)
    err = Console(stderr=True, markup=False)
    parsers = _parsers()
    try:
        if cmd not in parsers:
            raise EvolveError(f"unknown command {cmd!r}: use archive, runs or report")
        args = parsers[cmd].parse_args(list(argv))
        if cmd == "runs":
            return _runs(args, out)
        if cmd == "report":
            return _report(args, out)
        return _archive(args, out)
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    except EvolveError as exc:
        err.print(Text.assemble(("error:", "bold red"), " ", str(exc)), soft_wrap=True)
        return 2
    except SQLAlchemyError as exc:
        err.print(Text.assemble(("error:", "bold red"), " the archive could not be read: ",
                                first_line(str(exc), 200), damage_advice(exc)), soft_wrap=True)
        return 2
    except BrokenPipeError:  # `evolve archive show … | head`: stop quietly, and keep Python's exit quiet too
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


# -- archive ------------------------------------------------------------------------------------------
def _archive(args: argparse.Namespace, out: Console) -> int:
    archive, run = locate.open_run(args.run, args.run_id)
    try:
        action = {"top": _top, "show": _show, "diff": _diff, "lineage": _lineage, "export": _export}[args.action]
        return action(archive, run, args, out)
    finally:
        archive.close()


def _program(archive: Archive, run: RunRecord, pid: int) -> ProgramRecord:
    if pid < 0:
        raise ArchiveError("program ids are positive; `evolve archive top RUN` lists them")
    return archive.program(pid, run.id)


def _top(archive: Archive, run: RunRecord, args: argparse.Namespace, out: Console) -> int:
    if args.n < 1:
        raise EvolveError("evolve archive top: -n must be at least 1")
    status = None if args.status == "all" else args.status
    roles = ("seed", "candidate")
    if args.every:
        groups = [q.BehaviourGroup(p) for p in archive.top(run.id, n=args.n, island=args.island, status=status,
                                                           roles=roles)]
    else:
        groups = q.top_behaviours(archive, run.id, args.n, island=args.island, status=status, roles=roles)
    progs = [g.program for g in groups]
    where = f" on island {args.island}" if args.island is not None else ""
    if not progs:
        counts = archive.status_counts(run.id)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no candidates yet"
        out.print(f"run {run.id}: no program with status {args.status}{where} ({detail})")
        return 0 if args.status == "all" or counts else 1
    prefer = [m for m in run.meta.get("summary_metrics", []) if m != "score"]
    seed = next(iter(archive.programs(run.id, roles=("seed",), with_code=False)), None)
    cols = metric_columns([p.metrics for p in progs], prefer, context=[seed.metrics] if seed else [])
    # (header, justify, drop order: higher goes first when the terminal is narrow)
    spec: list[tuple[str, JustifyMethod, int]] = [("#", "right", 3), ("id", "right", 0), ("score", "right", 0)]
    folded = sum(len(g.alike) for g in groups)
    if folded:
        spec.append(("alike", "right", 1))
    spec += [(c, "right", 6 - k) for k, c in enumerate(cols)]
    spec += [("holdout", "right", 2), ("island", "right", 5), ("cell", "left", 7), ("gen", "right", 8),
             ("parent", "right", 4)]
    if status != "ok":
        spec.append(("status", "left", 1))
    rows: list[list[str | Text]] = []
    for rank, (p, group) in enumerate(zip(progs, groups), 1):
        hold = (p.holdout or {}).get("score") if p.holdout else None
        row: list[str | Text] = [str(rank), str(p.id), num(p.score)]
        if folded:
            row.append(f"+{len(group.alike)}" if group.alike else "")
        row += [*(num(p.metrics.get(c)) for c in cols), num(hold) if hold is not None else "—", str(p.island),
                p.cell or "—", str(p.generation),
                f"#{p.parent_id}" if p.parent_id else ("seed" if p.role == "seed" else "—")]
        if status != "ok":
            row.append(Text(p.status, style=STATUS_STYLE.get(p.status, "red")))
        rows.append(row)
    keep = _fit([h for h, _, _ in spec], [d for _, _, d in spec], rows, out.width - 36)  # edit: 30+ columns
    table = Table(title=f"{printable(run.problem)} · run {printable(run.id)} · top {len(progs)} ({args.status}){where}",
                  title_justify="left", header_style="bold")
    for k in keep:
        head, just, _ = spec[k]
        table.add_column(head, justify=just, no_wrap=True, style="bold" if head == "score" else
                         "dim" if head == "#" else None)
    table.add_column("edit", min_width=12)  # the only column that wraps: the others keep their width
    for p, row in zip(progs, rows):
        edit = p.edit_kind or "seed" if p.role == "seed" else (edit_summary(printable(p.edit), p.edit_kind, 60) or "—")
        table.add_row(*(row[k] for k in keep), edit)
    out.print(table)
    if folded:
        out.print(f"alike: {folded} more program(s) with the same metrics as the row's program (the same "
                  "behaviour in effect) are counted there, not listed; --every lists each program",
                  style="dim", highlight=False)
    out.print(f"{run.evaluations} evaluations · run {run.status}"
              f"{' (' + printable(run.stop_reason) + ')' if run.stop_reason else ''} · "
              f"`evolve archive show {_run_arg(args.run, run)} ID` shows one", style="dim", highlight=False)
    return 0


def _fit(headers: Sequence[str], drop_order: Sequence[int], rows: Sequence[Sequence[str | Text]],
         width: int) -> list[int]:
    """Indices of the columns to show in `width` characters: columns with the highest drop order go first
    when the terminal is too narrow for all of them (a squeezed table is unreadable)."""
    need = _widths(headers, rows)
    keep = list(range(len(headers)))
    for k in sorted(keep, key=lambda k: -drop_order[k]):
        if sum(need[i] for i in keep) <= width or drop_order[k] == 0:
            break
        keep.remove(k)
    return keep


def _widths(headers: Sequence[str], rows: Sequence[Sequence[str | Text]]) -> list[int]:
    """The characters each column takes in a table: its widest cell (up to 40), padding and border."""
    return [3 + max([len(h), *(min(40, len(str(r[k]))) for r in rows)]) for k, h in enumerate(headers)]


def _run_arg(target: str, run: RunRecord) -> str:
    """How to name this run again on the command line (a URL without its password, plus the run id)."""
    if "://" in target:
        return f"{locate.safe_url(target)} --run-id {run.id}"
    return target


def _show(archive: Archive, run: RunRecord, args: argparse.Namespace, out: Console) -> int:
    p = _program(archive, run, args.id)
    color = STATUS_STYLE.get(p.status, "red")
    title = Text.assemble((f"program #{p.id}", "bold"), "  ", (p.status, f"bold {color}"),
                          f"  {p.role}" + (f" {printable(p.name)}" if p.name and p.role != "candidate" else ""))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    if p.role == "candidate" and p.name:
        facts.add_row("idea", p.name)  # the model's NAME/IDEA line for the edit
    facts.add_row("score", num(p.score) + (f"   holdout {num(p.holdout.get('score'))}"
                                           if p.holdout and "score" in p.holdout else ""))
    parent = archive.program(p.parent_id, run.id) if p.parent_id else None
    if parent is not None:
        delta = (p.score - parent.score) if p.score is not None and parent.score is not None else None
        facts.add_row("parent", f"#{parent.id} (score {num(parent.score)}, {signed(delta)})")
    if p.inspiration_ids:
        facts.add_row("inspirations", " ".join(f"#{i}" for i in p.inspiration_ids))
    facts.add_row("island · cell · gen", f"{p.island} · {p.cell or '—'} · {p.generation}")
    if p.edit_kind or p.edit:
        facts.add_row("edit", printable(_edit_label(p.edit_kind, p.edit)))
    if p.model or p.prompt_tokens or p.completion_tokens:
        facts.add_row("model", f"{printable(p.model) or '—'} · {p.prompt_tokens:,} prompt + {p.completion_tokens:,} "
                               f"completion tokens · {money(p.cost_usd)}")
    facts.add_row("evaluated", (f"evaluation #{p.eval_index} · " if p.eval_index else "")
                  + f"{p.eval_seconds:.2f} s · created {local_time(p.created_at)}")
    out.print(Panel(facts, title=title, title_align="left", border_style=color))

    if p.stages or p.holdout:
        out.print(_stage_table(p))
    if p.error:
        out.print(Panel(Text(printable(p.error.rstrip())), title="error", title_align="left", border_style="red"))
    for st in p.stages:
        for name, text in (("evaluator's notes", st.feedback), ("stdout", st.stdout), ("stderr", st.stderr)):
            if text:
                lines = printable(text.rstrip()).splitlines()
                shown = "\n".join(lines[-40:]) + ("" if len(lines) <= 40 else f"\n… ({len(lines) - 40} more lines)")
                out.print(Panel(Text(shown), title=f"{st.split} {name}", title_align="left", border_style="dim"))
    if p.code:
        out.print(Panel(Syntax(printable(p.code.rstrip("\n")), "python", line_numbers=True, word_wrap=True, theme="ansi_dark"),
                        title=f"code of #{p.id}", title_align="left", border_style="blue"))
    else:
        out.print("no code (the proposal could not be turned into a program)", style="dim")
    for call in q.llm_calls_for(archive, p.id):
        head = Text(f"LLM call #{call.id} · {printable(call.model)} · {call.status} · {call.prompt_tokens:,}+"
                f"{call.completion_tokens:,} tokens · {money(call.cost_usd)} · {call.latency_s:.1f} s")
        parts: list[Any] = []
        if call.error:
            parts.append(Text(f"error: {printable(call.error)}", style="red"))
        details = [f"finish: {printable(call.finish_reason)}" if call.finish_reason else "",
                   f"retries: {call.retries} ({', '.join(map(str, call.retry_statuses or []))})" if call.retries else "",
                   f"request id: {printable(call.request_id)}" if call.request_id else ""]
        if any(details):
            parts.append(Text(" · ".join(d for d in details if d), style="dim"))
        if call.reasoning:
            parts.append(Panel(Text(printable(call.reasoning)), title="reasoning", title_align="left", border_style="dim"))
        parts.append(Panel(Text(printable(call.prompt) or "(no prompt stored)"), title="prompt", title_align="left",
                           border_style="dim"))
        parts.append(Panel(Text(printable(call.response) or "(no reply stored)"), title="reply", title_align="left",
                           border_style="dim"))
        out.print(Panel(Group(*parts), title=head, title_align="left", border_style="magenta"))
    return 0


def _edit_label(kind: str | None, edit: str | None) -> str:
    """'crossover: a -> b (offline)' rather than 'offline:crossover: crossover: a -> b'."""
    text = edit_summary(edit, kind, 120) if edit else ""
    if not text:
        return kind or "—"
    if not kind:
        return text
    source, _, name = kind.rpartition(":")
    if text.startswith(name):
        return text + (f" ({source})" if source else "")
    return f"{kind}: {text}"


def _stage_table(p: ProgramRecord) -> Group:
    """One column per split and one row per metric: the splits are few and the metrics many, so the table
    keeps its width (and every metric's full name) in an 80-column terminal. Failure notes follow it."""
    rows: list[tuple[str, str, dict[str, Any], float | None, str | None, str | None]] = [
        (st.split, st.status, st.metrics, st.seconds, st.failed_instance, st.error) for st in p.stages]
    if p.holdout and not any(r[0] == "holdout" for r in rows):
        status = str(p.holdout.get("status", "ok"))
        rows.append(("holdout", status, p.holdout, None, None, p.holdout.get("error")))
    cols = metric_columns([r[2] for r in rows], limit=8)
    table = Table(title="evaluation stages", title_justify="left", header_style="bold")
    table.add_column("split", style="dim", no_wrap=True)
    for split, *_ in rows:
        table.add_column(split, justify="right", no_wrap=True)
    table.add_row("status", *(Text(r[1], style=STATUS_STYLE.get(r[1], "red")) for r in rows))
    table.add_row("score", *(num(r[2].get("score")) for r in rows), style="bold")
    for c in cols:
        table.add_row(c, *(num(r[2].get(c)) for r in rows))
    table.add_row("seconds", *("—" if r[3] is None else f"{r[3]:.2f}" for r in rows))
    notes = [Text(f"{split}: " + printable((f"{failed}: " if failed else "") + last_line(error, 300)), style="red")
             for split, status, _, _, failed, error in rows if status != "ok"]
    return Group(table, *notes)


def _diff(archive: Archive, run: RunRecord, args: argparse.Namespace, out: Console) -> int:
    if args.id2 is not None:
        old, new = _program(archive, run, args.id), _program(archive, run, args.id2)
    else:
        new = _program(archive, run, args.id)
        if new.parent_id is None:
            raise EvolveError(f"program #{new.id} has no parent (it is the {new.role}); name two programs: "
                              f"evolve archive diff RUN A B (from A to B)")
        old = archive.program(new.parent_id, run.id)
    text = printable(code_diff(old.code, new.code, f"#{old.id} (score {num(old.score)})",
                               f"#{new.id} (score {num(new.score)})"))
    delta = (new.score - old.score) if new.score is not None and old.score is not None else None
    relation = "parent " if args.id2 is None else ""
    if not text:
        out.print(f"{relation}#{old.id} and #{new.id} have the same code (score {signed(delta)})")
        return 0
    added, removed = diff_stats(text)
    out.print(Text.assemble(relation, (f"#{old.id}", "bold"), " → ", (f"#{new.id}", "bold"),
                            f": +{added} −{removed} lines, score {num(old.score)} → {num(new.score)} "
                            f"({signed(delta)})" + (f" · edit {printable(new.edit_kind)}" if new.edit_kind and
                                                     args.id2 is None else "")))
    out.print(Syntax(text, "diff", theme="ansi_dark", word_wrap=True))
    return 0


def _lineage(archive: Archive, run: RunRecord, args: argparse.Namespace, out: Console) -> int:
    _program(archive, run, args.id)  # a clear error for an unknown id
    chain = q.lineage(archive, run.id, args.id)
    # (header, justify, drop order: higher goes first when the terminal is narrow)
    spec: list[tuple[str, JustifyMethod, int]] = [
        ("step", "right", 4), ("id", "right", 0), ("gen", "right", 3), ("eval", "right", 2), ("island", "right", 5),
        ("score", "right", 0), ("Δ parent", "right", 0), ("status", "left", 1)]
    rows: list[list[str | Text]] = []
    prev: float | None = None
    for step, b in enumerate(chain):
        delta = (b.score - prev) if b.score is not None and prev is not None else None
        style = "green" if delta is not None and delta > 0 else "red" if delta is not None and delta < 0 else ""
        rows.append([str(step), f"#{b.id}", str(b.generation), str(b.eval_index or "—"), str(b.island),
                     num(b.score), Text(signed(delta), style=style),
                     Text(b.status, style=STATUS_STYLE.get(b.status, "red"))])
        prev = b.score if b.score is not None else prev
    headers = [h for h, _, _ in spec]
    keep = _fit(headers, [d for _, _, d in spec], rows, out.width - 34)  # edit: 30+ columns
    edit_width = max(20, out.width - sum(_widths(headers, rows)[k] for k in keep) - 4)
    table = Table(title=f"lineage of #{args.id}: {len(chain) - 1} step(s) from "
                        f"{'the seed' if chain and chain[0].role == 'seed' else '#' + str(chain[0].id)}",
                  title_justify="left", header_style="bold")
    for k in keep:
        table.add_column(spec[k][0], justify=spec[k][1], no_wrap=True)
    # one line per step: `evolve archive show RUN ID` prints an edit in full
    table.add_column("edit", no_wrap=True, overflow="ellipsis", max_width=edit_width)
    for b, row in zip(chain, rows):
        table.add_row(*(row[k] for k in keep),
                      b.role if b.role != "candidate" else (edit_summary(printable(b.edit), b.edit_kind, 200) or "—"))
    out.print(table)
    return 0


def _export(archive: Archive, run: RunRecord, args: argparse.Namespace, out: Console) -> int:
    p = _program(archive, run, args.id)
    if not p.code.strip():
        raise EvolveError(f"program #{p.id} has no code to export (status {p.status}: {first_line(p.error)})")
    code = p.code if p.code.endswith("\n") else p.code + "\n"
    if not args.output:
        sys.stdout.write(code)
        return 0
    path = Path(args.output).expanduser()
    if path.is_dir():
        raise EvolveError(f"{args.output} is a directory; give a file name, e.g. -o {path / f'program_{p.id}.py'}")
    if not path.parent.is_dir():
        raise EvolveError(f"cannot write {args.output}: the folder {path.parent} does not exist")
    try:
        path.write_text(code, encoding="utf-8")
    except OSError as exc:
        raise EvolveError(f"cannot write {args.output}: {exc.strerror}") from exc
    out.print(f"wrote {path} (program #{p.id}, {p.status}, score {num(p.score)}); score it with "
              f"`evolve eval {shlex.quote(str(path))} {_problem_arg(run)}`", highlight=False, soft_wrap=True)
    return 0


def _problem_arg(run: RunRecord) -> str:
    """How to name the run's problem to `evolve eval`: its folder for a plugin given as problem.path."""
    folder = (run.config.get("problem") or {}).get("path")
    return f"problem.path={shlex.quote(str(folder))}" if folder else f"problem={run.problem}"


# -- runs -------------------------------------------------------------------------------------------------
def _runs(args: argparse.Namespace, out: Console) -> int:
    listings = locate.find_runs(args.dir)
    where = locate.safe_url(args.dir) if "://" in args.dir else args.dir
    if not listings:
        out.print(f"no runs in {where} yet; start one with `evolve run`")
        return 0
    headers = ("run", "problem", "started", "duration", "evaluations", "best score", "status")
    justify: tuple[JustifyMethod, ...] = ("left", "left", "left", "right", "right", "right", "left")
    rows: list[list[str | Text]] = []
    listings.sort(key=lambda r: (r.run.started_at.isoformat() if r.run else "", r.location))
    for item in listings:
        shown = _short(item.location)
        r = item.run
        if r is None:
            rows.append([shown, "—", "—", "—", "—", "—", Text(f"unreadable: {printable(item.error)}", style="red")])
            continue
        if "://" in item.location:
            shown = f"{shown} --run-id {r.id}"
        status = r.status + (f" ({printable(r.stop_reason)})" if r.stop_reason and r.stop_reason != r.status else "")
        rows.append([shown, printable(r.problem), local_time(r.started_at), duration(q.run_duration(r)), f"{r.evaluations:,}",
                     num(r.best_score) if r.best_score is not None else "—",
                     Text(status, style={"finished": "green", "running": "yellow"}.get(r.status, "red"))])
    keep = _fit(headers, (0, 4, 2, 3, 0, 0, 1), rows, out.width - 10)
    table = Table(title=f"runs in {where}", title_justify="left", header_style="bold")
    for k in keep:
        wraps = headers[k] in ("run", "status")
        table.add_column(headers[k], justify=justify[k], no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    for row in rows:
        table.add_row(*(row[k] for k in keep))
    out.print(table)
    return 0


def _short(location: str) -> str:
    if "://" in location:
        return location
    try:
        return str(Path(location).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return location


# -- report ----------------------------------------------------------------------------------------------
def _report(args: argparse.Namespace, out: Console) -> int:
    from evolve.report import write_report

    if args.top < 1:
        raise EvolveError("evolve report: --top must be at least 1")
    archive, run = locate.open_run(args.run, args.run_id)
    try:
        if args.output:
            html_path = Path(args.output).expanduser()
        elif "://" not in args.run and Path(args.run).is_dir():
            html_path = Path(args.run) / "report.html"
        else:
            html_path = Path(f"report-{run.id}.html")
        if html_path.is_dir():
            raise EvolveError(f"{html_path} is a directory; give a file name, e.g. -o {html_path / 'report.html'}")
        if not html_path.parent.is_dir():
            raise EvolveError(f"cannot write {html_path}: the folder {html_path.parent} does not exist")
        written = write_report(archive, run, html_path, top_n=args.top)
    finally:
        archive.close()
    size = written.html.stat().st_size
    out.print(f"report: {written.html} ({size / 1e6:.1f} MB, opens offline in any browser)", highlight=False)
    out.print(f"markdown: {written.markdown}", highlight=False)
    if written.note:
        out.print(Text.assemble(("note:", "yellow"), " ", written.note), soft_wrap=True)
    return 0
