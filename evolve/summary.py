"""The run summary: `summary.json` for scripts and reports, and the final table for people."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from evolve.archive import ProgramRecord, Storage
from evolve.problem import RESULT_SPLITS


def _splits(p: ProgramRecord) -> dict[str, dict[str, Any]]:
    """{split: metrics} for every split a program was scored on (train from metrics, holdout stored)."""
    out: dict[str, dict[str, Any]] = {}
    for st in p.stages:
        if st.status == "ok":
            out[st.split] = dict(st.metrics)
    if p.holdout is not None:
        out["holdout"] = dict(p.holdout)
    return out


def build_summary(archive: Storage, run_id: str, run_dir: str | None) -> dict[str, Any]:
    """The summary.json document (see the README): seed, best and baselines with metrics per split."""
    run = archive.get_run(run_id)
    seed = next(iter(archive.programs(run_id, roles=("seed",))), None)
    best = next(iter(archive.top(run_id, n=1)), None)
    seed_full = archive.program(seed.id) if seed else None
    best_full = archive.program(best.id) if best else None
    baselines = {}
    for b in archive.programs(run_id, roles=("baseline",)):
        full = archive.program(b.id)
        baselines[b.name or str(b.id)] = _splits(full) | ({"status": full.status, "error": full.error}
                                                         if full.status != "ok" else {})
    counts = archive.status_counts(run_id)
    calls = archive.llm_calls(run_id)
    return {
        "problem": run.problem,
        "run_id": run.id,
        "run_dir": run_dir,
        "evaluations": run.evaluations,
        "stop_reason": run.stop_reason,
        "statuses": counts,
        "cost_usd": round(sum(c.cost_usd for c in calls), 6),
        "llm_calls": len(calls),
        **_median_tokens(calls),
        "seed": _splits(seed_full) if seed_full else {},
        "best": ({"id": best_full.id, **_splits(best_full)} if best_full else {"id": None}),
        "baselines": baselines,
        "has_holdout": bool(run.meta.get("has_holdout", True)),
    }


def _median_tokens(calls: list[Any]) -> dict[str, int]:
    """Median prompt and completion tokens of the answered calls (what a prompt costs, at a glance)."""
    answered = [c for c in calls if c.response is not None and c.kind != "preflight"]
    if not answered:
        return {}
    return {"median_prompt_tokens": int(statistics.median(c.prompt_tokens for c in answered)),
            "median_completion_tokens": int(statistics.median(c.completion_tokens for c in answered))}


def write_summary(summary: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n")
    return path


def _fmt(v: Any) -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "—"
    if math.isnan(v):
        return "nan"
    av = abs(v)
    return f"{v:,.0f}" if av >= 1000 else f"{v:.3g}" if av < 0.01 and v != 0 else f"{v:,.2f}"


def final_table(summary: dict[str, Any], metrics: tuple[str, ...],
                splits: tuple[str, ...] = RESULT_SPLITS) -> Table:
    """Seed, best and baselines, each with `metrics` on each of `splits` (one split: plain metric headers)."""
    title = f"{summary['problem']}: {summary['evaluations']} evaluations, stopped by {summary.get('stop_reason')}"
    if len(splits) == 1:
        title += "\n" + {"train": "train", "holdout": "hold-out"}.get(splits[0], splits[0])
    table = Table(title=title)
    table.add_column("program", no_wrap=True)
    if not summary.get("has_holdout", True):
        splits = tuple(s for s in splits if s != "holdout") or ("train",)
    for split in splits:
        for m in metrics:
            table.add_column(m if len(splits) == 1 else f"{split} {m}", justify="right", no_wrap=True)
    rows: list[tuple[str, dict[str, Any]]] = [("seed", summary.get("seed", {}))]
    best = summary.get("best", {})
    rows.append((f"best (#{best.get('id')})", best))
    for name, data in summary.get("baselines", {}).items():
        rows.append((f"baseline {name}", data))
    for label, data in rows:
        cells = [label]
        for split in splits:
            for m in metrics:
                cells.append(_fmt((data.get(split) or {}).get(m)))
        table.add_row(*cells)
    return table


def print_final(summary: dict[str, Any], metrics: tuple[str, ...], console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal and console.width < 200:  # logs and pipes: never squeeze the table
        console = Console(width=200, file=console.file)
    table = final_table(summary, metrics)
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if natural <= console.width:
        console.print(table)
    else:  # a narrow terminal: one table per split, rather than every number cut short
        for split in RESULT_SPLITS if summary.get("has_holdout", True) else RESULT_SPLITS[:1]:
            console.print(final_table(summary, metrics, (split,)))
    if not summary.get("has_holdout", True):
        console.print("no hold-out: this problem names no hold-out evaluator, so every score above was seen by "
                      "the search", soft_wrap=True)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.get("statuses", {}).items()))
    if counts:
        console.print(f"candidates: {counts}")
    if summary.get("llm_calls"):
        medians = (f"; median tokens per call: prompt {summary['median_prompt_tokens']:,}, completion "
                   f"{summary['median_completion_tokens']:,}" if "median_prompt_tokens" in summary else "")
        console.print(f"LLM: {summary['llm_calls']} calls, ${summary['cost_usd']:.4f}{medians}")
    console.print(f"run directory: {summary.get('run_dir')}", soft_wrap=True)
