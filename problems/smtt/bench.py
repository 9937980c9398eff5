"""`evolve bench smtt`: the benchmark table of SMTT / SMWTT heuristics against exact or published optima.

Rows are the baselines (problems/smtt/baselines and problems/smwtt/baselines, matched by file name) and
any program given with --program NAME=PATH (SMTT, `schedule(p, d)`) or --wprogram NAME=PATH (SMWTT,
`schedule(p, d, w)`). Columns are generated instances of the standard classes (n = 20, 100, 200, 500;
Potts & Van Wassenhove 1982, 20 (TF, RDD) classes) and the OR-Library sets wt40, wt50, wt100. Every
program runs through the real sandbox and is scored by the plugins' own validators.

References: exact optima, cached in data/bench_references.json (`--update-references` recomputes missing
ones); where the exact solver exceeds its budget (only at n = 500, in the tight classes) the reference is
the best schedule an iterated local search found, marked best_known, and the table says how many of each
kind a column uses. The OR-Library columns use the published optimal / best-known values.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import run_split
from evolve.problem import Harness, Instance, Problem
from problems.smtt import exact, references
from problems.smtt.generator import generate_split
from problems.smtt.metrics import by_class
from problems.smtt.problem import Smtt, instance_key
from problems.smwtt import orlib
from problems.smwtt.problem import Smwtt, make_instance

HERE = Path(__file__).resolve().parent
BENCH_REFERENCES = HERE / "data" / "bench_references.json"
#: the split seed of the generated benchmark instances (the default splits use 1, 2, 3)
BENCH_SEED = 11
#: generated columns: n -> instances per (TF, RDD) class
GENERATED = {20: 10, 100: 10, 200: 5, 500: 2}
WT_SETS = ("wt40", "wt50", "wt100")
COLUMNS = (*(f"n{n}" for n in GENERATED), *WT_SETS)
#: row order of the baselines (others follow alphabetically)
ROW_ORDER = ("edd", "spt", "covert", "atc", "mdd", "psk", "amdd", "mdd_ls")
#: exact-solver budget (memoised subproblems) when filling the reference cache
EXACT_BUDGET = 1_500_000
BENCH_HARNESS = Harness(timeout_s=120.0, split_timeout_s=7200.0)
METRICS = ("gap_pct", "mean_gap_pct", "optimal_pct")
TITLES = {"gap_pct": "Ratio-of-sums gap to the reference, 100·(ΣT − ΣT_ref)/ΣT_ref (%)",
          "mean_gap_pct": "Mean per-instance gap, 100·(T − T_ref)/max(T_ref, Σp·w̄) (%)",
          "optimal_pct": "Instances solved to a proven optimum (%)"}


@dataclass(frozen=True)
class Cell:
    """One program on one column: status, overall metrics, per-class metrics."""

    status: str
    metrics: Mapping[str, float]
    classes: Mapping[str, Mapping[str, float]]
    seconds: float
    error: str | None = None


class _Column(Problem):
    """One benchmark column as a one-split problem that keeps the per-instance metrics it aggregates."""

    def __init__(self, base: Problem, items: list[Instance]) -> None:
        self.name, self.entry, self.package_dir = base.name, base.entry, base.package_dir
        self.harness = BENCH_HARNESS
        self.base = base
        self.items = items
        self.captured: list[Mapping[str, float]] = []

    def instances(self, split: str) -> Sequence[Instance]:
        return self.items

    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        return self.base.score(instance, output)

    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        self.captured = list(metrics)
        return self.base.aggregate(instances, metrics, timings)


# --- instances and references ----------------------------------------------------------------------------
def generated_instances(n: int, per_class: int, table: dict[str, dict[str, Any]],
                        save: bool = False) -> list[Instance]:
    """The benchmark instances with n jobs; references from `table`, computed now when missing (and,
    with `save`, written to the cache after each one, so an interrupted fill keeps its work)."""
    problem = Smtt()
    out = []
    for raw in generate_split(BENCH_SEED, (n,), per_class):
        key = instance_key(raw)
        if key not in table:
            table[key] = reference_entry(raw.p, raw.d, EXACT_BUDGET if save else references.DEFAULT_MAX_STATES)
            if save:
                references.save_table(BENCH_REFERENCES, table)
                print(f"reference {key}: {table[key]}", file=sys.stderr, flush=True)
        known = table[key]
        out.append(problem.make_instance("bench", raw, (float(known["value"]), str(known["kind"]))))
    return out


def reference_entry(p: Any, d: Any, budget: int) -> dict[str, Any]:
    """An exact optimum if the solver finishes within `budget` states, else the best-known value."""
    start = time.monotonic()
    bound = exact.lower_bound(p, d)
    try:
        value, kind = exact.solve(p, d, max_states=budget).value, "optimum"
    except exact.SearchLimit:
        value, kind = references.best_known(p, d, kicks=20), "best_known"
    return {"value": value, "kind": kind, "lower_bound": bound, "seconds": round(time.monotonic() - start, 1)}


def wt_instances(name: str, stride: int = 1) -> list[Instance]:
    """Every `stride`-th instance of an OR-Library set, with its published value."""
    return [make_instance("bench", r) for r in orlib.read_set(name)[::stride]]


def column_instances(column: str, per_class: int | None, wt_stride: int,
                     table: dict[str, dict[str, Any]], save: bool = False) -> list[Instance]:
    """The instances of one column (see generated_instances and wt_instances)."""
    if column in WT_SETS:
        return wt_instances(column, wt_stride)
    n = int(column[1:])
    return generated_instances(n, per_class or GENERATED[n], table, save)


def reference_summary(items: Sequence[Instance]) -> str:
    """How many instances use each kind of reference, e.g. "38 optimum, 2 best_known"."""
    counts: dict[str, int] = {}
    for i in items:
        counts[str(i.reference_kind)] = counts.get(str(i.reference_kind), 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# --- running ---------------------------------------------------------------------------------------------
def run_cell(column: _Column, code: str, sandbox: Sandbox) -> Cell:
    """Evaluate `code` on a column through the sandbox; per-class metrics from the captured scores.

    Keep one `_Column` per column alive for the whole benchmark: the sandbox caches a split's inputs
    under a key that includes the problem object's id, which a new object could otherwise reuse.
    """
    column.captured = []
    stage = run_split(column, sandbox, code, "holdout", Limits())
    if stage.status != "ok":
        return Cell(stage.status, {}, {}, stage.seconds, stage.error)
    classes = by_class([str(i.meta["class"]) for i in column.items], column.captured)
    return Cell("ok", dict(stage.metrics), classes, stage.seconds)


def row_programs(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """{row name: {"smtt": code, "smwtt": code}} for the baselines asked for and the given programs."""
    rows: dict[str, dict[str, str]] = {}
    if args.baselines != "none":
        wanted = None if args.baselines == "all" else set(args.baselines.split(","))
        for kind, problem in (("smtt", Smtt()), ("smwtt", Smwtt())):
            for name, code in problem.baselines().items():
                if wanted is None or name in wanted:
                    rows.setdefault(name, {})[kind] = code
    for kind, specs in (("smtt", args.program), ("smwtt", args.wprogram)):
        for spec in specs or ():
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                raise SystemExit(f"--program/--wprogram expects NAME=PATH, got {spec!r}")
            file = Path(path)
            if not file.is_file():
                raise SystemExit(f"program file {path!r} (for row {name!r}) does not exist")
            rows.setdefault(name, {})[kind] = file.read_text(encoding="utf-8")
    order = {name: i for i, name in enumerate(ROW_ORDER)}
    return dict(sorted(rows.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


# --- output ----------------------------------------------------------------------------------------------
def _fmt(cell: Cell | None, metric: str) -> str:
    if cell is None:
        return "–"
    if cell.status != "ok":
        return cell.status
    return f"{cell.metrics[metric]:.2f}"


def _class_cell(metrics: Mapping[str, float], metric: str) -> str:
    """A per-class value; a ratio-of-sums gap is undefined when the class's optimum total is 0."""
    if metric == "gap_pct" and metrics["reference_tardiness"] == 0:
        return "0" if metrics["total_tardiness"] == 0 else f"+{metrics['total_tardiness']:.0f}"
    return f"{metrics[metric]:.2f}"


