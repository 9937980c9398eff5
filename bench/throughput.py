"""Framework throughput: evolve (every candidate sandboxed) against OpenEvolve, same model server, same problem.

    python bench/throughput.py [--iterations 600,2000] [--workers 2] [--rounds 3] [--skip-openevolve]
                               [--offline] [--flat 10000] [--cascade]

One run of this script:
1. starts one scripted OpenAI-compatible server on 127.0.0.1 (in this process; its CPU is not charged to
   either framework) that answers every request at once with a full rewrite of a tiny scheduling program
   (a new constant each time, so no proposal is a duplicate);
2. installs OpenEvolve (PyPI `openevolve`, pinned) into a temporary virtual environment;
3. for each run length in --iterations (600 and 2000 by default: OpenEvolve's time per iteration grows
   with its archive and ours stays flat, while our fixed start-up weighs more in a short run, so the
   ratio depends on the length and one length alone would mislead), runs both frameworks for that
   number of iterations with the same number of workers on the same problem (bench/tiny_smtt: total
   tardiness of four 8-job instances; evaluation costs microseconds), each candidate evaluated once on
   those four instances by both (OpenEvolve's `cascade_evaluation: false`, evolve's
   `search.cascade=false`; with --cascade evolve keeps its default cascade, a one-instance quick stage
   before the four, which is work OpenEvolve does not do), --rounds times, interleaved and alternating
   which goes first: a shared machine's speed drifts by 20% within minutes, so each ratio compares the
   two runs of one round, and the median is reported;
4. prints wall time, CPU time (the whole process tree), iterations per second and peak memory of the
   process tree, sampled, for each, and the ratios. Memory is shown two ways: summed RSS, which counts
   a page shared by forked processes once per process, and summed PSS (proportional set size: a shared
   page split among its sharers), which counts every page once and is the fair measure for trees that
   fork (both frameworks do); evolve's time line, from its archive: how long until its first candidate
   (the fixed start-up, which weighs most in a short run), the time per candidate after that, and the
   tail to the end; with --offline, also evolve's figures with
   the offline mutator (no LLM); with --flat N, evolve's per-iteration time over an N-iteration run
   against the scripted server in deciles, which must stay flat as the archive grows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROBLEM = HERE / "tiny_smtt"
OPENEVOLVE = "openevolve==0.4.1"

PROGRAM = """# EVOLVE-BLOCK-START
def priority(p, d):
    return d + {c} * p
# EVOLVE-BLOCK-END


def schedule(p, d):
    return sorted(range(len(p)), key=lambda j: (priority(int(p[j]), int(d[j])), j))
