"""Turning an LLM reply into a child program: SEARCH/REPLACE blocks, a unified diff or a full rewrite.

The reply's reasoning (`<think>…</think>` and the like) is removed first and CRLF line ends are read as
LF. A reply holding `<<<<<<< SEARCH / ======= / >>>>>>> REPLACE` blocks is a diff: each SEARCH text must
match whole lines inside the EVOLVE-BLOCKs, exactly, or ignoring trailing whitespace, or ignoring
indentation (the first of these that matches anything decides), and in one place only: a SEARCH that
matches several is refused with their line numbers. A unified diff is applied hunk by hunk the same
way. Any other reply must carry the program (or the contents of its single EVOLVE-BLOCK) in a fenced
code block, the last one being the answer: a full rewrite. A rewrite that shortened the fixed code
(`# ... rest unchanged`) gives its EVOLVE-BLOCKs and keeps the fixed code. Whatever the form, the child
keeps every line outside the blocks byte-identical and must compile; otherwise `EditError` says why, in
words that can be handed back to the model.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evolve.edit.blocks import END, START, BlockError, find_blocks, outside_blocks, replace_blocks
from evolve.edit.reply import strip_reasoning
from evolve.edit.unified import looks_like_unified_diff, parse_unified

_SEARCH = re.compile(r"^\s*<{5,}\s*SEARCH\b.*$")
_DIVIDER = re.compile(r"^\s*={5,}\s*$")
_REPLACE = re.compile(r"^\s*>{5,}\s*REPLACE\b.*$")
_FENCE_LINE = re.compile(r"^\s*(?:`{3,}|~{3,})[\w+.-]*\s*$")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE)
_OPEN_FENCE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[ \t]*([\w+.-]*)[ \t]*$", re.MULTILINE)
_MARKER = re.compile(r"^\s*#\s*EVOLVE-BLOCK-(START|END)\b")
_TOP_DEF = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)


class EditError(ValueError):
    """A reply that cannot be turned into a valid child; the message says why (and is shown to the model)."""


@dataclass(frozen=True)
class SearchReplace:
    """One SEARCH/REPLACE block of a reply."""

    search: str
    replace: str


@dataclass(frozen=True)
class Edit:
    """The child a reply produced, how (`diff` or `full`), and the edit in readable form."""

    code: str
    kind: str
    text: str


def has_search_replace(reply: str) -> bool:
    """Whether the reply contains a SEARCH or REPLACE marker line (then it is read as a diff)."""
    return any(_SEARCH.match(line) or _REPLACE.match(line) for line in reply.splitlines())


def parse_search_replace(reply: str) -> list[SearchReplace]:
    """The SEARCH/REPLACE blocks of a reply, in order; raises EditError for malformed or missing blocks."""
    edits: list[SearchReplace] = []
    state, search, replace = "outside", [], []  # type: tuple[str, list[str], list[str]]
    for line in reply.splitlines():
        if state == "outside":
            if _SEARCH.match(line):
                state, search, replace = "search", [], []
            elif _DIVIDER.match(line) or _REPLACE.match(line):
                raise EditError(f"SEARCH/REPLACE block {len(edits) + 1}: a '=======' or '>>>>>>> REPLACE' line "
                                "comes before its '<<<<<<< SEARCH' line")
        elif state == "search":
            if _DIVIDER.match(line):
                state = "replace"
            elif _SEARCH.match(line) or _REPLACE.match(line):
                raise EditError(f"SEARCH/REPLACE block {len(edits) + 1} has no '=======' line between its "
                                "SEARCH and REPLACE parts")
            else:
                search.append(line)
        else:
            if _REPLACE.match(line):
                edits.append(SearchReplace(_unfence(search), _unfence(replace)))
                state = "outside"
            elif _SEARCH.match(line) or _DIVIDER.match(line):
                raise EditError(f"SEARCH/REPLACE block {len(edits) + 1} is not closed by a '>>>>>>> REPLACE' line")
            else:
                replace.append(line)
    if state != "outside":
        raise EditError(f"SEARCH/REPLACE block {len(edits) + 1} is not closed by a '>>>>>>> REPLACE' line "
                        "(was the reply cut off?)")
    if not edits:
        raise EditError("the reply contains no SEARCH/REPLACE block")
    return edits


def _unfence(lines: list[str]) -> str:
    """Drop code-fence lines a model put at the start or end of a SEARCH or REPLACE part."""
    while lines and _FENCE_LINE.match(lines[0]):
        lines = lines[1:]
    while lines and _FENCE_LINE.match(lines[-1]):
        lines = lines[:-1]
    return "\n".join(lines) + ("\n" if lines else "")


def apply_search_replace(code: str, edits: Sequence[SearchReplace]) -> str:
    """Apply the edits in order, each inside one EVOLVE-BLOCK; raises EditError naming the failing block."""
    for n, edit in enumerate(edits, 1):
        search, replace = _strip_shared_markers(edit.search, edit.replace)
        needle = _trim_blank(search.splitlines())
        if not needle:
            raise EditError(f"SEARCH/REPLACE block {n}: the SEARCH part is empty; copy the exact lines to "
                            "replace from the current program")
        try:
            blocks = find_blocks(code)
        except BlockError as exc:
            raise EditError(str(exc)) from exc
        lines = code.splitlines(keepends=True)
        for key, reindent in _LEVELS:
            keyed = [key(ln) for ln in lines]
            want = [key(ln) for ln in needle]
            hits = [at for b in blocks for at in _find_all(keyed, want, b.start, b.end)]
            if len(hits) > 1:
                where = ", ".join(str(at + 1) for at in hits)
                raise EditError(f"SEARCH/REPLACE block {n}: the SEARCH text matches {len(hits)} places (lines "
                                f"{where} of the current program); include more of the surrounding lines so "
                                "that it matches one place only")
            if hits:
                at, end = hits[0], hits[0] + len(needle)
                repl = _trim_blank(replace.splitlines())
                if reindent:
                    repl = _reindent(repl, _indent(needle), _indent(lines[at:end]))
                code = "".join(lines[:at]) + "".join(ln + "\n" for ln in repl) + "".join(lines[end:])
                break
        else:
            if any(_find_all([key(ln) for ln in lines], [key(ln) for ln in needle], 0, len(lines))
                   for key, _ in _LEVELS):
                raise EditError(f"SEARCH/REPLACE block {n} touches code outside the EVOLVE-BLOCKs; only the "
                                f"lines between '# {START}' and '# {END}' may change")
            first = next((ln.strip() for ln in needle if ln.strip()), "")
            raise EditError(f"SEARCH/REPLACE block {n}: the SEARCH text was not found in the program "
                            f"(it starts with {first[:80]!r}); copy whole lines exactly as they are now")
    return code


def _rstrip_line(line: str) -> str:
    return line.rstrip()


#: how a SEARCH line may differ from the program's line: not at all (but for the line end), in trailing
#: whitespace, in indentation (then the replacement is re-indented to the program's)
_LEVELS: tuple[tuple[Callable[[str], str], bool], ...] = (
    (lambda ln: ln.rstrip("\n"), False), (_rstrip_line, False), (str.strip, True))


def _find_all(hay: list[str], needle: list[str], start: int, end: int) -> list[int]:
    """Every line index in [start, end) where `needle` matches whole lines of `hay` inside that range."""
    n = len(needle)
    return [i for i in range(start, end - n + 1) if hay[i: i + n] == needle]


def _strip_shared_markers(search: str, replace: str) -> tuple[str, str]:
    """Tolerate a SEARCH and REPLACE that both repeat the same EVOLVE-BLOCK marker line at an end."""
    s, r = search.splitlines(keepends=True), replace.splitlines(keepends=True)
    while s and r and _MARKER.match(s[0]) and s[0].strip() == r[0].strip():
        s, r = s[1:], r[1:]
    while s and r and _MARKER.match(s[-1]) and s[-1].strip() == r[-1].strip():
        s, r = s[:-1], r[:-1]
    return "".join(s), "".join(r)


def _trim_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _indent(lines: Sequence[str]) -> str:
    for line in lines:
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return ""


def _reindent(lines: list[str], have: str, want: str) -> list[str]:
    """Shift `lines` from indentation `have` to `want` (the SEARCH text was indented differently), unless
    the replacement already starts at the program's indentation (only the SEARCH part lost its indent)."""
    if have == want or _indent(lines) == want:
        return lines
    if want.startswith(have):
        extra = want[len(have):]
        return [extra + ln if ln.strip() else ln for ln in lines]
    if have.startswith(want):
        cut = have[len(want):]
        return [ln[len(cut):] if ln.startswith(cut) else ln.lstrip() if ln.strip() else ln for ln in lines]
    return lines


