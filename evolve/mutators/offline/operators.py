"""The offline mutator's operators: each changes a block's AST in place and says what it did in one line.

Perturb a numeric constant; swap an arithmetic or comparison operator or min/max; replace a
sub-expression with a random expression over the names in scope; wrap an expression in max/min/abs
with another; combine an expression with the sum, difference or product of two names in scope under
max/min; splice an expression or statement from an inspiration program (crossover). Where an
expression may be a numpy array it is wrapped with `np.maximum`/`np.minimum`/`np.abs`, never with
`max`/`min`/`abs` (facts.py says how that is known).
"""

from __future__ import annotations

import ast
import copy
import math
import random
from collections.abc import Sequence

from evolve.mutators.offline.arrays import ELEMENTWISE_OF
from evolve.mutators.offline.facts import BlockFacts
from evolve.mutators.offline.sites import VALUE_CALLS, Site, find_sites

OPERATORS = ("constant", "operator", "replace", "wrap", "combine", "crossover")
_BIN_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub, ast.Mult), ast.Sub: (ast.Add, ast.Mult), ast.Mult: (ast.Div, ast.Add),
    ast.Div: (ast.Mult, ast.Sub), ast.FloorDiv: (ast.Div,), ast.Pow: (ast.Mult,), ast.Mod: (ast.FloorDiv,),
}
_CMP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
}
_CONSTANTS = (0.5, 1, 2, 3, 0.1, 10, 0.25, 1.5)


def _mentions(node: ast.AST, names: frozenset[str]) -> bool:
    return bool(names) and any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _call(fn: str, args: list[ast.expr], array: bool, np_name: str | None) -> ast.expr | None:
    """`fn(*args)` for fn in max/min/abs: numpy's element-wise function when an argument may be an array
    (None when it may be one and the program has no numpy to call)."""
    if array:
        if np_name is None:
            return None
        func: ast.expr = ast.Attribute(value=ast.Name(id=np_name, ctx=ast.Load()), attr=ELEMENTWISE_OF[fn],
                                       ctx=ast.Load())
    else:
        func = ast.Name(id=fn, ctx=ast.Load())
    return ast.Call(func=func, args=args, keywords=[])


def _rand_expr(names: Sequence[str], rng: random.Random, depth: int = 2, arrays: frozenset[str] = frozenset(),
               np_name: str | None = None) -> ast.expr:
    """A random arithmetic expression over `names` and small constants (numpy-safe over `arrays`)."""
    if depth <= 0 or rng.random() < 0.35:
        if names and rng.random() < 0.7:
            return ast.Name(id=rng.choice(list(names)), ctx=ast.Load())
        return ast.Constant(value=rng.choice(_CONSTANTS))
    r = rng.random()
    if r < 0.7:
        op = rng.choice([ast.Add(), ast.Sub(), ast.Mult(), ast.Div()])
        return ast.BinOp(left=_rand_expr(names, rng, depth - 1, arrays, np_name), op=op,
                         right=_rand_expr(names, rng, depth - 1, arrays, np_name))
    if r < 0.9:
        fn = rng.choice(["max", "min"])
        args = [_rand_expr(names, rng, depth - 1, arrays, np_name), _rand_expr(names, rng, depth - 1, arrays, np_name)]
    else:
        fn, args = "abs", [_rand_expr(names, rng, depth - 1, arrays, np_name)]
    return _call(fn, args, any(_mentions(a, arrays) for a in args), np_name) or args[0]


def _perturb(value: int | float, rng: random.Random) -> int | float:
    if isinstance(value, int) and rng.random() < 0.5:
        step = rng.choice([-2, -1, 1, 2]) if abs(value) < 10 else round(value * rng.uniform(-0.3, 0.3)) or 1
        return value + step
    base = float(value) if value != 0 else rng.choice([0.1, 1.0, -0.1])
    new = base * math.exp(rng.gauss(0.0, 0.35)) + rng.gauss(0.0, 0.05 * abs(base))
    return float(f"{new:.4g}")


def _free_names(node: ast.AST) -> set[str]:
    """The names `node` reads as values (not the functions or modules it calls through)."""
    callees = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    bases = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in callees | bases}


