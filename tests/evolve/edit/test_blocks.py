from __future__ import annotations

import ast
from pathlib import Path

import pytest

from evolve.edit.blocks import (
    BlockError,
    find_blocks,
    normalise_children,
    normalised_hash,
    outside_blocks,
    replace_blocks,
    strip_docstring,
)

PROGRAM = """import math

# EVOLVE-BLOCK-START
def f(x, y):
    z = x + y  # sum
    return z * 2
# EVOLVE-BLOCK-END

def entry(a):
    return f(a, 1)
"""


def test_find_blocks_returns_the_lines_between_markers() -> None:
    (block,) = find_blocks(PROGRAM)
    assert block.text.startswith("def f(x, y):")
    assert block.text.rstrip().endswith("return z * 2")


def test_find_blocks_gives_each_caller_its_own_list() -> None:
    first = find_blocks(PROGRAM)
    first.clear()  # a caller changing its list does not change what the next caller gets
    assert [b.text for b in find_blocks(PROGRAM)] == [b.text for b in find_blocks(PROGRAM[:])] != []
    with pytest.raises(BlockError):
        find_blocks("x = 1\n")
    with pytest.raises(BlockError):  # errors are raised every time, not remembered as a result
        find_blocks("x = 1\n")


def test_replace_blocks_keeps_everything_outside_byte_identical() -> None:
    new = replace_blocks(PROGRAM, ["def f(x, y):\n    return x - y\n"])
    assert outside_blocks(new) == outside_blocks(PROGRAM)
    assert "return x - y" in new and "z * 2" not in new


@pytest.mark.parametrize("code, message", [
    ("x = 1\n", "no '# EVOLVE-BLOCK-START'"),
    ("# EVOLVE-BLOCK-START\nx = 1\n", "never closed"),
    ("x = 1\n# EVOLVE-BLOCK-END\n", "without a matching"),
    ("# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n", "cannot nest"),
])
def test_bad_markers_are_rejected_with_a_specific_message(code: str, message: str) -> None:
    with pytest.raises(BlockError, match=message):
        find_blocks(code)


def test_renamed_and_reformatted_program_has_the_same_hash() -> None:
    variant = PROGRAM.replace("z = x + y  # sum", "total   =  x+y").replace("return z * 2", "return total*2")
    variant = variant.replace("def f(x, y):", 'def f(u, v):\n    """Doc."""').replace("x+y", "u+v")
    assert normalised_hash(variant) == normalised_hash(PROGRAM)


def test_changed_constant_changes_the_hash() -> None:
    assert normalised_hash(PROGRAM.replace("z * 2", "z * 3")) != normalised_hash(PROGRAM)


def test_renamed_function_changes_the_hash() -> None:
    assert normalised_hash(PROGRAM.replace("f(", "g(")) != normalised_hash(PROGRAM)


class _ReferenceNormalise(ast.NodeTransformer):
    """The normalisation as first written (a NodeTransformer): the reference for the faster walk."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        names: dict[str, str] = {}
        for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                  *([node.args.vararg] if node.args.vararg else []),
                  *([node.args.kwarg] if node.args.kwarg else [])]:
            names.setdefault(a.arg, f"_a{len(names)}")
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.setdefault(sub.id, f"_v{len(names)}")
        renamer = _ReferenceRename(names)
        node.body = [renamer.visit(self.generic_visit(s)) for s in strip_docstring(node.body)]
        for a in ast.walk(node.args):
            if isinstance(a, ast.arg):
                a.arg = names.get(a.arg, a.arg)
                a.annotation = None
        node.returns = None
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]


class _ReferenceRename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.names.get(node.id, node.id)
        return node


def _reference_dump(code: str) -> str:
    tree = ast.parse(code)
    tree.body = strip_docstring(tree.body)
    return ast.dump(_ReferenceNormalise().visit(tree), annotate_fields=False)


def test_the_normalisation_matches_the_node_transformer_it_replaced() -> None:
    """Nested functions, closures, lambdas, classes, async code: the repository's own modules and a
    slice of the standard library normalise exactly as the first implementation did."""
    repo = Path(__file__).resolve().parents[3]
    stdlib = Path(ast.__file__).parent
    files = sorted(repo.glob("evolve/**/*.py")) + sorted(repo.glob("problems/**/*.py")) + [
        stdlib / name for name in ("ast.py", "asyncio/tasks.py", "dataclasses.py", "functools.py", "inspect.py",
                                   "typing.py", "contextlib.py", "argparse.py", "json/decoder.py")]
    assert len(files) > 40
    for path in files:
        code = path.read_text(encoding="utf-8")
        tree = ast.parse(code)
        tree.body = strip_docstring(tree.body)
        normalise_children(tree)
        assert ast.dump(tree, annotate_fields=False) == _reference_dump(code), path
