"""The report's charts as plain Plotly figure dicts (plotly.js draws them; tests validate them with plotly).

Each builder returns None when it has nothing to draw, and the page shows why instead of an empty plot.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from evaluators.status import Status
from evolve.archive import queries as q
from evolve.report.data import ReportData
from evolve.report.text import edit_summary, num

INK = "#1f2937"
GRID = "#e5e7eb"
ACCENT = "#4f46e5"
HOLDOUT = "#e11d48"
ISLAND_COLORS = ("#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626")
BASELINE_COLORS = ("#9ca3af", "#a16207", "#0f766e", "#9d174d", "#6d28d9")
STATUS_COLORS: dict[str, str] = {Status.CRASH: "#dc2626", Status.INVALID: "#f97316", Status.TIMEOUT: "#eab308",
                                 Status.MEMORY: "#a855f7", Status.FORBIDDEN: "#7f1d1d", Status.PARSE_ERROR: "#0ea5e9",
                                 Status.LLM_ERROR: "#64748b", Status.DUPLICATE: "#cbd5e1"}
FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _layout(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "font": {"family": FONT, "size": 12, "color": INK},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "margin": {"l": 64, "r": 24, "t": 36, "b": 48},
        "hovermode": "closest",
        "hoverlabel": {"font": {"family": FONT}},
        "legend": {"orientation": "h", "y": -0.18, "x": 0, "font": {"size": 11}},
        "xaxis": {"gridcolor": GRID, "zeroline": False, "linecolor": "#d1d5db", "ticks": "outside",
                  "tickcolor": "#d1d5db"},
        "yaxis": {"gridcolor": GRID, "zeroline": False, "linecolor": "#d1d5db", "ticks": "outside",
                  "tickcolor": "#d1d5db"},
    }
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return base


def _finite(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def score_figure(d: ReportData) -> dict[str, Any] | None:
    """Every evaluation as a faint point, best-so-far per island and overall, baselines and the limit."""
    ok = [p for p in d.points if p.status == "ok" and _finite(p.score)]
    seed_score = d.seed.score if d.seed is not None and d.seed.status == "ok" else None
    if not ok and seed_score is None:
        return None
    last = max((p.eval_index for p in d.points), default=0)
    x_end = max(last, 1)
    traces: list[dict[str, Any]] = []
    islands = sorted({p.island for p in ok}) or [0]
    for isl in islands:
        pts = [p for p in ok if p.island == isl]
        color = ISLAND_COLORS[isl % len(ISLAND_COLORS)]
        traces.append({"type": "scatter", "mode": "markers", "name": f"evaluations, island {isl}",
                       "legendgroup": f"isl{isl}", "x": [p.eval_index for p in pts], "y": [p.score for p in pts],
                       "customdata": [p.program_id for p in pts],
                       "marker": {"size": 5, "color": color, "opacity": 0.28},
                       "hovertemplate": "#%{customdata} · eval %{x}<br>score %{y:.4g}<extra></extra>"})
    start = q.BestStep(0, float(seed_score), d.seed.id) if seed_score is not None and d.seed else None
    if len(islands) > 1:
        for isl in islands:
            steps = q.best_so_far(d.points, start, island=isl)
            if steps:
                traces.append(_steps_trace(steps, x_end, f"best so far, island {isl}",
                                           ISLAND_COLORS[isl % len(ISLAND_COLORS)], 1.6, f"isl{isl}"))
    overall = q.best_so_far(d.points, start)
    if overall:
        traces.append(_steps_trace(overall, x_end, "best so far", INK, 3.0, None))
    ys = [float(p.score) for p in ok if p.score is not None] + ([seed_score] if seed_score is not None else [])
    ref_lines: list[float] = [seed_score] if seed_score is not None else []
    for i, row in enumerate(r for r in d.comparison if r.kind == "baseline"):
        score = row.splits.get("train", {}).get("score")
        if _finite(score):
            ref_lines.append(float(score))
            traces.append({"type": "scatter", "mode": "lines", "name": f"{row.label} (train)",
                           "x": [0, x_end], "y": [score, score], "hoverinfo": "name+y",
                           "line": {"color": BASELINE_COLORS[i % len(BASELINE_COLORS)], "width": 1.5,
                                    "dash": "dash"}})
    limit = d.reference.get("train")
    if _finite(limit):
        ref_lines.append(float(limit))
        traces.append({"type": "scatter", "mode": "lines", "name": "reference limit (train)", "x": [0, x_end],
                       "y": [limit, limit], "hoverinfo": "name+y",
                       "line": {"color": "#16a34a", "width": 1.5, "dash": "dot"}})
    if d.holdout_steps:
        hx = [e for e, _, _ in d.holdout_steps] + [x_end]
        hy = [h for _, _, h in d.holdout_steps] + [d.holdout_steps[-1][2]]
        ys += hy
        traces.append({"type": "scatter", "mode": "lines+markers", "name": "best so far, on hold-out",
                       "x": hx, "y": hy, "customdata": [pid for _, pid, _ in d.holdout_steps] + [None],
                       "line": {"shape": "hv", "color": HOLDOUT, "width": 2, "dash": "dashdot"},
                       "marker": {"size": [7] * len(d.holdout_steps) + [0], "color": HOLDOUT},
                       "hovertemplate": "best so far, on hold-out: #%{customdata} · %{y:.4g}<extra></extra>"})
    if seed_score is not None:
        traces.append({"type": "scatter", "mode": "markers", "name": "seed", "x": [0], "y": [seed_score],
                       "marker": {"symbol": "diamond", "size": 11, "color": "#ffffff",
                                  "line": {"color": INK, "width": 2}},
                       "hovertemplate": "seed · score %{y:.4g}<extra></extra>"})
    return {"data": traces, "layout": _layout(
        xaxis={"title": {"text": "evaluation"}, "range": [-0.02 * x_end, x_end * 1.02],
               **({"dtick": 1} if x_end <= 10 else {})},
        yaxis={"title": {"text": "score (train, higher is better)"}, "range": _y_range(ys, ref_lines)},
        legend={"orientation": "h", "y": -0.2}, height=460)}


def _steps_trace(steps: list[q.BestStep], x_end: int, name: str, color: str, width: float,
                 group: str | None) -> dict[str, Any]:
    xs = [s.eval_index for s in steps] + [x_end]
    ys = [s.score for s in steps] + [steps[-1].score]
    ids = [s.program_id for s in steps] + [steps[-1].program_id]
    trace: dict[str, Any] = {"type": "scatter", "mode": "lines", "name": name, "x": xs, "y": ys,
                             "customdata": ids, "line": {"shape": "hv", "color": color, "width": width},
                             "hovertemplate": name + ": #%{customdata} · %{y:.4g}<extra></extra>"}
    if group:
        trace["legendgroup"] = group
    return trace


def _y_range(values: list[float], anchors: list[float]) -> list[float] | None:
    """A y range that shows the interesting part: the best scores, every anchor line (seed, baselines,
    limit) and a margin below the lowest anchor. Points far below that are left off the chart (plotly's
    autoscale, a double-click away, shows them) rather than flattening the part that matters."""
    vals = sorted(v for v in values if math.isfinite(v))
    if not vals:
        return None
    hi = max([vals[-1], *anchors])
    floor = min(anchors) if anchors else vals[int(0.05 * (len(vals) - 1))]
    span = (hi - floor) or max(1.0, abs(hi) * 0.1)
    lo = max(vals[0], floor - 0.35 * span)
    pad = (hi - lo) * 0.05 or 1.0
    return [lo - pad, hi + pad]


def robust_range(values: list[float]) -> tuple[float, float]:
    """The span of `values` without their outliers: Tukey's fences (1.5 interquartile ranges beyond the
    quartiles), clipped to the values' own range."""
    vals = sorted(v for v in values if _finite(v))
    if not vals:
        return 0.0, 1.0
    if len(vals) < 4:
        return vals[0], vals[-1]
    q1, q3 = _quantile(vals, 0.25), _quantile(vals, 0.75)
    fence = 1.5 * (q3 - q1)
    lo, hi = max(vals[0], q1 - fence), min(vals[-1], q3 + fence)
    return (lo, hi) if hi > lo else (vals[0], vals[-1])


