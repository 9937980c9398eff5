from __future__ import annotations

import ast
import random
import textwrap

import pytest

from evolve.edit.blocks import find_blocks, outside_blocks
from evolve.mutators.offline.facts import BlockFacts
from evolve.mutators.offline.mutator import OfflineMutator, tree_size
from evolve.mutators.offline.operators import OPERATORS, apply_operator

SEED = """import math

# EVOLVE-BLOCK-START
def priority(p, d, t):
    slack = d - t - p
    if slack > 0:
        return min(d, 2.5 * p) + 0.5
    return max(slack, t) * 3
# EVOLVE-BLOCK-END


def entry(p, d):
    return sorted(range(len(p)), key=lambda j: priority(p[j], d[j], 0))
"""
DONOR = SEED.replace("min(d, 2.5 * p) + 0.5", "d / (p + 1)").replace("max(slack, t) * 3", "t + p")


def test_children_always_compile_and_keep_code_outside_blocks() -> None:
    m, rng = OfflineMutator(), random.Random(1)
    for _ in range(300):
        p = m.mutate(SEED, [DONOR], rng)
        assert p.code is not None, p.error
        compile(p.code, "child.py", "exec")
        assert outside_blocks(p.code) == outside_blocks(SEED)
        assert p.code != SEED


def test_same_seed_gives_the_same_children() -> None:
    a = [OfflineMutator().mutate(SEED, [DONOR], random.Random(7)).code for _ in range(1)]
    b = [OfflineMutator().mutate(SEED, [DONOR], random.Random(7)).code for _ in range(1)]
    ra, rb = random.Random(3), random.Random(3)
    m = OfflineMutator()
    assert a == b
    assert [m.mutate(SEED, [DONOR], ra).code for _ in range(50)] == [m.mutate(SEED, [DONOR], rb).code for _ in range(50)]


@pytest.mark.parametrize("op", OPERATORS)
def test_each_operator_changes_the_block(op: str) -> None:
    rng = random.Random(0)
    changed = 0
    for _ in range(40):
        tree = ast.parse(SEED.split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0])
        before = ast.dump(tree)
        donors = [ast.parse(DONOR.split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0])]
        desc = apply_operator(op, tree, donors, rng)
        if desc is not None and ast.dump(tree) != before:
            changed += 1
            compile(ast.fix_missing_locations(tree), "x", "exec")
    assert changed >= 10, f"{op} changed the block only {changed} times in 40"


def test_constant_perturbation_touches_only_numbers() -> None:
    rng = random.Random(5)
    tree = ast.parse("def f(x):\n    return x * 2.5 + 'a'.count('b')\n")
    desc = apply_operator("constant", tree, [], rng)
    assert desc is not None and desc.startswith("constant 2.5 ->")


def test_program_without_markers_is_a_parse_error() -> None:
    p = OfflineMutator().mutate("def f():\n    return 1\n", [], random.Random(0))
    assert p.code is None and p.status == "parse_error" and "EVOLVE-BLOCK" in (p.error or "")


def test_mutations_are_generic_and_use_names_in_scope() -> None:
    code = "# EVOLVE-BLOCK-START\ndef score(alpha, beta):\n    return alpha\n# EVOLVE-BLOCK-END\n"
    rng, m = random.Random(2), OfflineMutator()
    names = set()
    for _ in range(100):
        child = m.mutate(code, [], rng).code
        assert child is not None
        names |= {n.id for n in ast.walk(ast.parse(child)) if isinstance(n, ast.Name)}
    assert names <= {"alpha", "beta", "max", "min", "abs"}


def test_several_steps_apply_several_operators_and_stay_seeded() -> None:
    one, many = OfflineMutator(max_steps=1), OfflineMutator(max_steps=4, step_prob=1.0)
    kinds = [many.mutate(SEED, [DONOR], random.Random(i)).edit_kind for i in range(30)]
    assert all(k.startswith("offline:") for k in kinds)
    assert sum(k.count("+") == 3 for k in kinds) >= 25  # four operators (rarely fewer when one finds no site)
    assert "+" not in "".join(one.mutate(SEED, [DONOR], random.Random(i)).edit_kind for i in range(30))
    assert [many.mutate(SEED, [DONOR], random.Random(3)).code for _ in range(3)] == \
           [many.mutate(SEED, [DONOR], random.Random(3)).code] * 3


def _block_size(code: str) -> int:
    return sum(tree_size(ast.parse(textwrap.dedent(b.text))) for b in find_blocks(code))


def test_max_nodes_stops_blocks_growing_past_it_but_not_smaller_changes() -> None:
    limit = _block_size(SEED) + 4
    capped, free = OfflineMutator(max_nodes=limit, max_steps=1), OfflineMutator(max_steps=1)
    code, grown = SEED, 0
    for i in range(200):  # a chain of children, as in a long run: each the parent of the next
        child = capped.mutate(code, [DONOR], random.Random(i))
        if child.code is None:
            assert "offline.max_nodes" in (child.error or "")
            continue
        assert _block_size(child.code) <= max(limit, _block_size(code))
        code = child.code
        grown += _block_size(free.mutate(SEED, [DONOR], random.Random(i)).code or SEED) > limit
    assert grown > 20  # without the limit, many of the same children would be larger
    assert code != SEED


def test_a_block_already_past_max_nodes_may_change_without_growing() -> None:
    m = OfflineMutator(max_nodes=3, max_steps=1)
    children = [m.mutate(SEED, [DONOR], random.Random(i)) for i in range(40)]
    changed = [c.code for c in children if c.code is not None]
    assert changed, [c.error for c in children]
    assert all(_block_size(c) <= _block_size(SEED) for c in changed)


def test_combine_bounds_an_expression_by_two_names_in_scope() -> None:
    rng, seen = random.Random(4), set()
    for _ in range(60):
        tree = ast.parse("def priority(p, d, t):\n    return d\n")
        desc = apply_operator("combine", tree, [], rng)
        assert desc is not None and desc.startswith("combine: d -> ")
        ret = tree.body[0].body[0].value  # type: ignore[attr-defined]
        assert isinstance(ret, ast.Call) and ret.func.id in ("max", "min")
        assert ast.unparse(ret.args[0]) == "d"
        other = ret.args[1]
        assert isinstance(other, ast.BinOp) and isinstance(other.op, (ast.Add, ast.Sub, ast.Mult))
        pair = (other.left.id, other.right.id)  # type: ignore[attr-defined]
        assert set(pair) <= {"p", "d", "t"} and pair[0] != pair[1]
        seen.add(ast.unparse(ret))
    assert "max(d, t + p)" in seen or "max(d, p + t)" in seen  # the modified due date is one step away


def test_combine_uses_numpy_elementwise_functions_on_arrays() -> None:
    rng = random.Random(1)
    for _ in range(20):
        tree = ast.parse("def priority(item: float, bins: np.ndarray) -> np.ndarray:\n    return bins - item\n")
        apply_operator("combine", tree, [], rng, BlockFacts(tree, "np"))
        src = ast.unparse(tree)
        assert "np.maximum(" in src or "np.minimum(" in src, src
        assert "max(" not in src.replace("np.maximum(", "") and "min(" not in src.replace("np.minimum(", "")


def test_combine_needs_two_names() -> None:
    tree = ast.parse("def f(x):\n    return x\n")
    assert apply_operator("combine", tree, [], random.Random(0)) is None
