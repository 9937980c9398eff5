from __future__ import annotations

import pytest

from evolve.edit.blocks import BlockError, find_blocks, normalised_hash, outside_blocks, replace_blocks

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