def _quantile(vals: list[float], q: float) -> float:
    pos = q * (len(vals) - 1)
    k = int(pos)
    return vals[k] + (vals[min(k + 1, len(vals) - 1)] - vals[k]) * (pos - k)


def lineage_figure(d: ReportData) -> dict[str, Any] | None:
    """The lineage tree of the best programs: x = when evaluated, y = score; the best's line is emphasised."""
    nodes = d.lineage
    if not nodes:
        return None
    on_path = set(d.best_path)

    def x_of(pid: int) -> int:
        b = nodes[pid]
        return 0 if b.role == "seed" else int(b.eval_index or 0)

    # The y axis spans the best line's steps after the seed, without their outliers: the seed's first jump
    # (often most of the whole gain) would otherwise flatten every later step into one line. Nodes below
    # the axis are drawn on its floor as down-pointing triangles; their hover gives their score.
    finite = [b.score for b in nodes.values() if _finite(b.score)]
    path = [nodes[i] for i in d.best_path if i in nodes and nodes[i].role != "seed"]
    steps = [b.score for b in path if _finite(b.score)]
    lo = robust_range(steps)[0] if steps else min(finite, default=0.0)
    hi = max(finite, default=1.0)
    if finite and hi > lo and min(finite) < lo:
        pad = 0.08 * (hi - lo)
        floor = lo - pad  # nodes below the bulk (the seed's first big jump, a bad branch) are drawn here
        y_range: list[float] | None = [floor - pad, hi + pad]
    else:
        floor, y_range = -math.inf, None

    def true_y(pid: int) -> float | None:
        s = nodes[pid].score
        return s if _finite(s) else None

    def y_of(pid: int) -> float | None:
        s = true_y(pid)
        return None if s is None else max(s, floor)

    ex: list[Any] = []
    ey: list[Any] = []
    px: list[Any] = []
    py: list[Any] = []
    for pid, b in nodes.items():
        if b.parent_id is None or b.parent_id not in nodes:
            continue
        xs, ys = (px, py) if pid in on_path and b.parent_id in on_path else (ex, ey)
        xs += [x_of(b.parent_id), x_of(pid), None]
        ys += [y_of(b.parent_id), y_of(pid), None]
    ids = sorted(nodes, key=lambda i: (i not in on_path, x_of(i)))
    best_id = d.best_path[-1] if d.best_path else None
    hover = [_node_hover(nodes[i]) for i in ids]
    sizes = [17 if i == best_id else 12 if i in on_path else 8 for i in ids]
    symbols = ["star" if i == best_id else "diamond" if nodes[i].role == "seed" else "circle" for i in ids]
    below = {i for i in ids if (true_y(i) or 0.0) < floor}
    symbols = ["triangle-down" if i in below and sym != "star" else sym for sym, i in zip(symbols, ids)]
    lines = [{"color": INK if i in on_path else "#ffffff", "width": 1.5 if i in on_path else 1} for i in ids]
    scores = [y_of(i) for i in ids]
    hover = [h + ("<br>(below the axis: drawn at its floor)" if i in below else "") for h, i in zip(hover, ids)]
    traces = [
        {"type": "scatter", "mode": "lines", "name": "other lineages", "x": ex, "y": ey, "hoverinfo": "skip",
         "line": {"color": "#cbd5e1", "width": 1.2}, "showlegend": bool(ex)},
        {"type": "scatter", "mode": "lines", "name": "lineage of the best", "x": px, "y": py, "hoverinfo": "skip",
         "line": {"color": ACCENT, "width": 3}},
        {"type": "scatter", "mode": "markers", "name": "programs (click one)", "x": [x_of(i) for i in ids],
         "y": scores, "customdata": ids, "text": hover,
         "hovertemplate": "%{text}<extra></extra>",
         "marker": {"size": sizes, "symbol": symbols, "color": scores, "colorscale": "Viridis",
                    "showscale": True, "colorbar": {"title": {"text": "score"}, "thickness": 12, "len": 0.8},
                    "line": {"color": [m["color"] for m in lines], "width": [m["width"] for m in lines]}}},
        # the ring around the program shown in the inspector (moved by the page script)
        {"type": "scatter", "mode": "markers", "name": "selected", "x": [], "y": [], "hoverinfo": "skip",
         "showlegend": False, "marker": {"size": 24, "color": "rgba(0,0,0,0)", "line": {"color": "#f43f5e", "width": 3}}},
    ]
    return {"data": traces, "layout": _layout(
        xaxis={"title": {"text": "evaluation (seed at 0)"}},
        yaxis={"title": {"text": "score (train)"}, **({"range": y_range} if y_range else {})}, height=440,
        margin={"l": 64, "r": 16, "t": 36, "b": 48}, legend={"orientation": "h", "y": -0.2})}


