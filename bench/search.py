"""Search strategies at equal evaluation budgets: random vs sequential vs the default evolution.

    python bench/search.py [--problems smtt eplb txn binpack] [--budgets 300 1000 3000] [--seeds 10]
                           [--first-seed 100] [--jobs 1] [--workers 2] [--log runs.jsonl] [OVERRIDE ...]
    python bench/search.py --table runs.jsonl        # the table of whatever runs a log holds
    python bench/search.py --evolution thompson ...  # another registered strategy in evolution's column
    python bench/search.py --evolution-override search.restart=0.5 ...  # an override of evolution's runs only

Every (problem, strategy, seed) runs once, with the offline mutator, at the largest budget; the best train
score after each budget is read from the archive (a run is prefix-consistent: the best after 300
evaluations of a 3000-evaluation run is the best of a 300-evaluation run). Seeds start at 100 by default:
the defaults were tuned on seeds 0-4 and 10-12, never on 100 and above.

Prints, per problem and budget, the median best score of each strategy with its interquartile range, the
gain of evolution's median over the seed's score, and the one-sided Mann-Whitney U p-value (SciPy) that
evolution's best scores are larger than each baseline's, and the one-sided p-value that they are smaller
(the evidence that evolution is worse: "not worse" means it is not small); then, per problem and strategy, what became of
the children: the share that crashed (crash, timeout, memory, forbidden), were invalid, duplicates, found
no change (the mutator's parse_error), or improved on their parent's train score. Each finished run is
appended to --log as one JSON line, so a bench cut short still yields the table of the runs it finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

STRATEGIES = ("random", "sequential", "evolution")
PROBLEMS = ("smtt", "eplb", "txn", "binpack")
CRASHED = ("crash", "timeout", "memory", "forbidden")


def run_one(problem_name: str, strategy: str, seed: int, budget: int, workers: int,
            overrides: Sequence[str] = ()) -> dict[str, Any]:
    """One run; returns its curve [(eval_index, best so far)], its seed's score and its children's fates."""
    from hydra import compose, initialize_config_module

    from evaluators.dispatch import make_executor
    from evolve.archive import Archive
    from evolve.archive.store import sqlite_url
    from evolve.config import register
    from evolve.loop import Evolution
    from evolve.mutators.registry import make_mutator
    from evolve.plugins import load_problem
    from evolve.runner import isolation_from, limits_from
    from evolve.worker import ProblemSpec, share_problem

    register()
    group = [o for o in overrides if o.startswith("search=")] or [f"search={strategy}"]  # --evolution NAME
    with initialize_config_module("evolve.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"problem={problem_name}", *group,
                                           f"search.iterations={budget}", "search.max_seconds=0",
                                           f"evaluator.workers={workers}", f"seed={seed}",
                                           *(o for o in overrides if not o.startswith("search="))])
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="evolve-bench-search-") as tmp:
        archive = Archive(sqlite_url(Path(tmp) / "run.db"))
        archive.create_run("bench", problem_name, {}, seed, tmp)
        problem = load_problem(problem_name)
        spec = ProblemSpec(problem_name)
        share_problem(spec, problem)  # the local evaluator's worker threads score with this process's problem
        evo = Evolution(cfg=cfg, problem=problem, spec=spec, archive=archive, run_id="bench",
                        mutator=make_mutator(cfg), executor_factory=lambda: make_executor("local", workers),
                        workers=workers, limits=limits_from(cfg), isolation=isolation_from(cfg), seed=seed)
        try:
            evo.seed_population(problem.initial_program)
            asyncio.run(evo.run())
        finally:
            evo.close()
        seed_score = archive.programs("bench", roles=("seed",), with_code=False)[0].score
        children = archive.programs("bench", roles=("candidate",), with_code=False)
        archive.close()
    scores = {p.id: p.score for p in children}
    best, curve = float("-inf") if seed_score is None else seed_score, []
    for p in sorted((p for p in children if p.eval_index is not None), key=lambda p: p.eval_index or 0):
        if p.score is not None:
            best = max(best, p.score)
        curve.append((p.eval_index, best))
    fates = {"children": len(children), "crashed": 0, "invalid": 0, "duplicate": 0, "no_change": 0, "improved": 0}
    for p in children:
        if p.status in CRASHED:
            fates["crashed"] += 1
        elif p.status == "invalid":
            fates["invalid"] += 1
        elif p.status == "duplicate":
            fates["duplicate"] += 1
        elif p.status == "parse_error":
            fates["no_change"] += 1
        parent = seed_score if p.parent_id not in scores else scores[p.parent_id]
        if p.parent_id is not None and p.score is not None and parent is not None and p.score > parent:
            fates["improved"] += 1
    return {"problem": problem_name, "strategy": strategy, "seed": seed, "budget": budget,
            "overrides": list(overrides), "seed_score": seed_score, "curve": curve, "fates": fates,
            "seconds": round(time.monotonic() - t0, 1)}


def best_at(curve: Sequence[Sequence[float]], budget: int, seed_score: float | None) -> float:
    start = float("-inf") if seed_score is None else seed_score
    return max([start, *(b for i, b in curve if i <= budget)])


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q2, q3


def table(runs: list[dict[str, Any]], budgets: Sequence[int] | None = None) -> str:
    """The markdown tables of a set of runs (per problem: scores by budget, then the children's fates)."""
    from scipy.stats import mannwhitneyu

    out: list[str] = []
    longest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for r in runs:  # one run per (problem, strategy, seed): the longest, whose prefixes are the shorter ones
        key = (r["problem"], r["strategy"], r["seed"])
        if key not in longest or r["budget"] > longest[key]["budget"]:
            longest[key] = r
    runs = list(longest.values())
    problems = [p for p in PROBLEMS if any(r["problem"] == p for r in runs)]
    problems += sorted({r["problem"] for r in runs} - set(problems))
    for prob in problems:
        mine = [r for r in runs if r["problem"] == prob]
        top = max(r["budget"] for r in mine)
        levels = sorted(budgets or {b for r in mine for b in (300, 1000, 3000) if b <= r["budget"]} or {top})
        seeds = sorted({r["seed"] for r in mine})
        seed_score = statistics.median(r["seed_score"] for r in mine if r["seed_score"] is not None)
        out.append(f"\n### {prob}: median best train score [IQR] over seeds {_ranges(seeds)}; "
                   f"seed program {seed_score:.3f}\n")
        out.append("| budget | " + " | ".join(STRATEGIES) + " | evolution gain | p(evo > random) "
                   "| p(evo > sequential) | p(evo < random / sequential) | n |")
        out.append("|---" * (len(STRATEGIES) + 6) + "|")
        for budget in levels:
            cells, best = [], {}
            for s in STRATEGIES:
                xs = [best_at(r["curve"], budget, r["seed_score"]) for r in mine
                      if r["strategy"] == s and r["budget"] >= budget]
                best[s] = xs
                if xs:
                    q1, q2, q3 = _quartiles(xs)
                    cells.append(f"{q2:.3f} [{q1:.3f}, {q3:.3f}]")
                else:
                    cells.append("—")
            evo = best["evolution"]
            gain = f"{statistics.median(evo) - seed_score:+.3f}" if evo else "—"
            ps, worse = [], []  # worse: the evidence that evolution is worse (a small p says it is)
            for base in ("random", "sequential"):
                if evo and best[base]:
                    ps.append(f"{mannwhitneyu(evo, best[base], alternative='greater').pvalue:.3g}")
                    worse.append(f"{mannwhitneyu(evo, best[base], alternative='less').pvalue:.3g}")
                else:
                    ps.append("—")
                    worse.append("—")
            n = "/".join(str(len(best[s])) for s in STRATEGIES)
            out.append(f"| {budget} | " + " | ".join(cells) + f" | {gain} | {ps[0]} | {ps[1]} | "
                       f"{' / '.join(worse)} | {n} |")
        out.append(f"\nchildren at the largest budget ({top}), share of all children proposed:\n")
        out.append("| strategy | children | crashed | invalid | duplicate | no change | improved on parent |")
        out.append("|---" * 7 + "|")
        for s in STRATEGIES:
            fates = [r["fates"] for r in mine if r["strategy"] == s]
            if not fates:
                continue
            total = {k: sum(f[k] for f in fates) for k in fates[0]}
            n = max(1, total["children"])
            out.append(f"| {s} | {total['children']} | " + " | ".join(
                f"{100 * total[k] / n:.1f} %" for k in ("crashed", "invalid", "duplicate", "no_change", "improved"))
                + " |")
    return "\n".join(out)


def _ranges(seeds: list[int]) -> str:
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    return ",".join(map(str, seeds))


def _job(args: tuple[str, str, int, int, int, tuple[str, ...]]) -> dict[str, Any]:
    return run_one(*args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    ap.add_argument("--budgets", type=int, nargs="+", default=[300, 1000, 3000])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=100, help="seeds first-seed … first-seed+seeds-1 "
                    "(the defaults were tuned on 0-4 and 10-12)")
    ap.add_argument("--evolution", default="evolution", help="the registered search strategy (search=NAME) "
                    "run in evolution's column against the baselines")
    ap.add_argument("--evolution-override", action="append", default=[], metavar="OVERRIDE",
                    help="a Hydra override for evolution's runs only (repeatable): the baselines' runs stay "
                    "those of the log")
    ap.add_argument("--workers", type=int, default=2, help="evaluation workers of each run (with 1, a run is "
                    "exactly reproducible, unless the problem's score is timed, as EPLB's speed credit is, or a "
                    "child runs close to its time limit: whether it times out then depends on the machine's load)")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (each in its own process)")
    ap.add_argument("--log", type=Path, help="append each finished run to this JSON-lines file (runs it "
                    "already holds are not run again)")
    ap.add_argument("--table", type=Path, help="print the table of the runs in this log, run nothing")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. offline.max_nodes=null")
    args = ap.parse_args(argv)
    if args.table is not None:
        runs = [json.loads(line) for line in args.table.read_text().splitlines() if line.strip()]
        print(table(runs))
        return 0
    top = max(args.budgets)
    mine = ((f"search={args.evolution}",) if args.evolution != "evolution" else ()) + tuple(args.evolution_override)
    plan = [(prob, s, seed, top, args.workers, tuple(args.overrides) + (mine if s == "evolution" else ()))
            for seed in range(args.first_seed, args.first_seed + args.seeds)
            for prob in args.problems for s in args.strategies]
    runs: list[dict[str, Any]] = []
    if args.log is not None and args.log.exists():  # resume a bench that was cut short: skip logged runs
        logged = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
        keys = {(r["problem"], r["strategy"], r["seed"], r["budget"], tuple(r["overrides"])) for r in logged}
        runs = [r for r in logged if (r["problem"], r["strategy"], r["seed"], r["budget"], tuple(r["overrides"]))
                in {(*job[:4], job[5]) for job in plan}]
        plan = [job for job in plan if (*job[:4], job[5]) not in keys]

    def done(run: dict[str, Any]) -> None:
        runs.append(run)
        print(f"  {run['problem']:8s} {run['strategy']:10s} seed {run['seed']}: best " + " ".join(
            f"@{b} {best_at(run['curve'], b, run['seed_score']):8.3f}" for b in sorted(args.budgets))
              + f" ({run['seconds']:.0f} s)", file=sys.stderr, flush=True)
        if args.log is not None:  # one write() per line: benches sharing a log never interleave their lines
            fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (json.dumps(run) + "\n").encode())
            finally:
                os.close(fd)

    if args.jobs <= 1:
        for job in plan:
            done(_job(job))
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for fut in as_completed([pool.submit(_job, job) for job in plan]):
                done(fut.result())
    print(f"\noffline mutator, {args.workers} evaluation workers per run"
          + (f", overrides: {' '.join(args.overrides)}" if args.overrides else "")
          + (f", evolution's own: {' '.join(mine)}" if mine else ""))
    print(table(runs, sorted(args.budgets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