def parse_rewrite(reply: str, parent: str | None = None) -> str:
    """The code of a full rewrite: the last fenced program holding EVOLVE-BLOCK markers, else the last fence
    defining a function of the parent's blocks, else the last Python fence (drafts and options come first)."""
    found = list(_FENCE.finditer(reply))
    tail = reply[found[-1].end():] if found else reply
    if _OPEN_FENCE.search(tail):
        raise EditError("the last code block is never closed by ``` (was the reply cut off by llm.max_tokens?)")
    if not found:
        if any(_MARKER.match(line) for line in reply.splitlines()):
            return reply
        raise EditError("the reply has neither SEARCH/REPLACE blocks nor a fenced ```python code block")
    blocks = [(m.group(2).lower(), m.group(3)) for m in found]
    python = [b for lang, b in blocks if lang in ("", "python", "py", "python3")] or [b for _, b in blocks]
    marked = [b for b in python if any(_MARKER.match(line) for line in b.splitlines())]
    if marked:
        return marked[-1]
    names = _block_names(parent) if parent else set()
    defining = [b for b in python if names & set(_TOP_DEF.findall(textwrap.dedent(b)))]
    return (defining or python)[-1]


def _block_names(code: str) -> set[str]:
    try:
        return {n for b in find_blocks(code) for n in _TOP_DEF.findall(textwrap.dedent(b.text))}
    except BlockError:
        return set()


