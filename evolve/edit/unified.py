"""Unified diffs (`--- a/…`, `+++ b/…`, `@@ … @@`) read as SEARCH/REPLACE pairs.

Models trained on git history answer in this form although asked for SEARCH/REPLACE. Each hunk's
context and removed lines are what it searches for, its context and added lines what replaces them;
the hunk's line numbers are ignored (models rarely get them right), so a hunk applies where its text is.
"""

from __future__ import annotations

import re

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@.*$|^@@\s*$|^@@ .*@@.*$")
_FILE = re.compile(r"^(?:---|\+\+\+) (?:a/|b/|/dev/null|\S+\.py)")


def looks_like_unified_diff(text: str) -> bool:
    """Whether the text holds a hunk header, with file headers or with +/- lines after it."""
    lines = text.splitlines()
    has_hunk = any(_HUNK.match(ln) for ln in lines)
    if not has_hunk:
        return False
    return any(_FILE.match(ln) for ln in lines) or any(ln[:1] in "+-" and ln[:3] not in ("---", "+++")
                                                       for ln in lines)


def parse_unified(text: str) -> list[tuple[str, str]]:
    """The (search, replace) texts of each hunk, in order; an empty list when no hunk has content."""
    pairs: list[tuple[str, str]] = []
    search: list[str] | None = None
    replace: list[str] = []

    def close() -> None:
        if search is not None and (search or replace):
            pairs.append(("".join(ln + "\n" for ln in search), "".join(ln + "\n" for ln in replace)))

    for line in text.splitlines():
        if _HUNK.match(line):
            close()
            search, replace = [], []
            continue
        if search is None:
            continue
        if line.startswith("```") or _FILE.match(line) or line.startswith("diff --git"):
            close()
            search = None
            continue
        if line.startswith("\\"):  # "\ No newline at end of file"
            continue
        tag, body = line[:1], line[1:]
        if tag == "-":
            search.append(body)
        elif tag == "+":
            replace.append(body)
        elif tag == " " or line == "":
            search.append(body)
            replace.append(body)
        else:  # prose after the hunk
            close()
            search = None
    close()
    return pairs
