"""What of a model's reply is its answer: line ends made plain, reasoning removed, the NAME/IDEA line read.

Reasoning models put their thinking in the content (`<think>…</think>`, `<thinking>`, `<reasoning>`),
and some servers strip the opening tag and leave only the closing one. Drafts in that text are not the
answer: a SEARCH/REPLACE block or a program written while thinking must never become the child.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAGS = ("think", "thinking", "reasoning")
_ALT = "|".join(_TAGS)
_BLOCK = re.compile(rf"<({_ALT})>.*?</\1>", re.DOTALL | re.IGNORECASE)
_CLOSE = re.compile(rf"</(?:{_ALT})>", re.IGNORECASE)
_OPEN = re.compile(rf"<(?:{_ALT})>", re.IGNORECASE)
_NAME = re.compile(r"^[ \t>*_#-]*NAME\s*[:=]\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_IDEA = re.compile(r"^[ \t>*_#-]*IDEA\s*[:=]\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """The usable part of a reply, and whether reasoning was removed from it."""

    text: str
    had_reasoning: bool = False
    #: reasoning opened and never closed: the reply ended while the model was still thinking
    unfinished_reasoning: bool = False


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR line ends as LF (Windows-trained models and some gateways send CRLF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def strip_reasoning(reply: str) -> Answer:
    """The reply without its reasoning blocks; a dangling closing tag drops everything before it."""
    text = normalise_newlines(reply)
    stripped = _BLOCK.sub("", text)
    had = stripped != text
    closes = list(_CLOSE.finditer(stripped))
    if closes:  # `…thinking…</think> answer`: the server ate the opening tag
        stripped = stripped[closes[-1].end():]
        had = True
    opened = _OPEN.search(stripped)
    if opened:  # `<think> … (cut off)`: nothing after the tag is an answer
        return Answer(stripped[:opened.start()], True, True)
    return Answer(stripped, had)


def idea_line(reply: str) -> str | None:
    """The child's one-line idea from the reply's `NAME: …` / `IDEA: …` lines (reasoning excluded)."""
    text = strip_reasoning(reply).text
    name, idea = _NAME.search(text), _IDEA.search(text)
    parts = [m.group(1).strip().strip("*_`").strip() for m in (name, idea) if m]
    line = " — ".join(p for p in parts if p)
    return line[:200] or None
