"""Parent selection and insertion as the archive grows: time per select+insert at 1k, 10k, 100k programs.

    python bench/archive.py [--sizes 1000 10000 100000] [--ops 300] [--no-direct]

For each size, a SQLite archive (WAL, in a temp dir) is filled with that many evaluated programs, the
population is rebuilt from it (as on resume), then `--ops` iterations of the loop's per-candidate
archive work are timed: select a parent and inspirations, load their code, check the code hash (in an
in-memory index, as the loop does since it stopped asking the database), insert the child, store its
outcome and admit it. Prints milliseconds per iteration (median and p95 wall
time, and the median CPU time of this process, which a busy shared machine does not inflate), the
ratio to the smallest size, and the process's peak RSS growth (the loop's memory must stay flat).
`--no-direct` runs the hot-path statements through SQLAlchemy's execution layer instead of the SQLite
driver (Archive._Direct): the two runs back to back say what the fast path is worth.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from evolve.archive import Archive
from evolve.archive.models import ProgramRow
from evolve.archive.store import sqlite_url
from evolve.evaluation import StageResult
from evolve.search.population import Population, SearchSettings

CODE = "# EVOLVE-BLOCK-START\ndef priority(p, d, t):\n    return d + {k} * p\n# EVOLVE-BLOCK-END\n" + "#" * 600


def fill(archive: Archive, n: int, rng: random.Random) -> None:
    rows = []
    for i in range(n):
        score = -rng.random() * 50
        rows.append({"run_id": "bench", "job_id": f"j{i}", "role": "seed" if i == 0 else "candidate",
                     "code": CODE.format(k=i), "code_hash": f"h{i}", "status": "ok", "score": score,
                     "metrics": {"score": score, "_quick_score": score}, "features":
                     {"code_length": float(rng.randint(50, 500)), "ast_nodes": float(rng.randint(5, 80))},
                     "island": i % 2, "generation": i // 10, "eval_index": i or None, "inspiration_ids": []})
        if len(rows) == 5000:
            with archive.session() as s:
                s.execute(insert(ProgramRow), rows)
            rows = []
    if rows:
        with archive.session() as s:
            s.execute(insert(ProgramRow), rows)


def rebuild(archive: Archive) -> Population:
    pop = Population(SearchSettings())
    for p in archive.programs("bench", statuses=("ok",), with_code=False):
        pop.add(p.id, p.score or 0.0, {k: float(v) for k, v in p.features.items()}, p.island, p.generation,
                p.parent_id, seed=p.role == "seed")
    return pop


def step(archive: Archive, pop: Population, rng: random.Random, k: int, views: dict[int, str],
         hashes: dict[str, int]) -> None:
    island = rng.randrange(len(pop.islands))
    parent = pop.select_parent(rng, island)
    assert parent is not None
    insp = pop.inspirations(rng, island, parent.id)
    for pid in [parent.id, *(m.id for m in insp)]:  # the loop keeps evaluated programs' code cached
        if pid not in views:
            views[pid] = archive.program(pid).code
    code = CODE.format(k=f"{k}.5")
    if f"new{k}" in hashes:
        return
    pid = hashes[f"new{k}"] = archive.add_program("bench", f"new{k}", code=code, code_hash=f"new{k}", parent_id=parent.id,
                              island=island, generation=parent.generation + 1, status="pending")
    score = -rng.random() * 50
    feats = {"code_length": float(rng.randint(50, 500)), "ast_nodes": float(rng.randint(5, 80))}
    archive.complete_program(pid, status="ok", score=score, metrics={"score": score},
                             stages=[StageResult("train", "ok", {"score": score}, seconds=0.01)], error=None,
                             features=feats, cell=pop.cell_label(feats), eval_index=k, run_evaluations=k)
    pop.add(pid, score, feats, island, parent.generation + 1, parent.id)
    views[pid] = code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--ops", type=int, default=300)
    ap.add_argument("--no-direct", action="store_true", help="no SQLite fast path: SQLAlchemy executes every statement")
    args = ap.parse_args(argv)
    rng = random.Random(0)
    print(f"{'programs':>10} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} {'vs first':>9} {'rebuild s':>10} "
          f"{'RSS +MB':>8}")
    first = None
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="evolve-bench-archive-") as tmp:
            archive = Archive(sqlite_url(Path(tmp) / "archive.db"))
            if args.no_direct:
                archive._direct = {}
            archive.create_run("bench", "smtt", {}, 0, tmp)
            fill(archive, n, rng)
            t0 = time.perf_counter()
            pop = rebuild(archive)
            rebuild_s = time.perf_counter() - t0
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            times: list[float] = []
            cpu: list[float] = []
            views: dict[int, str] = {}
            hashes = {p.code_hash: p.id for p in archive.programs("bench", with_code=False) if p.code_hash}
            for k in range(args.ops):
                t, c = time.perf_counter(), time.process_time()
                step(archive, pop, rng, n + k, views, hashes)
                times.append((time.perf_counter() - t) * 1e3)
                cpu.append((time.process_time() - c) * 1e3)
            rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
            med = statistics.median(times)
            p95 = sorted(times)[int(0.95 * len(times))]
            first = first or med
            print(f"{n:>10} {med:>10.2f} {p95:>8.2f} {statistics.median(cpu):>7.2f} {med / first:>9.2f} "
                  f"{rebuild_s:>10.2f} {rss:>8.1f}")
            archive.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
