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


def test_a_search_matching_several_places_is_an_error_naming_them() -> None:
    code = "# EVOLVE-BLOCK-START\nx = 1\ny = 0\nx = 1\n# EVOLVE-BLOCK-END\n"
    with pytest.raises(EditError, match=r"matches 2 places \(lines 2, 4 of the current program\)"):
        apply_search_replace(code, [SearchReplace("x = 1\n", "x = 2\n")])
    assert apply_search_replace(code, [SearchReplace("x = 1\ny = 0\n", "x = 2\ny = 0\n")]) == \
        "# EVOLVE-BLOCK-START\nx = 2\ny = 0\nx = 1\n# EVOLVE-BLOCK-END\n"


def test_an_exact_match_wins_over_several_indentation_tolerant_ones() -> None:
    code = "# EVOLVE-BLOCK-START\nif a:\n    x = 1\nx = 1\n# EVOLVE-BLOCK-END\n"
    assert "x = 2\n# EVOLVE" in apply_search_replace(code, [SearchReplace("x = 1\n", "x = 2\n")])


def test_search_matches_whole_lines_only() -> None:
    code = PROGRAM.replace("    return d\n", "    return d + p\n")
    with pytest.raises(EditError, match="SEARCH text was not found"):
        apply_reply(code, sr("    return d\n", "    return d - t\n"))
    with pytest.raises(EditError, match="SEARCH text was not found"):
        apply_reply(code, sr("return d\n", "return t\n"))


def test_search_without_indentation_or_newline_still_matches_a_whole_line() -> None:
    child = apply_reply(PROGRAM, "<<<<<<< SEARCH\nreturn d\n=======\nreturn max(d, t + p)\n>>>>>>> REPLACE").code
    assert "    return max(d, t + p)\n" in block(child)


THINK_DRAFT = sr("    return d\n", "    return p\n")


@pytest.mark.parametrize("wrap", [
    "<think>\nMaybe SPT?\n{draft}Hmm, no: MDD is better.\n</think>\n{answer}",
    "<thinking>{draft}</thinking>\n{answer}",
    "<REASONING>{draft}</REASONING>{answer}",
    "Let me think. {draft} No.\n</think>\n\n{answer}",  # the server dropped the opening tag
])
def test_reasoning_is_never_the_answer(wrap: str) -> None:
    answer = sr("    return d\n", "    return max(d, t + p)\n")
    child = apply_reply(PROGRAM, wrap.format(draft=THINK_DRAFT, answer=answer)).code
    assert "return max(d, t + p)" in block(child) and "return p\n" not in block(child)


def test_a_program_drafted_in_the_reasoning_does_not_break_a_final_diff() -> None:
    reply = f"<think>\n```python\n{PROGRAM}```\n</think>\n" + sr("    return d\n", "    return d - t\n")
    assert "return d - t" in block(apply_reply(PROGRAM, reply).code)


def test_a_reply_that_ends_inside_its_reasoning_says_so() -> None:
    with pytest.raises(EditError, match="ends inside its reasoning"):
        apply_reply(PROGRAM, "<think>\nFirst, " + THINK_DRAFT)
    with pytest.raises(EditError, match="only reasoning"):
        apply_reply(PROGRAM, "<think>" + THINK_DRAFT + "</think>\n")


@pytest.mark.parametrize("reply, reason", [
    ("", "the reply is empty"),
    ("  \n", "the reply is empty"),
    ("I'm sorry, but I can't help with that request.", "neither SEARCH/REPLACE blocks nor a fenced"),
])
def test_empty_and_refusing_replies_are_rejected(reply: str, reason: str) -> None:
    with pytest.raises(EditError, match=reason):
        apply_reply(PROGRAM, reply)


def test_the_last_complete_program_is_the_rewrite_not_the_longest() -> None:
    option_a = PROGRAM.replace("    return d\n", "    # option A: a long, commented draft\n" * 5 + "    return d - t\n")
    option_b = PROGRAM.replace("    return d\n", "    return max(d, t + p)\n")
    reply = f"Option A:\n```python\n{option_a}```\nBetter, option B:\n```python\n{option_b}```\nUse B."
    assert "return max(d, t + p)" in block(apply_reply(PROGRAM, reply).code)


def test_the_last_fence_defining_the_block_function_wins_over_usage_examples() -> None:
    reply = ("Draft:\n```python\ndef priority(p, d, t):\n    return d - t\n```\nFinal:\n```python\n"
             "def priority(p, d, t):\n    return max(d, t + p)\n```\nTry it:\n```python\nprint(schedule([1], [2]))\n```\n")
    assert "return max(d, t + p)" in block(apply_reply(PROGRAM, reply).code)


def test_a_cut_off_final_program_is_not_replaced_by_an_earlier_draft() -> None:
    reply = f"Draft:\n```python\n{PROGRAM}```\nFinal:\n```python\n{PROGRAM[:120]}"
    with pytest.raises(EditError, match="never closed"):
        apply_reply(PROGRAM, reply)


def test_a_rewrite_that_shortens_the_fixed_code_keeps_the_fixed_code() -> None:
    head = PROGRAM.split("# EVOLVE-BLOCK-END\n")[0]
    short = head.replace("    return d\n", "    return max(d, t + p)\n") + "# EVOLVE-BLOCK-END\n\n# ... rest unchanged\n"
    short = short.replace('"""A seed."""\n\nimport math\n', "# ... imports as before\n")
    edit = apply_reply(PROGRAM, f"```python\n{short}```")
    assert "return max(d, t + p)" in block(edit.code)
    assert outside_blocks(edit.code) == outside_blocks(PROGRAM)


UNIFIED = """--- a/program.py
+++ b/program.py
@@ -9,4 +9,4 @@ def priority(p, d, t):
     \"\"\"Smaller runs first.\"\"\"
     slack = d - t
-    return d
+    return max(d, t + p)
"""


def test_a_unified_diff_is_applied() -> None:
    edit = apply_reply(PROGRAM, f"Here is the patch:\n```diff\n{UNIFIED}```\n")
    assert edit.kind == "diff" and "return max(d, t + p)" in block(edit.code)
    assert outside_blocks(edit.code) == outside_blocks(PROGRAM)


def test_a_unified_diff_that_does_not_apply_asks_for_search_replace() -> None:
    bad = UNIFIED.replace("-    return d", "-    return q")
    with pytest.raises(EditError, match=r"unified diff.*use SEARCH/REPLACE"):
        apply_reply(PROGRAM, bad)


def test_crlf_line_ends_are_accepted_in_diffs_and_rewrites() -> None:
    diff = sr("    return d\n", "    return d - t\n").replace("\n", "\r\n")
    assert "return d - t\n" in block(apply_reply(PROGRAM, diff).code)
    rewrite = "```python\r\ndef priority(p, d, t):\r\n    return d + t\r\n```\r\n"
    child = apply_reply(PROGRAM, rewrite).code
    assert "return d + t\n" in block(child) and "\r" not in child


def test_tilde_and_four_backtick_fences_are_accepted() -> None:
    for fence in ("~~~", "````"):
        reply = f"{fence}python\ndef priority(p, d, t):\n    return d + 2\n{fence}\n"
        assert "return d + 2" in block(apply_reply(PROGRAM, reply).code)
