"""LLM replies turned into children: SEARCH/REPLACE and full rewrites, confined to the EVOLVE-BLOCKs."""

from __future__ import annotations

import pytest

from evolve.edit.blocks import find_blocks, outside_blocks
from evolve.edit.diff import (
    EditError,
    SearchReplace,
    apply_reply,
    apply_rewrite,
    apply_search_replace,
    parse_rewrite,
    parse_search_replace,
)

PROGRAM = '''"""A seed."""

import math


# EVOLVE-BLOCK-START
def priority(p, d, t):
    """Smaller runs first."""
    slack = d - t
    return d
# EVOLVE-BLOCK-END


def schedule(p, d):
    return sorted(range(len(p)), key=lambda k: priority(p[k], d[k], 0))
'''

TWO_BLOCKS = '''import math

# EVOLVE-BLOCK-START
WEIGHT = 1.0
# EVOLVE-BLOCK-END


def helper(x):
    return x + 1


class Rule:
    # EVOLVE-BLOCK-START
    def score(self, p, d):
        return d * WEIGHT
    # EVOLVE-BLOCK-END
'''


def sr(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def block(code: str, i: int = 0) -> str:
    return find_blocks(code)[i].text


def test_search_replace_changes_only_the_block() -> None:
    edit = apply_reply(PROGRAM, "Use MDD.\n" + sr("    return d\n", "    return max(d, t + p)\n"))
    assert edit.kind == "diff"
    assert "return max(d, t + p)" in block(edit.code)
    assert outside_blocks(edit.code) == outside_blocks(PROGRAM)
    assert "return max(d, t + p)" in edit.text


def test_several_blocks_apply_in_order_and_may_build_on_each_other() -> None:
    reply = sr("    return d\n", "    return slack\n") + "and then\n" + sr("    return slack\n", "    return -slack\n")
    assert "return -slack" in block(apply_reply(PROGRAM, reply).code)


def test_edits_reach_every_evolve_block() -> None:
    reply = sr("WEIGHT = 1.0\n", "WEIGHT = 2.5\n") + sr("        return d * WEIGHT\n", "        return d * WEIGHT + p\n")
    child = apply_reply(TWO_BLOCKS, reply).code
    assert "WEIGHT = 2.5" in block(child, 0) and "d * WEIGHT + p" in block(child, 1)
    assert outside_blocks(child) == outside_blocks(TWO_BLOCKS)


def test_code_fences_around_and_inside_blocks_are_tolerated() -> None:
    reply = "```python\n<<<<<<< SEARCH\n```python\n    return d\n```\n=======\n```\n    return d - t\n```\n>>>>>>> REPLACE\n```"
    assert "return d - t" in block(apply_reply(PROGRAM, reply).code)


def test_trailing_whitespace_differences_still_match() -> None:
    child = apply_reply(PROGRAM, sr("    slack = d - t   \n    return d  \n", "    return slack\n")).code
    assert "return slack" in block(child) and "slack = d - t" not in block(child)


def test_indentation_differences_match_and_the_replacement_is_reindented() -> None:
    child = apply_reply(PROGRAM, sr("slack = d - t\nreturn d\n", "if slack < 0:\n    return t\nreturn d\n")).code
    assert "    if slack < 0:\n        return t\n    return d\n" in block(child)


def test_marker_lines_repeated_in_search_and_replace_are_tolerated() -> None:
    reply = sr("# EVOLVE-BLOCK-START\ndef priority(p, d, t):\n", "# EVOLVE-BLOCK-START\ndef priority(p, d, t=0):\n")
    assert "def priority(p, d, t=0):" in block(apply_reply(PROGRAM, reply).code)


def test_search_text_not_found_names_the_block() -> None:
    with pytest.raises(EditError, match="block 2: the SEARCH text was not found"):
        apply_reply(PROGRAM, sr("    return d\n", "    return p\n") + sr("    return q\n", "    return p\n"))


def test_search_text_outside_the_blocks_is_rejected() -> None:
    with pytest.raises(EditError, match="outside the EVOLVE-BLOCKs"):
        apply_reply(PROGRAM, sr("import math\n", "import os\n"))


def test_search_spanning_a_marker_is_rejected() -> None:
    with pytest.raises(EditError, match="outside the EVOLVE-BLOCKs"):
        apply_reply(PROGRAM, sr("    return d\n# EVOLVE-BLOCK-END\n", "    return p\n"))


@pytest.mark.parametrize("reply, reason", [
    ("<<<<<<< SEARCH\n    return d\n>>>>>>> REPLACE\n", "no '=======' line"),
    ("<<<<<<< SEARCH\n    return d\n=======\n    return p\n", "not closed"),
    ("=======\n    return p\n>>>>>>> REPLACE\n", "comes before"),
    (sr("\n", "    return p\n"), "SEARCH part is empty"),
])
def test_malformed_search_replace_blocks_are_rejected(reply: str, reason: str) -> None:
    with pytest.raises(EditError, match=reason):
        apply_reply(PROGRAM, reply)


def test_a_result_that_is_not_python_is_rejected() -> None:
    with pytest.raises(EditError, match="not valid Python"):
        apply_reply(PROGRAM, sr("    return d\n", "    return (d\n"))


def test_a_reply_without_code_is_rejected() -> None:
    with pytest.raises(EditError, match="neither SEARCH/REPLACE blocks nor a fenced"):
        apply_reply(PROGRAM, "I would weigh the due date by the slack.")


def test_a_rewrite_of_the_block_contents_replaces_the_block() -> None:
    edit = apply_reply(PROGRAM, "Idea.\n```python\ndef priority(p, d, t):\n    return max(d, t + p)\n```\n")
    assert edit.kind == "full"
    assert block(edit.code) == "def priority(p, d, t):\n    return max(d, t + p)\n"
    assert outside_blocks(edit.code) == outside_blocks(PROGRAM)


def test_a_rewrite_of_the_whole_program_keeps_the_code_outside_byte_identical() -> None:
    rewritten = PROGRAM.replace("    return d\n", "    return d - 0.5 * p\n").replace("\n\n\n# EVOLVE", "\n# EVOLVE")
    child = apply_reply(PROGRAM, f"```python\n{rewritten}```").code
    assert "return d - 0.5 * p" in block(child)
    assert outside_blocks(child) == outside_blocks(PROGRAM)


def test_a_rewrite_that_changes_code_outside_the_blocks_is_rejected() -> None:
    rewritten = PROGRAM.replace("key=lambda k", "reverse=True, key=lambda k")
    with pytest.raises(EditError, match="changes code outside the EVOLVE-BLOCKs"):
        apply_reply(PROGRAM, f"```python\n{rewritten}```")


def test_a_rewrite_that_drops_the_markers_but_redefines_the_entry_is_rejected() -> None:
    rewritten = PROGRAM.replace("# EVOLVE-BLOCK-START\n", "").replace("# EVOLVE-BLOCK-END\n", "")
    with pytest.raises(EditError, match="redefines schedule"):
        apply_reply(PROGRAM, f"```python\n{rewritten}```")


def test_a_rewrite_with_a_different_number_of_blocks_is_rejected() -> None:
    rewritten = TWO_BLOCKS.split("class Rule")[0]
    with pytest.raises(EditError, match="has 1 EVOLVE-BLOCK"):
        apply_rewrite(TWO_BLOCKS, rewritten)


def test_a_code_block_that_is_never_closed_says_the_reply_was_cut_off() -> None:
    with pytest.raises(EditError, match="never closed"):
        parse_rewrite("```python\ndef priority(p, d, t):\n    return d")


def test_the_fence_holding_the_markers_wins_over_other_fences() -> None:
    reply = f"Example:\n```python\nx = 1\n```\nProgram:\n```python\n{PROGRAM}```\nUsage:\n```bash\nrun it\n```"
    assert parse_rewrite(reply) == PROGRAM


def test_parse_search_replace_returns_blocks_in_order() -> None:
    edits = parse_search_replace(sr("a\n", "b\n") + "text\n" + sr("c\n", "d\n"))
    assert edits == [SearchReplace("a\n", "b\n"), SearchReplace("c\n", "d\n")]


def test_apply_search_replace_replaces_the_first_occurrence_only() -> None:
    code = "# EVOLVE-BLOCK-START\nx = 1\nx = 1\n# EVOLVE-BLOCK-END\n"
    assert apply_search_replace(code, [SearchReplace("x = 1\n", "x = 2\n")]) == \
        "# EVOLVE-BLOCK-START\nx = 2\nx = 1\n# EVOLVE-BLOCK-END\n"