def apply_rewrite(code: str, new: str) -> str:
    """`code` with its EVOLVE-BLOCKs taken from `new` (a whole program, or the single block's contents)."""
    try:
        blocks = find_blocks(code)
    except BlockError as exc:
        raise EditError(str(exc)) from exc
    if any(_MARKER.match(line) for line in new.splitlines()):
        try:
            new_blocks = find_blocks(new)
        except BlockError as exc:
            raise EditError(f"the rewritten program's EVOLVE-BLOCK markers are broken: {exc}") from exc
        if len(new_blocks) != len(blocks):
            raise EditError(f"the rewrite has {len(new_blocks)} EVOLVE-BLOCK(s) but the program has {len(blocks)}; "
                            "keep every block and its markers")
        where = _first_difference(outside_blocks(code), outside_blocks(new))
        if where is not None and not _only_elided(outside_blocks(code), outside_blocks(new)):
            raise EditError(f"the rewrite changes code outside the EVOLVE-BLOCKs ({where}); only the code "
                            f"between '# {START}' and '# {END}' may change")
        return replace_blocks(code, [b.text for b in new_blocks])
    if len(blocks) != 1:
        raise EditError(f"the program has {len(blocks)} EVOLVE-BLOCKs: rewrite the whole program, keeping "
                        "every '# EVOLVE-BLOCK-START' / '# EVOLVE-BLOCK-END' line")
    outside_defs = set(_TOP_DEF.findall(outside_blocks(code)))
    redefined = sorted(outside_defs & set(_TOP_DEF.findall(new)))
    if redefined:
        raise EditError(f"the rewrite redefines {', '.join(redefined)}, which lies outside the EVOLVE-BLOCK; "
                        f"give the whole program with its '# {START}' / '# {END}' lines, or only the block")
    want = _indent(blocks[0].text.splitlines())
    lines = new.splitlines()
    if want and not _indent(lines):
        lines = [want + ln if ln.strip() else ln for ln in lines]
    return replace_blocks(code, ["\n".join(lines) + "\n"])


