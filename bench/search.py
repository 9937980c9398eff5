"""Search strategies at equal evaluation budgets: random vs sequential vs the default evolution.

    python bench/search.py [--budgets 300 1000 3000] [--seeds 5] [--workers 2]

On SMTT with the offline mutator, each (strategy, seed) runs once at the largest budget; the best train
score after each budget is read from the archive (a run is prefix-consistent, so the best after 300
evaluations of a 3000-evaluation run is the best of a 300-evaluation run). Prints the median over seeds
per budget and strategy, and whether evolution beats both baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_module

from evaluators.dispatch import make_executor
from evolve.archive import Archive
from evolve.archive.store import sqlite_url
from evolve.config import register
from evolve.llm.factory import make_mutator
from evolve.loop import Evolution
from evolve.plugins import load_problem
from evolve.runner import isolation_from, limits_from
from evolve.worker import ProblemSpec, share_problem

STRATEGIES = ("random", "sequential", "evolution")


def run_one(strategy: str, seed: int, budget: int, workers: int, folder: Path,
            overrides: Sequence[str] = ()) -> list[tuple[int, float]]:
    """(eval_index, best score so far) for one run; `overrides` are Hydra overrides for every run."""
    with initialize_config_module("evolve.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"search={strategy}", f"search.iterations={budget}",
                                           "search.max_seconds=0", f"evaluator.workers={workers}",
                                           f"seed={seed}", *overrides])
    archive = Archive(sqlite_url(folder / f"{strategy}-{seed}.db"))
    archive.create_run("bench", "smtt", {}, seed, str(folder))
    problem = load_problem("smtt")
    spec = ProblemSpec("smtt")
    share_problem(spec, problem)  # the local evaluator's worker threads score with this process's problem
    evo = Evolution(cfg=cfg, problem=problem, spec=spec, archive=archive, run_id="bench",
                    mutator=make_mutator(cfg), executor_factory=lambda: make_executor("local", workers),
                    workers=workers, limits=limits_from(cfg), isolation=isolation_from(cfg), seed=seed)
    try:
        evo.seed_population(problem.initial_program)
        asyncio.run(evo.run())
    finally:
        evo.close()
    seed_score = archive.programs("bench", roles=("seed",))[0].score or float("-inf")
    rows = sorted((p.eval_index, p.score) for p in archive.programs("bench", roles=("candidate",))
                  if p.eval_index is not None)
    best, out = seed_score, []
    for idx, score in rows:
        if score is not None:
            best = max(best, score)
        out.append((idx, best))
    return out


def best_at(curve: list[tuple[int, float]], budget: int) -> float:
    return max((b for i, b in curve if i <= budget), default=float("-inf"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=int, nargs="+", default=[300, 1000, 3000])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed … first-seed+seeds-1 (to split a "
                    "long bench over processes)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. llm.max_nodes=null")
    args = ap.parse_args(argv)
    register()
    top = max(args.budgets)
    results: dict[str, list[list[tuple[int, float]]]] = {s: [] for s in STRATEGIES}
    with tempfile.TemporaryDirectory(prefix="evolve-bench-search-") as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for strategy in STRATEGIES:
                t0 = time.monotonic()
                curve = run_one(strategy, seed, top, args.workers, Path(tmp), args.overrides)
                results[strategy].append(curve)
                print(f"  {strategy:10s} seed {seed}: best " + " ".join(
                    f"@{b} {best_at(curve, b):8.3f}" for b in sorted(args.budgets)) +
                      f" ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"\nmedian best train score (= -gap %) over {args.seeds} seeds, SMTT, offline mutator\n")
    header = f"{'budget':>8} " + " ".join(f"{s:>12}" for s in STRATEGIES) + "   evolution beats both"
    print(header)
    print("-" * len(header))
    for budget in sorted(args.budgets):
        med = {s: statistics.median(best_at(c, budget) for c in results[s]) for s in STRATEGIES}
        wins = med["evolution"] > max(med["random"], med["sequential"])
        print(f"{budget:>8} " + " ".join(f"{med[s]:>12.3f}" for s in STRATEGIES) + f"   {'yes' if wins else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