def apply_operator(op: str, tree: ast.Module, donors: list[ast.Module], rng: random.Random,
           facts: BlockFacts | None = None) -> str | None:
    """Mutate `tree` in place with operator `op`; return a one-line description, or None if not applicable."""
    facts = facts or BlockFacts(tree, None)
    np_name = facts.np
    sites = find_sites(tree, facts)
    if not sites:
        return None
    if op == "constant":
        consts = [s for s in sites if isinstance(s.get(), ast.Constant)]
        if not consts:
            return None
        site = rng.choice(consts)
        value = site.get().value  # type: ignore[attr-defined]
        perturbed = _perturb(value, rng)
        site.set(ast.Constant(value=perturbed))
        return f"constant {value!r} -> {perturbed!r}"
    if op == "operator":
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.BinOp, ast.Compare)) or _min_max(n, np_name)]
        if not nodes:
            return None
        node = rng.choice(nodes)
        if isinstance(node, ast.BinOp):
            choices = _BIN_SWAPS.get(type(node.op))
            if not choices:
                return None
            old_src = ast.unparse(node)
            node.op = rng.choice(choices)()
            return f"operator: {old_src} -> {ast.unparse(node)}"
        if isinstance(node, ast.Compare):
            i = rng.randrange(len(node.ops))
            choices = _CMP_SWAPS.get(type(node.ops[i]))
            if not choices:
                return None
            old_src = ast.unparse(node)
            node.ops[i] = rng.choice(choices)()
            return f"operator: {old_src} -> {ast.unparse(node)}"
        assert isinstance(node, ast.Call)
        old_src = ast.unparse(node)
        swap = {"max": "min", "min": "max", "maximum": "minimum", "minimum": "maximum"}
        if isinstance(node.func, ast.Name):
            node.func.id = swap[node.func.id]
        else:
            assert isinstance(node.func, ast.Attribute)
            node.func.attr = swap[node.func.attr]
        return f"operator: {old_src} -> {ast.unparse(node)}"
    if op == "replace":
        site = rng.choice(sites)
        old_src = ast.unparse(site.get())
        keep_array = facts.may_be_array(site.get(), set(site.arrays))
        for _ in range(8):  # an array stays an array: its readers may index it or call its methods
            new = _rand_expr(site.scope, rng, arrays=site.arrays, np_name=np_name)
            if not keep_array or facts.may_be_array(new, set(site.arrays)):
                break
        else:
            return None
        site.set(new)
        return f"replace: {old_src} -> {ast.unparse(new)}"
    if op == "wrap":
        site = rng.choice(sites)
        old = site.get()
        other = _rand_expr(site.scope, rng, depth=1 if rng.random() < 0.5 else 2, arrays=site.arrays,
                           np_name=np_name)
        kind = rng.choice(["max", "min", "abs", "add", "mul"])
        if kind in ("max", "min", "abs"):
            args = [old, other] if kind != "abs" else [old]
            array = any(facts.may_be_array(a, set(site.arrays)) for a in args)
            wrapped = _call(kind, args, array, np_name)
            if wrapped is None:
                return None
            new = wrapped
        elif kind == "add":
            new = ast.BinOp(left=old, op=ast.Add(),
                            right=ast.BinOp(left=ast.Constant(value=rng.choice(_CONSTANTS)), op=ast.Mult(),
                                            right=other))
        else:
            new = ast.BinOp(left=old, op=ast.Mult(), right=other)
        site.set(new)
        return f"wrap: {ast.unparse(old)} -> {ast.unparse(new)}"
    if op == "combine":
        return _combine(sites, facts, rng)
    if op == "crossover":
        if not donors:
            return None
        donor = rng.choice(donors)
        if rng.random() < 0.5:
            return _splice_statement(tree, donor, rng)
        site = rng.choice(sites)
        pool = [n for n in ast.walk(donor) if isinstance(n, ast.expr) and not isinstance(n, (ast.Constant,))
                and not isinstance(getattr(n, "ctx", None), (ast.Store, ast.Del))
                and _free_names(n) <= set(site.scope) and not isinstance(n, (ast.Starred, ast.Slice, ast.Attribute))
                and not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id not in VALUE_CALLS)]
        pool = [n for n in pool if facts.numeric(n, site.get())]
        if facts.may_be_array(site.get(), set(site.arrays)):
            pool = [n for n in pool if facts.may_be_array(n, set(site.arrays))]
        if not pool:
            return None
        donor_expr = copy.deepcopy(rng.choice(pool))
        old_src = ast.unparse(site.get())
        site.set(donor_expr)
        return f"crossover: {old_src} -> {ast.unparse(donor_expr)}"
    raise ValueError(f"unknown operator {op}")


def _combine(sites: list[Site], facts: BlockFacts, rng: random.Random) -> str | None:
    """`max(e, a op b)` or `min(e, a op b)` for an expression e and two distinct names a, b in scope (op one
    of + - *): a bound or threshold built from the inputs, which `wrap` draws only rarely because its
    random expression is mostly a single name or a constant."""
    site = rng.choice(sites)
    names = sorted(set(site.scope))
    if len(names) < 2:
        return None
    a, b = rng.sample(names, 2)
    other = ast.BinOp(left=ast.Name(id=a, ctx=ast.Load()), op=rng.choice([ast.Add(), ast.Sub(), ast.Mult()]),
                      right=ast.Name(id=b, ctx=ast.Load()))
    old = site.get()
    array = any(facts.may_be_array(x, set(site.arrays)) for x in (old, other))
    new = _call(rng.choice(["max", "min"]), [old, other], array, facts.np)
    if new is None:
        return None
    site.set(new)
    return f"combine: {ast.unparse(old)} -> {ast.unparse(new)}"


def _splice_statement(tree: ast.Module, donor: ast.Module, rng: random.Random) -> str | None:
    """Replace a statement of a function with the statement at the same place in the donor's same function."""
    mine = {f.name: f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    theirs = {f.name: f for f in ast.walk(donor) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    common = sorted(set(mine) & set(theirs))
    if not common:
        return None
    name = rng.choice(common)
    a, b = mine[name], theirs[name]
    i = rng.randrange(len(b.body))
    stmt = copy.deepcopy(b.body[i])
    if i < len(a.body):
        if ast.dump(a.body[i]) == ast.dump(stmt):
            return None
        a.body[i] = stmt
    else:
        a.body.insert(max(0, len(a.body) - 1), stmt)
    return f"crossover: statement {i} of {name}() from an inspiration"


def _min_max(node: ast.AST, np_name: str | None) -> bool:
    """Whether `node` calls builtin max/min or numpy's maximum/minimum (the operator swaps one for the other)."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Name):
        return f.id in ("max", "min")
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == np_name \
        and f.attr in ("maximum", "minimum")