def markdown(results: Mapping[str, Mapping[str, Cell]], columns: Sequence[str],
             refs: Mapping[str, str], per_class: bool = True, class_metric: str = "gap_pct") -> str:
    """The benchmark as Markdown: one table per metric, then one per-class table per column."""
    head = "| program | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns) + "\n"
    parts = ["# SMTT / SMWTT benchmark\n",
             "Generated columns: Potts & Van Wassenhove (1982) instances, 20 (TF, RDD) classes; wt columns: "
             "OR-Library weighted tardiness sets. Rows run through the evolve sandbox; every schedule is "
             "re-scored by the trusted validator. A cell that is not a number is the program's status there; "
             "– means the row has no program for that column.\n"]
    for metric in METRICS:
        rows = [f"| {name} | " + " | ".join(_fmt(cells.get(c), metric) for c in columns) + " |"
                for name, cells in results.items()]
        parts.append(f"## {TITLES[metric]}\n\n" + head + "\n".join(rows) + "\n")
    parts.append("## References\n\n| column | references |\n|---|---|\n"
                 + "\n".join(f"| {c} | {refs[c]} |" for c in columns) + "\n")
    if per_class:
        names = list(results)
        note = (" A class whose optimal total is 0 shows +T, the mean tardiness per instance above it."
                if class_metric == "gap_pct" else "")
        for c in columns:
            keys = sorted({k for cells in results.values() if (cell := cells.get(c)) for k in cell.classes},
                          key=_class_order)
            if not keys:
                continue
            lines = [f"## {c}: {TITLES[class_metric][0].lower()}{TITLES[class_metric][1:]} per class\n", note.strip(),
                     "", "| class | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            if not note:
                del lines[1:3]
            for k in keys:
                vals = []
                for name in names:
                    cell = results[name].get(c)
                    vals.append(_class_cell(cell.classes[k], class_metric) if cell and k in cell.classes
                                else _fmt(cell, class_metric))
                lines.append(f"| {k} | " + " | ".join(vals) + " |")
            parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _class_order(key: str) -> tuple[float, float]:
    tf, rdd = key.split("-")
    return float(tf[2:]), float(rdd[3:])


def write_csv(path: Path, results: Mapping[str, Mapping[str, Cell]]) -> None:
    """Long format: program, column, class ("all" for the column), metric, value (or status)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["program", "column", "class", "metric", "value"])
        for name, cells in results.items():
            for column, cell in cells.items():
                if cell.status != "ok":
                    out.writerow([name, column, "all", "status", cell.status])
                    continue
                for metric, value in cell.metrics.items():
                    out.writerow([name, column, "all", metric, repr(float(value))])
                out.writerow([name, column, "all", "seconds", f"{cell.seconds:.3f}"])
                for key, metrics in cell.classes.items():
                    for metric in METRICS:
                        out.writerow([name, column, key, metric, repr(float(metrics[metric]))])


# --- command line ----------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="evolve bench smtt", description="Benchmark table of SMTT / SMWTT heuristics: ratio-of-sums "
        "gap to exact or published optima, per size and per (TF, RDD) class.")
    parser.add_argument("--program", action="append", metavar="NAME=PATH",
                        help="an SMTT program file (schedule(p, d)) to add as row NAME; repeatable")
    parser.add_argument("--wprogram", action="append", metavar="NAME=PATH",
                        help="an SMWTT program file (schedule(p, d, w)) for the wt columns of row NAME")
    parser.add_argument("--baselines", default="all", metavar="NAMES",
                        help="comma-separated baseline names, 'all' (default) or 'none'")
    parser.add_argument("--columns", default=",".join(COLUMNS), metavar="COLS",
                        help=f"comma-separated columns (default: {','.join(COLUMNS)})")
    parser.add_argument("--per-class", type=int, default=None, metavar="K",
                        help="instances per (TF, RDD) class in the generated columns (default: "
                        + ", ".join(f"n{n}: {k}" for n, k in GENERATED.items()) + ")")
    parser.add_argument("--wt-stride", type=int, default=1, metavar="S",
                        help="use every S-th OR-Library instance (default 1: all 125)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write bench.md and bench.csv into DIR")
    parser.add_argument("--no-per-class", action="store_true", help="leave the per-class tables out")
    parser.add_argument("--class-metric", choices=METRICS, default="gap_pct",
                        help="the metric of the per-class tables (the CSV holds all of them)")
    parser.add_argument("--update-references", action="store_true",
                        help="solve missing references of the chosen columns and cache them (slow at n = 500)")
    args = parser.parse_args(argv)
    unknown = [c for c in args.columns.split(",") if c not in COLUMNS]
    if unknown:
        parser.error(f"unknown column(s) {unknown}; choose from {', '.join(COLUMNS)}")
    if (args.per_class is not None and args.per_class < 1) or args.wt_stride < 1:
        parser.error("--per-class and --wt-stride must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the Markdown table (and write it with a CSV under --out)."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    columns = args.columns.split(",")
    table = references.load_table(BENCH_REFERENCES)
    items = {c: column_instances(c, args.per_class, args.wt_stride, table, save=args.update_references)
             for c in columns}
    rows = row_programs(args)
    problems: dict[str, Problem] = {"smtt": Smtt(), "smwtt": Smwtt()}
    kinds = {c: "smwtt" if c in WT_SETS else "smtt" for c in columns}
    views = {c: _Column(problems[kinds[c]], items[c]) for c in columns}
    results: dict[str, dict[str, Cell]] = {}
    with Sandbox() as sandbox:
        for name, codes in rows.items():
            results[name] = {}
            for c in columns:
                if kinds[c] not in codes:
                    continue
                cell = run_cell(views[c], codes[kinds[c]], sandbox)
                results[name][c] = cell
                shown = f"{cell.metrics['gap_pct']:.2f}%" if cell.status == "ok" else cell.status
                print(f"{name:>10} {c:>6}: {shown} ({cell.seconds:.1f}s)", file=sys.stderr)
    refs = {c: reference_summary(items[c]) for c in columns}
    text = markdown(results, columns, refs, per_class=not args.no_per_class, class_metric=args.class_metric)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench.md").write_text(text, encoding="utf-8")
        write_csv(args.out / "bench.csv", results)
        print(f"wrote {args.out / 'bench.md'} and {args.out / 'bench.csv'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