def _only_elided(fixed: str, new: str) -> bool:
    """Whether `new` is `fixed` with lines left out (and placeholder comments or `...` in their place)."""
    want = [ln.strip() for ln in fixed.splitlines() if ln.strip()]
    have = [ln.strip() for ln in new.splitlines() if ln.strip()]
    have = [ln for ln in have if (not ln.startswith("#") and ln not in ("...", "pass")) or ln in want]
    it = iter(want)
    return all(any(ln == w for w in it) for ln in have)


def _first_difference(a: str, b: str) -> str | None:
    """Where two texts differ, ignoring trailing whitespace and blank lines (None if they do not)."""
    la = [ln.rstrip() for ln in a.splitlines() if ln.strip()]
    lb = [ln.rstrip() for ln in b.splitlines() if ln.strip()]
    for x, y in zip(la, lb):
        if x != y:
            return f"expected {x.strip()[:60]!r}, found {y.strip()[:60]!r}"
    if len(la) != len(lb):
        extra = (lb[len(la)] if len(lb) > len(la) else la[len(lb)]).strip()[:60]
        return f"{'added' if len(lb) > len(la) else 'removed'} {extra!r}"
    return None


def check_child(parent: str, child: str) -> None:
    """Raise EditError unless `child` keeps everything outside the blocks and compiles."""
    try:
        same_outside = outside_blocks(child) == outside_blocks(parent)
    except BlockError as exc:
        raise EditError(f"the edit breaks the EVOLVE-BLOCK markers: {exc}") from exc
    if not same_outside:
        raise EditError("the edit changes code outside the EVOLVE-BLOCKs")
    try:
        compile(child, "candidate.py", "exec")
    except SyntaxError as exc:
        raise EditError(f"the result is not valid Python: {exc.msg} (line {exc.lineno}: "
                        f"{(exc.text or '').strip()[:80]!r})") from exc
    except ValueError as exc:
        raise EditError(f"the result is not valid Python: {exc}") from exc


def apply_reply(parent: str, reply: str) -> Edit:
    """The child program a reply describes: SEARCH/REPLACE blocks if it has any, else a unified diff, else
    a fenced rewrite; the reply's reasoning never counts."""
    answer = strip_reasoning(reply)
    text = answer.text
    if not text.strip():
        if answer.unfinished_reasoning:
            raise EditError("the reply ends inside its reasoning (an unclosed <think> block) with no answer "
                            "after it; was it cut off by llm.max_tokens?")
        raise EditError("the reply holds only reasoning and no answer after it" if answer.had_reasoning
                        else "the reply is empty")
    if has_search_replace(text):
        edits = parse_search_replace(text)
        child = apply_search_replace(parent, edits)
        kind = "diff"
    elif looks_like_unified_diff(text) and not _marked_fence(text):
        edits = [SearchReplace(s, r) for s, r in parse_unified(text)]
        if not edits:
            raise EditError("the reply is a unified diff without any hunk; use SEARCH/REPLACE blocks as asked")
        try:
            child = apply_search_replace(parent, edits)
        except EditError as exc:
            raise EditError(f"the reply is a unified diff, and {exc}; use SEARCH/REPLACE blocks as asked") from None
        kind = "diff"
    else:
        child = apply_rewrite(parent, parse_rewrite(text, parent))
        check_child(parent, child)
        return Edit(child, "full", "\n".join(b.text for b in find_blocks(child)))
    check_child(parent, child)
    summary = "\n".join(f"<<<<<<< SEARCH\n{e.search}=======\n{e.replace}>>>>>>> REPLACE" for e in edits)
    return Edit(child, kind, summary)


def _marked_fence(text: str) -> bool:
    return any(_MARKER.match(line) for m in _FENCE.finditer(text) for line in m.group(3).splitlines())