def _node_hover(b: q.ProgramBrief) -> str:
    what = b.role if b.role != "candidate" else edit_summary(b.edit, b.edit_kind, 70)
    what = what.replace("<", "&lt;").replace(">", "&gt;")
    return f"#{b.id} · gen {b.generation} · score {num(b.score)}<br>{what}"


def grid_figure(d: ReportData) -> dict[str, Any] | None:
    """The MAP-Elites grid (first two feature dimensions): best score per cell, programs per cell in the hover."""
    if not d.cells:
        return None
    dims = list(d.feature_dims) + ["(none)"] * 2
    merged: dict[tuple[int, int], q.CellStat] = {}
    for c in d.cells:
        key = (c.coords[0], c.coords[1] if len(c.coords) > 1 else 0)
        prev = merged.get(key)
        if prev is None:
            merged[key] = q.CellStat(key, c.count, c.best_score, c.best_id)
        else:
            best = c if c.best_score > prev.best_score else prev
            merged[key] = q.CellStat(key, prev.count + c.count, best.best_score, best.best_id)
    nx = max(d.feature_bins, 1 + max(k[0] for k in merged))
    ny = max(d.feature_bins if len(d.feature_dims) > 1 else 1, 1 + max(k[1] for k in merged))
    z: list[list[float | None]] = [[None] * nx for _ in range(ny)]
    ids: list[list[int | None]] = [[None] * nx for _ in range(ny)]
    counts: list[list[int]] = [[0] * nx for _ in range(ny)]
    for (i, j), c in merged.items():
        z[j][i], ids[j][i], counts[j][i] = c.best_score, c.best_id, c.count
    text = [[str(n) if n else "" for n in row] for row in counts]
    scores = [c.best_score for c in merged.values()]
    # the colour scale spans the bulk of the cells: a few far better or far worse cells take its end colours
    # (their scores are in the hover) instead of pressing every other cell into one colour
    zmin, zmax = robust_range(scores)
    trace = {"type": "heatmap", "z": z, "x": list(range(nx)), "y": list(range(ny)), "customdata": ids,
             "text": text, "texttemplate": "%{text}", "textfont": {"size": 10},
             "zmin": zmin, "zmax": zmax, "colorscale": "Viridis", "xgap": 2, "ygap": 2,
             "hoverongaps": False,
             "colorbar": {"title": {"text": "best score"}, "thickness": 12},
             "hovertemplate": (f"{dims[0]} bin %{{x}}, {dims[1]} bin %{{y}}<br>%{{text}} valid programs"
                               "<br>elite #%{customdata} · score %{z:.4g}<extra></extra>")}
    return {"data": [trace], "layout": _layout(
        xaxis={"title": {"text": f"{dims[0]} (bin)"}, "dtick": 1, "showgrid": False, "range": [-0.5, nx - 0.5],
               "constrain": "domain"},
        yaxis={"title": {"text": f"{dims[1]} (bin)"}, "dtick": 1, "showgrid": False, "range": [-0.5, ny - 0.5],
               "scaleanchor": "x", "constrain": "domain"},
        height=420, margin={"l": 64, "r": 16, "t": 36, "b": 56})}


