"""Turns ReportData into one self-contained HTML file (plotly.js, styles and data embedded) and Markdown."""

from __future__ import annotations

import html
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from evolve import __version__ as evolve_version
from evolve.problem import RESULT_SPLITS
from evolve.report import text as fmt
from evolve.report.charts import STATUS_COLORS, figures
from evolve.report.data import ProgramCard, ReportData

TEMPLATES = Path(__file__).with_name("templates")
CODE_STYLE = "friendly"


@lru_cache(maxsize=2)
def _env(autoescape: bool) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html.j2"]) if autoescape else False,
                      # the Markdown report is read in terminals too: every value it prints is escaped
                      finalize=None if autoescape else _printable_value,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(num=fmt.num, signed=fmt.signed, money=fmt.money, duration=fmt.duration,
                       local_time=fmt.local_time, first_line=fmt.first_line, last_line=fmt.last_line,
                       md_cell=_md_cell, pct=_pct, edit_summary=fmt.edit_summary, add_hash=lambda v: f"#{v}", breakable=_breakable)
    return env


def _breakable(name: str) -> Markup:
    """A metric name that may wrap after its underscores (a narrow table wraps its headers, not its data)."""
    return Markup("_<wbr>").join(html.escape(part) for part in str(name).split("_"))


def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (embedded: the report needs no network)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # cannot happen with plotly's bundle; guard the embedding anyway
        raise RuntimeError("the plotly.js bundle cannot be embedded in a <script> element")
    return js


def highlight(code: str) -> Markup:
    """Python code as HTML with pygments token classes, one <span class="line"> per line."""
    from pygments import highlight as pyg
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    body = pyg(code, PythonLexer(), HtmlFormatter(nowrap=True)) if code else ""
    lines = body.rstrip("\n").split("\n") if body else []
    return Markup("".join(f'<span class="line">{ln or " "}</span>' for ln in lines))  # pygments escapes the code


