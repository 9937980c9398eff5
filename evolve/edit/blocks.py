"""EVOLVE-BLOCK regions of a program: find them, replace their contents, and hash programs for dedup.

Only the code between `# EVOLVE-BLOCK-START` and `# EVOLVE-BLOCK-END` lines may change; everything
outside (imports, the entry function's frame) stays byte-identical.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

START = "EVOLVE-BLOCK-START"
END = "EVOLVE-BLOCK-END"
_MARK = re.compile(r"^\s*#\s*(EVOLVE-BLOCK-START|EVOLVE-BLOCK-END)\b")


class BlockError(ValueError):
    """The program's EVOLVE-BLOCK markers are missing, unbalanced or nested."""


@dataclass(frozen=True)
class Block:
    """One evolvable region: lines [start, end) of the program (marker lines excluded)."""

    index: int
    start: int
    end: int
    text: str


def find_blocks(code: str) -> list[Block]:
    """The evolvable regions, in order; raises BlockError for missing or unbalanced markers."""
    return list(_blocks(code))


@functools.lru_cache(maxsize=256)
def _blocks(code: str) -> tuple[Block, ...]:
    """find_blocks, remembered: a proposal looks at the same parent and child a dozen times."""
    lines = code.splitlines(keepends=True)
    blocks: list[Block] = []
    open_at: int | None = None
    for i, line in enumerate(lines):
        m = _MARK.match(line)
        if not m:
            continue
        if m.group(1) == START:
            if open_at is not None:
                raise BlockError(f"line {i + 1}: {START} inside another block (blocks cannot nest)")
            open_at = i + 1
        else:
            if open_at is None:
                raise BlockError(f"line {i + 1}: {END} without a matching {START}")
            blocks.append(Block(len(blocks), open_at, i, "".join(lines[open_at:i])))
            open_at = None
    if open_at is not None:
        raise BlockError(f"line {open_at}: {START} is never closed by {END}")
    if not blocks:
        raise BlockError(f"no '# {START}' / '# {END}' markers: mark the code evolution may change")
    return tuple(blocks)


def replace_blocks(code: str, new_texts: Sequence[str]) -> str:
    """`code` with each block's contents replaced by the matching entry of `new_texts`."""
    blocks = find_blocks(code)
    if len(new_texts) != len(blocks):
        raise BlockError(f"expected {len(blocks)} block texts, got {len(new_texts)}")
    lines = code.splitlines(keepends=True)
    out: list[str] = []
    pos = 0
    for block, text in zip(blocks, new_texts):
        out.extend(lines[pos:block.start])
        if text and not text.endswith("\n"):
            text += "\n"
        out.append(text)
        pos = block.end
    out.extend(lines[pos:])
    return "".join(out)


@functools.lru_cache(maxsize=256)
def outside_blocks(code: str) -> str:
    """Everything outside the blocks (what an edit must leave unchanged)."""
    blocks = find_blocks(code)
    lines = code.splitlines(keepends=True)
    kept, pos = [], 0
    for block in blocks:
        kept.extend(lines[pos:block.start])
        pos = block.end
    kept.extend(lines[pos:])
    return "".join(kept)


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def normalise_children(node: ast.AST) -> None:
    """Normalise the functions below `node` (not `node` itself), outermost first on each path."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _FUNCTIONS):
            _normalise_function(child)
        else:
            normalise_children(child)


def _normalise_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """Canonical names for a function's arguments and locals; docstring and annotations dropped.

    In place, in one walk per statement (an ast.NodeTransformer makes the whole hash take about three
    times as long). Functions nested in the body get their own names first, then the outer names
    apply to what is left.
    """
    names: dict[str, str] = {}
    args = node.args
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, *([args.vararg] if args.vararg else []),
              *([args.kwarg] if args.kwarg else [])]:
        names.setdefault(a.arg, f"_a{len(names)}")
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.setdefault(sub.id, f"_v{len(names)}")
    body = strip_docstring(node.body)
    for stmt in body:
        normalise_children(stmt)
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name):
                sub.id = names.get(sub.id, sub.id)
    node.body = body
    for sub in ast.walk(args):
        if isinstance(sub, ast.arg):
            sub.arg = names.get(sub.arg, sub.arg)
            sub.annotation = None
    node.returns = None


def strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    """`body` without a leading docstring (a `pass` if nothing else is left), so docs do not change a hash."""
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return body[1:] or [ast.Pass()]
    return body


def normalised_hash(code: str) -> str:
    """A hash that ignores comments, formatting, docstrings and the names of arguments and locals.

    Only the EVOLVE-BLOCKs are normalised (edits cannot touch the rest); the text outside them is hashed
    as it is, so two programs collide only when both parts match.
    """
    try:
        blocks = find_blocks(code)
    except BlockError:
        return _ast_hash(code)
    outside = hashlib.sha256(outside_blocks(code).encode()).hexdigest()
    inner = [_ast_hash(textwrap.dedent(b.text)) for b in blocks]
    return hashlib.sha256("|".join([outside, *inner]).encode()).hexdigest()[:40]


def _ast_hash(code: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "raw:" + hashlib.sha256(code.encode()).hexdigest()[:40]
    tree.body = strip_docstring(tree.body)
    normalise_children(tree)
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()[:40]
