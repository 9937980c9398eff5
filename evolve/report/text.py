"""Text helpers shared by the terminal views and the report: numbers, durations, diffs, metric columns."""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: metric keys that are bookkeeping, not results
_HIDDEN_METRICS = ("instances",)
#: what a terminal would act on instead of showing: C0 controls but tab and newline, DEL, C1 controls (0x9b is
#: a one-byte CSI on some terminals), and the bidirectional overrides that reorder what is shown
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str | None) -> str:
    """Stored text made safe to print: control characters shown as escapes (\\x1b, \\r, \\u202e), so text a
    candidate or a model wrote cannot clear the screen, set the clipboard or overwrite a line; newlines and
    tabs are kept, and Windows line ends read as newlines."""
    if not text:
        return ""
    return _CONTROL.sub(_escape, text.replace("\r\n", "\n"))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {0x0D: "\\r"}.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def num(value: Any, digits: int = 4) -> str:
    """A metric value for people: thousands separators for large numbers, `digits` significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if isinstance(value, int) or (v.is_integer() and abs(v) < 1e15):
        return f"{int(v):,}"
    av = abs(v)
    if av >= 1e6 or av < 1e-3:
        return f"{v:.{digits - 1}e}"
    if av >= 1000:
        return f"{v:,.0f}"
    decimals = max(0, digits - 1 - math.floor(math.log10(av)))
    text = f"{v:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def signed(value: float | None, digits: int = 3) -> str:
    """A difference with its sign (+1.25, −0.5), or an em dash."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return "±0"
    return ("+" if value > 0 else "−") + num(abs(value), digits)


def money(usd: float) -> str:
    return f"${usd:,.4f}" if 0 < usd < 1 else f"${usd:,.2f}"


def duration(td: dt.timedelta | float) -> str:
    """1 h 02 min, 3 min 05 s, 12.3 s."""
    s = td.total_seconds() if isinstance(td, dt.timedelta) else float(td)
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def local_time(ts: dt.datetime | None) -> str:
    """A stored UTC timestamp in the viewer's local time zone."""
    if ts is None:
        return "—"
    aware = ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts
    return aware.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def code_diff(old: str, new: str, old_label: str, new_label: str, context: int = 3) -> str:
    """A unified diff of two programs ('' when the code is the same)."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_label, tofile=new_label, n=context)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def diff_stats(diff: str) -> tuple[int, int]:
    """(lines added, lines removed) of a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def metric_columns(rows: Sequence[Mapping[str, Any]], preferred: Sequence[str] = (), limit: int = 3,
                   context: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """Which metrics (besides `score`) are worth a column: numeric, not internal, and not the same value in
    every row of `rows` + `context` (e.g. the seed's metrics): a constant column says nothing. `preferred`
    keys come first."""
    keys: list[str] = []
    for k in [*preferred, *(k for r in rows for k in r)]:
        if k not in keys and k != "score" and not k.startswith("_") and k not in _HIDDEN_METRICS:
            keys.append(k)
    sample = [*rows, *context]
    out = []
    for k in keys:
        if not any(_is_num(r.get(k)) for r in rows):
            continue
        values = {r.get(k) for r in sample if _is_num(r.get(k))}
        if len(sample) == 1 or len(values) > 1:
            out.append(k)
        if len(out) >= limit:
            break
    return out


def edit_summary(edit: str | None, kind: str | None = None, width: int = 100) -> str:
    """One line that says what an edit did: an offline operator's own description, the first replacement
    line of SEARCH/REPLACE blocks, or that the program was rewritten."""
    text = edit or ""
    if "<<<<<<< SEARCH" in text:
        blocks = text.count("<<<<<<< SEARCH")
        after = text.split("=======", 1)[1] if "=======" in text else ""
        line = next((ln.strip() for ln in after.splitlines() if ln.strip() and not ln.startswith(">>>>>>>")),
                    "(deletion)")
        return first_line(f"{blocks} SEARCH/REPLACE block{'s' if blocks > 1 else ''}: {line}", width)
    if kind and "full" in kind and text.count("\n") > 2:
        return f"full rewrite ({text.count(chr(10)) + 1} lines)"
    return first_line(text, width) or (kind or "")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def first_line(text: str | None, width: int = 100) -> str:
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[:width - 1] + "…"


def last_line(text: str | None, width: int = 140) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= width else line[:width - 1] + "…"