def failure_figure(d: ReportData) -> dict[str, Any] | None:
    """Failed proposals per stretch of evaluations, stacked by status, with the failure share on the right."""
    ft = d.failures
    failing: list[str] = [s for s in STATUS_COLORS if any(ft.counts.get(s, ()))]
    failing += sorted(s for s in ft.counts if s not in STATUS_COLORS and s != Status.OK and any(ft.counts[s]))
    if not failing:
        return None
    labels = [f"{a}–{b - 1}" if b - 1 > a else str(a) for a, b in zip(ft.edges, ft.edges[1:])]
    mids = [(a + b - 1) / 2 for a, b in zip(ft.edges, ft.edges[1:])]
    width = (ft.edges[1] - ft.edges[0]) * 0.85 if len(ft.edges) > 1 else 1
    traces: list[dict[str, Any]] = []
    for s in failing:
        traces.append({"type": "bar", "name": s, "x": mids, "y": list(ft.counts[s]), "width": width,
                       "customdata": labels, "marker": {"color": STATUS_COLORS.get(s, "#94a3b8")},
                       "hovertemplate": f"{s}: %{{y}} in evaluations %{{customdata}}<extra></extra>"})
    share = [100.0 * sum(ft.counts[s][k] for s in failing) / t if t else None for k, t in enumerate(ft.totals)]
    top_share = min(105.0, max(10.0, 1.2 * max((v for v in share if v is not None), default=0.0)))
    highest = max(sum(ft.counts[s][k] for s in failing) for k in range(len(ft.totals)))
    small_x = {"dtick": 1} if ft.edges[-1] <= 12 else {}
    small_y = {"dtick": 1} if highest <= 8 else {}
    traces.append({"type": "scatter", "mode": "lines+markers", "name": "failure share", "x": mids, "y": share,
                   "yaxis": "y2", "customdata": labels, "line": {"color": INK, "width": 2},
                   "marker": {"size": 5},
                   "hovertemplate": "%{y:.0f}% failed in evaluations %{customdata}<extra></extra>"})
    return {"data": traces, "layout": _layout(
        barmode="stack", height=380,
        xaxis={"title": {"text": "evaluation"}, **small_x},
        yaxis={"title": {"text": "failed proposals"}, "rangemode": "tozero", **small_y},
        yaxis2={"title": {"text": "share failed"}, "overlaying": "y", "side": "right", "range": [0, top_share],
                "showgrid": False, "ticksuffix": "%", "tickmode": "auto", "nticks": 6, "rangemode": "tozero"},
        margin={"l": 64, "r": 64, "t": 36, "b": 48}, legend={"orientation": "h", "y": -0.22})}


def figures(d: ReportData) -> dict[str, dict[str, Any] | None]:
    """All charts by the id of the element that shows them."""
    return {"chart-score": score_figure(d), "chart-lineage": lineage_figure(d), "chart-grid": grid_figure(d),
            "chart-failures": failure_figure(d)}