def diff_html(diff: str) -> Markup:
    """A unified diff as HTML lines classed d-add / d-del / d-hunk / d-meta / d-ctx."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            cls = "d-meta"
        elif line.startswith("@@"):
            cls = "d-hunk"
        elif line.startswith("+"):
            cls = "d-add"
        elif line.startswith("-"):
            cls = "d-del"
        elif line.startswith("\\"):
            cls = "d-meta"
        else:
            cls = "d-ctx"
        out.append(f'<span class="line {cls}">{html.escape(line) or " "}</span>')
    return Markup("".join(out))


def code_css() -> str:
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(style=CODE_STYLE).get_style_defs(".hl"))


def _json_for_script(data: Any) -> Markup:
    """JSON that is safe inside a <script> element (no '<', '>' or '&' survive literally)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=_json_default)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def _clean(obj: Any) -> Any:
    """Replace non-finite floats (not valid JSON) by None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _program_payload(p: ProgramCard) -> dict[str, Any]:
    added, removed = fmt.diff_stats(p.diff)
    return {"id": p.id, "role": p.role, "name": p.name, "status": p.status, "score": fmt.num(p.score),
            "holdout": fmt.num(p.holdout_score) if p.holdout_score is not None else None,
            "delta": fmt.signed(p.delta), "deltaSign": 0 if p.delta is None else (1 if p.delta > 0 else -1 if p.delta < 0 else 0),
            "parent": p.parent_id, "island": p.island, "cell": p.cell, "gen": p.generation, "eval": p.eval_index,
            "edit": fmt.edit_summary(p.edit, p.edit_kind, 160), "editKind": p.edit_kind,
            "model": p.model, "error": fmt.last_line(p.error, 200) if p.error else None,
            "code": str(highlight(p.code)), "diff": str(diff_html(p.diff)), "added": added, "removed": removed}


def _printable_value(value: Any) -> Any:
    return fmt.printable(value) if isinstance(value, str) else value


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _join(*parts: Any) -> str:
    return " · ".join(str(p) for p in parts if p)


def _context(d: ReportData) -> dict[str, Any]:
    run = d.run
    cfg = run.config or {}
    llm = cfg.get("llm") or {}
    search = cfg.get("search") or {}
    evaluator = cfg.get("evaluator") or {}
    best_train = d.best.score if d.best else None
    seed_train = d.seed.score if d.seed and d.seed.status == "ok" else None
    secs = d.duration.total_seconds()
    named = [llm.get("model")] + [m if isinstance(m, str) else (m or {}).get("model") for m in llm.get("models") or []]
    models = ", ".join(str(m) for m in named if m)
    workers = run.meta.get("workers") or evaluator.get("workers")
    workers_label = f"{workers} worker(s)" if workers else "all cores"
    budget = " / ".join(x for x in (
        f"{search['iterations']:,} evaluations" if search.get("iterations") else "",
        fmt.duration(float(search["max_seconds"])) if search.get("max_seconds") else "") if x)
    problem_path = (cfg.get("problem") or {}).get("path")
    setup = [(k, v) for k, v in (
        ("problem", run.problem + (f" ({problem_path})" if problem_path else "")),
        ("mutator", _join(llm.get("name"), models)),
        ("search", _join(search.get("name"), f"{search['islands']} island(s)" if search.get("islands") else "",
                         f"selection {search['selection']}" if search.get("selection") else "",
                         f"budget {budget}" if budget else "")),
        ("evaluator", _join(evaluator.get("name"), workers_label,
                            f"{evaluator['memory_mb']} MB" if evaluator.get("memory_mb") else "",
                            f"{evaluator['split_wall_s']} s per split" if evaluator.get("split_wall_s") else "")),
        ("seed", str(run.seed)),
    ) if v]
    import yaml

    config_yaml = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False) if cfg else ""
    rows = []
    for r in d.comparison:
        cells = []
        for split in RESULT_SPLITS:
            m = r.splits.get(split) or {}
            failed = "status" in m and m.get("status") != "ok" and "score" not in m
            cells.append({"split": split, "failed": m.get("status") if failed else None,
                          "score": m.get("score"), "metrics": [m.get(c) for c in d.metric_cols]})
        rows.append({"row": r, "cells": cells})
    failing = {k: v for k, v in d.totals.statuses.items() if k != "ok"}
    return {
        "d": d, "run": run, "setup": setup, "workers_label": workers_label, "config_yaml": config_yaml, "rows": rows,
        "best_train": best_train, "seed_train": seed_train,
        "best_gain": (best_train - seed_train) if best_train is not None and seed_train is not None else None,
        "best_holdout": d.best.holdout_score if d.best else None,
        "seed_holdout": d.seed.holdout_score if d.seed else None,
        "rate": (run.evaluations / secs) if secs > 0 else None, "failing": failing,
        "valid_share": (d.totals.valid / d.totals.evaluated) if d.totals.evaluated else None,
        "status_colors": STATUS_COLORS, "version": evolve_version, "splits": RESULT_SPLITS,
        "alike_total": sum(len(v) for v in d.alike.values()),
        "behind": _behind(d), "top_cols": _top_columns(d),
    }


def _top_columns(d: ReportData) -> list[str]:
    """The metric columns of the ranked table, less those that only restate the score (SMTT's gap_pct is
    −score): the table needs its width for the edit."""
    def restates(c: str) -> bool:
        pairs = [(p.metrics.get(c), p.score) for p in d.top]
        return bool(pairs) and all(isinstance(v, (int, float)) and s is not None and v in (s, -s) for v, s in pairs)
    return [c for c in d.metric_cols if not restates(c)]


def _behind(d: ReportData) -> tuple[str, str] | None:
    """(headline, details) when some baselines score better than the best program, else None."""
    if not d.ahead or d.best is None:
        return None
    best = next(r for r in d.comparison if r.kind == "best")
    total = sum(1 for r in d.comparison if r.kind == "baseline")
    head = f"The best program is behind {max(len(v) for v in d.ahead.values())} of the {total} baselines."
    parts = []
    for split, better in d.ahead.items():
        names = ", ".join(f"{name} ({fmt.num(score)})" for name, score in better)
        parts.append(f"On {'train' if split == 'train' else 'hold-out'}, #{d.best.id} scores "
                     f"{fmt.num(best.splits[split].get('score'))} and {len(better)} baseline(s) score higher: {names}.")
    parts.append("Evolution has not caught up with them yet: a longer run, a stronger model or a better seed may.")
    return head, " ".join(parts)


def render_html(d: ReportData) -> str:
    figs = {k: (_clean(v) if v is not None else None) for k, v in figures(d).items()}
    programs = {str(pid): _program_payload(p) for pid, p in d.programs.items()}
    payload = {"figures": figs, "programs": programs, "initial": d.best.id if d.best else None,
               "bestPath": list(d.best_path)}
    ctx = _context(d)
    ctx.update(payload=_json_for_script(payload), plotly_js=Markup(plotly_js()),
               code_css=Markup(code_css()), highlight=highlight, diff_html=diff_html,
               empty_charts={k for k, v in figs.items() if v is None})
    return _env(True).get_template("report.html.j2").render(**ctx)


def render_markdown(d: ReportData) -> str:
    return _env(False).get_template("report.md.j2").render(**_context(d))