"""


def start_server():  # type: ignore[no-untyped-def]
    from evolve.testing.llm_server import Reply, ScriptedLLMServer

    counter = {"n": 0}
    lock = threading.Lock()

    def respond(_request):  # type: ignore[no-untyped-def]
        with lock:
            counter["n"] += 1
            c = counter["n"]
        code = PROGRAM.format(c=f"{(c % 997) / 1000 - 0.5:.6f} + {c} * 1e-9")
        return Reply.text(f"A new priority rule.\n\n```python\n{code}```\n", prompt_tokens=800,
                          completion_tokens=120)

    return ScriptedLLMServer(responder=respond, models=["bench"]).start()


def _tree_memory_kb(root: int) -> tuple[int, int]:
    """Summed RSS and summed PSS of `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/status") as fh:
                kb = next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = kb
    total_rss = total_pss = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        total_rss += rss.get(pid, 0)
        total_pss += _pss_kb(pid)
        stack.extend(children.get(pid, []))
    return total_rss, total_pss


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("Pss:")), 0)
    except (OSError, ValueError, IndexError):
        return 0


def measure(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> dict[str, float]:
    """Run `cmd`; wall time, CPU of the whole tree, peak summed RSS and PSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started_at = time.time()  # the wall clock, to place the archive's timestamps
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = peak_pss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss
        while not done.is_set():
            rss, pss = _tree_memory_kb(proc.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… exited {proc.returncode}:\n{out[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak / 1024, "peak_pss_mb": peak_pss / 1024,  # type: ignore[dict-item]
            "output": out, "started_at": started_at}


def run_evolve(url: str, iterations: int, workers: int, tmp: Path, offline: bool = False,
               name: str | None = None, cascade: bool = False) -> dict[str, float]:
    run_dir = tmp / (name or ("evolve-offline" if offline else "evolve"))
    llm = (["llm=offline"] if offline else
           ["llm=openai_compatible", f"llm.api_base={url}", "llm.model=bench", "llm.full_prob=1",
            "llm.diff_prob=0", "llm.crossover_prob=0", f"llm.max_concurrency={max(4, 2 * workers)}"])
    cmd = [sys.executable, "-m", "evolve.cli", "run", f"problem.path={PROBLEM}", *llm,
           f"search.iterations={iterations}", "search.max_seconds=0", f"evaluator.workers={workers}",
           "search.holdout_top_k=1", f"search.cascade={str(cascade).lower()}", "quiet=true",
           f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    res = measure(cmd, tmp, env, timeout=3600)
    from evolve.archive import Archive

    archive = Archive.for_run_dir(run_dir)
    run = archive.get_run()
    res["iterations"] = run.evaluations
    res["sandboxed"] = 1.0
    res["statuses"] = archive.status_counts(run.id)  # type: ignore[assignment]
    res.update(timeline(archive, run.id, res["started_at"], res["wall_s"]))
    return res


def timeline(archive: Any, run_id: str, started_at: float, wall_s: float) -> dict[str, float]:
    """Where a run's wall time went, from the archive's timestamps of its candidates (stored when a
    proposal is accepted, before it is evaluated): the time until the first (the fixed start-up: imports,
    config, archive, sandboxes, the seed's evaluation, the first proposal), the time per candidate after
    that, and the time from the last one to the process's end (its evaluation, the holdout, the exit)."""
    stamps = sorted(p.created_at.replace(tzinfo=dt.UTC).timestamp() - started_at
                    for p in archive.programs(run_id, roles=("candidate",)))
    if len(stamps) < 2:
        return {}
    return {"first_s": stamps[0], "per_candidate_ms": 1000 * (stamps[-1] - stamps[0]) / (len(stamps) - 1),
            "tail_s": wall_s - stamps[-1]}


def compile_sources() -> None:
    """Compile our sources to bytecode (their __pycache__ folders, ignored by git), as `pip install` does
    for OpenEvolve's: with PYTHONDONTWRITEBYTECODE set, as on some machines, an editable checkout would
    otherwise compile every module again in every run (about 0.2 s of each start)."""
    dirs = [str(REPO / d) for d in ("evolve", "evaluators", "problems")] + [str(PROBLEM)]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *dirs], check=True)


def install_openevolve(tmp: Path) -> Path:
    venv = tmp / "openevolve-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", OPENEVOLVE],
                   check=True)
    return venv


def run_openevolve(venv: Path, url: str, iterations: int, workers: int, tmp: Path,
                   name: str = "openevolve") -> dict[str, float]:
    work = tmp / name
    work.mkdir()
    (work / "initial.py").write_text(PROGRAM.format(c="0.0"))
    (work / "evaluator.py").write_text((PROBLEM / "openevolve_evaluator.py").read_text())
    (work / "config.yaml").write_text(f"""max_iterations: {iterations}
checkpoint_interval: {max(iterations, 100)}
log_level: WARNING
random_seed: 0
diff_based_evolution: false
llm:
  api_base: {url}
  api_key: none
  models:
    - name: bench
      weight: 1.0
  temperature: 0.7
  max_tokens: 1024
  timeout: 60
  retries: 1
  retry_delay: 1
database:
  in_memory: true
  num_islands: 2
evaluator:
  timeout: 30
  cascade_evaluation: false
  parallel_evaluations: {workers}
  enable_artifacts: false
""")
    runner = venv / "bin" / "openevolve-run"
    cmd = [str(runner), "initial.py", "evaluator.py", "--config", "config.yaml", "--output", str(work / "out"),
           "--iterations", str(iterations)]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_API_KEY"] = "none"
    res = measure(cmd, work, env, timeout=3600)
    res["iterations"] = float(iterations)
    res["sandboxed"] = 0.0
    return res


OURS, OE_NAME = "evolve (llm server)", "openevolve 0.4.1"


def its(r: dict[str, float]) -> float:
    return r["iterations"] / r["wall_s"]


def cpu_per_iter(r: dict[str, float]) -> float:
    return r["cpu_s"] / max(1.0, r["iterations"])


def median_run(rs: list[dict[str, float]]) -> dict[str, float]:
    return sorted(rs, key=lambda r: r["wall_s"])[len(rs) // 2]


def report(name: str, r: dict[str, float]) -> str:
    return (f"{name:<22} {r['iterations']:>6.0f} {r['wall_s']:>9.1f} {r['cpu_s']:>8.1f} {its(r):>8.1f} "
            f"{1000 * cpu_per_iter(r):>12.2f} {r['peak_mb']:>8.0f} {r['peak_pss_mb']:>8.0f}   {'yes' if r['sandboxed'] else 'no'}")


def flat(url: str, iterations: int, workers: int, tmp: Path, cascade: bool = False) -> None:
    """Per-iteration wall time by decile of a long run against the scripted server (flat = no slowdown as
    the archive grows). The server's programs all have the same size, so only the archive grows; with the
    offline mutator the programs themselves grow over a long run (bloat), and every step with them."""
    run = run_evolve(url, iterations, workers, tmp, name="evolve-flat", cascade=cascade)
    from evolve.archive import Archive

    archive = Archive.for_run_dir(tmp / "evolve-flat")
    rows = sorted((p.eval_index, p.created_at, len(p.code)) for p in archive.programs(
        archive.get_run().id, roles=("candidate",)) if p.eval_index)
    step = max(1, len(rows) // 10)
    print(f"\nflatness: {run['iterations']:.0f} iterations (scripted server), ms per iteration by decile")
    prev = rows[0][1]
    for i in range(step, len(rows) + 1, step):
        t = rows[i - 1][1]
        size = sum(r[2] for r in rows[i - step:i]) / step
        print(f"  evaluations {i - step + 1:>6}-{i:<6} {1000 * (t - prev).total_seconds() / step:8.2f} ms"
              f"   (programs of {size:.0f} characters)")
        prev = t


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive iteration counts separated by commas, got {text!r}")
    return sizes


def compare(args: argparse.Namespace, url: str, venv: Path | None, tmp: Path, iterations: int) -> None:
    """Both frameworks at one run length, `args.rounds` interleaved rounds; prints the table and the ratios."""
    runs: dict[str, list[dict[str, float]]] = {}
    for i in range(max(1, args.rounds)):
        order = ["evolve", "openevolve"] if i % 2 else ["openevolve", "evolve"]  # no fixed first place
        for who in order:
            if who == "openevolve" and venv is not None:
                print(f"{iterations} iterations, round {i + 1}: running OpenEvolve…", file=sys.stderr, flush=True)
                runs.setdefault(OE_NAME, []).append(
                    run_openevolve(venv, url, iterations, args.workers, tmp, f"openevolve-{iterations}-{i}"))
            elif who == "evolve":
                print(f"{iterations} iterations, round {i + 1}: running evolve…", file=sys.stderr, flush=True)
                runs.setdefault(OURS, []).append(
                    run_evolve(url, iterations, args.workers, tmp, name=f"evolve-{iterations}-{i}",
                               cascade=args.cascade))
    if args.offline:
        runs["evolve (llm=offline)"] = [run_evolve(url, iterations, args.workers, tmp, offline=True,
                                                   name=f"evolve-offline-{iterations}", cascade=args.cascade)]
    print(f"\n{iterations} iterations, {args.workers} workers, one local scripted model server, "
          f"{max(1, args.rounds)} interleaved round(s); each row is the framework's median round by wall time; "
          + ("evolve evaluates each candidate in two stages (its quick-then-train cascade), OpenEvolve in one"
             if args.cascade else "each candidate is evaluated once, in one stage, by both") + "\n")
    print(f"{'framework':<22} {'iters':>6} {'wall s':>9} {'cpu s':>8} {'iter/s':>8} {'cpu ms/iter':>12} "
          f"{'RSS MB':>8} {'PSS MB':>8}   sandboxed")
    for name, rs in runs.items():
        print(report(name, median_run(rs)))
    ours, theirs = runs.get(OURS), runs.get(OE_NAME)
    if ours and theirs:
        speed = [its(a) / its(b) for a, b in zip(ours, theirs)]
        cpu = [cpu_per_iter(a) / cpu_per_iter(b) for a, b in zip(ours, theirs)]
        pss = max(r["peak_pss_mb"] for r in ours) / max(r["peak_pss_mb"] for r in theirs)
        rss = max(r["peak_mb"] for r in ours) / max(r["peak_mb"] for r in theirs)
        print(f"\nevolve / OpenEvolve at {iterations} iterations, per round: iterations per second "
              f"{', '.join(f'x{v:.2f}' for v in speed)}; CPU per iteration {', '.join(f'x{v:.2f}' for v in cpu)}")
        print(f"evolve / OpenEvolve at {iterations} iterations: iterations per second x{statistics.median(speed):.2f} "
              f"(median; target >= 2), CPU per iteration x{statistics.median(cpu):.2f}, peak memory x{pss:.2f} by "
              f"PSS (target <= 1), x{rss:.2f} by summed RSS (highest peaks)")
    if ours:
        mid = median_run(ours)
        if "per_candidate_ms" in mid:
            print(f"evolve's time line (its median round): first candidate {mid['first_s']:.2f} s after the start, "
                  f"then one every {mid['per_candidate_ms']:.2f} ms, the end {mid['tail_s']:.2f} s after the last")
        statuses: dict[str, int] = {}
        for r in ours:
            for k, v in r["statuses"].items():  # type: ignore[attr-defined]
                statuses[k] = statuses.get(k, 0) + v
        print(f"evolve candidate statuses, all rounds: {statuses}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=_sizes, default=[600, 2000],
                    help="run lengths to compare, comma-separated (default 600,2000): OpenEvolve's time per "
                         "iteration grows with its archive, ours does not, so the ratio depends on the length")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-openevolve", action="store_true")
    ap.add_argument("--offline", action="store_true", help="also run evolve with llm=offline")
    ap.add_argument("--flat", type=int, default=0, help="also run N iterations to check flatness")
    ap.add_argument("--cascade", action="store_true",
                    help="evolve evaluates each candidate on a quick stage first (its default), unlike OpenEvolve")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs of each framework, interleaved (the machine's speed drifts; the ratio is taken "
                         "within each round and its median reported)")
    args = ap.parse_args(argv)
    compile_sources()
    server = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="evolve-bench-throughput-") as tmp_name:
            tmp = Path(tmp_name)
            venv = None
            if not args.skip_openevolve:
                print(f"installing {OPENEVOLVE} into a temporary venv…", file=sys.stderr, flush=True)
                venv = install_openevolve(tmp)
            for n in args.iterations:
                compare(args, server.url, venv, tmp, n)
            if args.flat:
                flat(server.url, args.flat, args.workers, tmp, args.cascade)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
