"""Rendering the chat messages of a proposal from the Jinja2 templates in prompts/ (or `prompts.dir`).

Templates: system.j2 (the problem and the rules), diff.j2, full.j2, crossover.j2 (one per mode) and
fix.j2 (a parent that failed, or a reply that could not be used: then `reason` is set). Variables:
`description`, `entry`, `metric_notes`, `parent`, `inspirations`, `failures` (ProgramViews), `history`
(the parent's latest children: ChildViews), `evolving` / `fixed` (the names defined inside and outside
the EVOLVE-BLOCKs), `example` (a SEARCH/REPLACE block built from the parent's own code), `mode`
("diff" or "full": the answer format asked for), `reason`. Filters: `num`, `signed`, `trim_error(n)`,
`evolve_blocks`.

A prompt stays within `max_tokens` (estimated at four characters a token): the oldest history entries
go first, then inspirations (the last first), then the recent failures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from evolve.edit.blocks import BlockError, find_blocks, outside_blocks
from evolve.errors import ConfigError
from evolve.mutators.base import ProposalRequest

MODES = ("diff", "full", "crossover", "fix")
Message = dict[str, str]


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def _signed(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "n/a"
    return f"{value:+.4g}"


#: characters per token for the prompt budget (English and code with common tokenizers: 3.5-4.5)
CHARS_PER_TOKEN = 4
_DEF = re.compile(r"^[ \t]*(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)
_TOP_DEF = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)


def program_parts(code: str) -> tuple[list[str], list[str]]:
    """The functions and classes defined inside the EVOLVE-BLOCKs (what evolves) and at top level outside
    them (what is fixed)."""
    try:
        blocks = find_blocks(code)
    except BlockError:
        return [], []
    inside = [n for b in blocks for n in _DEF.findall(b.text)]
    outside = [n for n in _TOP_DEF.findall(outside_blocks(code)) if n not in inside]
    return list(dict.fromkeys(inside)), list(dict.fromkeys(outside))


def search_replace_example(code: str) -> str | None:
    """A SEARCH/REPLACE block on the parent's own code: the last lines of its first EVOLVE-BLOCK, with a
    line added before the last one, so the model sees the exact form and indentation asked for."""
    try:
        block = find_blocks(code)[0]
    except (BlockError, IndexError):
        return None
    lines = [ln.rstrip() for ln in block.text.splitlines() if ln.strip()]
    if not lines:
        return None
    tail = lines[-2:]
    indent = tail[-1][: len(tail[-1]) - len(tail[-1].lstrip())]
    new = [*tail[:-1], f"{indent}# … your new lines, indented like the code around them …", tail[-1]]
    return "<<<<<<< SEARCH\n" + "\n".join(tail) + "\n=======\n" + "\n".join(new) + "\n>>>>>>> REPLACE"


def trim_error(text: Any, limit: int = 800) -> str:
    """An error text cut to `limit` characters, keeping its start and its end (where tracebacks say why)."""
    s = str(text or "").strip()
    if len(s) <= limit:
        return s
    head = limit * 2 // 5
    return f"{s[:head]} […] {s[-(limit - head):]}"


def _evolve_blocks(code: str) -> str:
    try:
        return "\n".join(b.text.rstrip("\n") for b in find_blocks(code))
    except BlockError:
        return code


def shipped_dir() -> Path:
    """The folder of the templates shipped in the `prompts` package."""
    import prompts

    return Path(next(iter(prompts.__path__)))  # also right for an editable install that sees a namespace


class PromptBuilder:
    """Renders messages for one mode; templates in `user_dir` override the shipped ones file by file."""

    def __init__(self, user_dir: str | Path | None = None, max_tokens: int | None = None) -> None:
        self.max_tokens = max_tokens
        shipped = shipped_dir()
        loaders: list[jinja2.BaseLoader] = []
        if user_dir:
            path = Path(user_dir).expanduser()
            if not path.is_dir():
                raise ConfigError(f"prompts.dir={user_dir}: no such folder; copy {shipped} there and edit "
                                  "the copies, or unset prompts.dir")
            loaders.append(jinja2.FileSystemLoader(str(path)))
        loaders.append(jinja2.FileSystemLoader(str(shipped)))
        self.env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
                                      autoescape=False,
                                      auto_reload=False)  # read once per run, not stat()ed per proposal
        self.env.filters.update(num=_num, signed=_signed, trim_error=trim_error, evolve_blocks=_evolve_blocks)
        #: rendered templates that read only run-wide context (the system prompt), by the values they read
        self._rendered: dict[tuple[str, str], str] = {}
        self._reads: dict[str, frozenset[str] | None] = {}

    def check(self) -> None:
        """Load every template now, so a missing or broken one is a ConfigError before any work."""
        for name in ("system", *MODES):
            try:
                self.env.get_template(f"{name}.j2")
            except jinja2.TemplateNotFound as exc:
                raise ConfigError(f"prompt template {exc.name} not found (prompts.dir or the shipped prompts/)") \
                    from exc
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(f"prompt template {exc.filename or name + '.j2'}, line {exc.lineno}: "
                                  f"{exc.message}") from exc

    def render(self, name: str, **context: Any) -> str:
        try:
            text = self.env.get_template(f"{name}.j2").render(**context)
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(f"prompt template {exc.name} not found (prompts.dir or the shipped prompts/)") from exc
        except jinja2.TemplateError as exc:
            raise ConfigError(f"prompt template {name}.j2: {exc.__class__.__name__}: {exc}") from exc
        return _tidy(text)

    def render_cached(self, name: str, **context: Any) -> str:
        """`render`, remembered when the template reads only context that stays the same for a whole run
        (description, entry, metric notes, mode): the system prompt is rendered once, not per proposal."""
        reads = self._template_reads(name)
        if reads is None:
            return self.render(name, **context)
        key = (name, repr([context.get(k) for k in sorted(reads)]))
        text = self._rendered.get(key)
        if text is None:
            text = self._rendered[key] = self.render(name, **context)
        return text

    def _template_reads(self, name: str) -> frozenset[str] | None:
        """The context names `name`.j2 reads, when they are all run-wide (None: it depends on more)."""
        if name not in self._reads:
            from jinja2 import meta

            try:
                source = self.env.loader.get_source(self.env, f"{name}.j2")[0]  # type: ignore[union-attr]
                ast = self.env.parse(source)
            except jinja2.TemplateError:
                self._reads[name] = None
                return None
            static = not any(True for _ in meta.find_referenced_templates(ast))
            reads = frozenset(meta.find_undeclared_variables(ast))
            self._reads[name] = reads if static and reads <= RUN_WIDE else None
        return self._reads[name]

    def context(self, request: ProposalRequest, mode: str, reason: str | None = None) -> dict[str, Any]:
        evolving, fixed = program_parts(request.parent.code)
        return {"description": request.description, "entry": request.entry,
                "metric_notes": dict(request.metric_notes), "parent": request.parent,
                "inspirations": list(request.inspirations), "failures": list(request.failures),
                "history": list(request.history), "evolving": evolving, "fixed": fixed,
                "example": search_replace_example(request.parent.code),
                "mode": "diff" if mode == "diff" else "full", "reason": reason}

    def messages(self, request: ProposalRequest, mode: str, answer_format: str | None = None) -> list[Message]:
        """System + user messages for `mode` (diff | full | crossover | fix), within the token budget."""
        if mode not in MODES:
            raise ValueError(f"unknown prompt mode {mode!r}")
        ctx = self.context(request, answer_format or mode)
        system = self.render_cached("system", **ctx)
        text = self.render(mode, **ctx)
        if self.max_tokens is not None:
            budget = self.max_tokens * CHARS_PER_TOKEN - len(system)
            while len(text) > budget and _shed(ctx):
                text = self.render(mode, **ctx)
        return [{"role": "system", "content": system}, {"role": "user", "content": text}]

    def retry(self, request: ProposalRequest, messages: Sequence[Message], reply: str, reason: str,
              answer_format: str) -> list[Message]:
        """The conversation extended by the unusable reply and a fix request carrying the reason."""
        ctx = self.context(request, answer_format, reason)
        return [*messages, {"role": "assistant", "content": reply},
                {"role": "user", "content": self.render("fix", **ctx)}]


def _shed(ctx: dict[str, Any]) -> bool:
    """Drop the least useful piece of an over-long prompt's context; False when nothing is left to drop."""
    for key, index in (("history", 0), ("inspirations", -1), ("failures", 0)):
        if ctx[key]:
            ctx[key] = list(ctx[key])
            ctx[key].pop(index)
            return True
    return False


#: context that is the same for every proposal of a run
RUN_WIDE = frozenset({"description", "entry", "metric_notes", "mode"})


def _tidy(text: str) -> str:
    """Collapse runs of blank lines the template logic leaves behind (never inside a code fence)."""
    out: list[str] = []
    in_code = False
    for line in text.strip().splitlines():
        if not in_code and line.lstrip().startswith("```"):
            in_code = True
        elif in_code and line.strip() == "```":
            in_code = False
        if not in_code and not line.strip() and out and not out[-1].strip():
            continue
        out.append(line if in_code else line.rstrip())
    return "\n".join(out) + "\n"


def render_transcript(messages: Sequence[Mapping[str, str]]) -> str:
    """Messages as one readable text, as stored in the archive's llm_calls.prompt."""
    return "\n\n".join(f"[{m['role']}]\n{m['content'].rstrip()}" for m in messages) + "\n"
