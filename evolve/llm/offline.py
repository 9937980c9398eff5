"""The offline mutator: evolution without an LLM, by AST operators on the code inside EVOLVE-BLOCKs.

Operators: perturb a numeric constant; swap an arithmetic or comparison operator or min/max; replace a
sub-expression with a random expression over the names in scope; wrap an expression in max/min/abs
with another; splice an expression or statement from an inspiration program (crossover). Generic: it
knows nothing about any problem. Seeded by the `random.Random` it is given; always returns code that
compiles (or reports that it could not find a change).
"""

from __future__ import annotations

import ast
import copy
import math
import random
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from evolve.edit.blocks import BlockError, find_blocks, replace_blocks
from evolve.llm.base import Proposal, ProposalRequest

OPERATORS = ("constant", "operator", "replace", "wrap", "crossover")
WEIGHTS = (0.3, 0.15, 0.2, 0.25, 0.1)
_BIN_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub, ast.Mult), ast.Sub: (ast.Add, ast.Mult), ast.Mult: (ast.Div, ast.Add),
    ast.Div: (ast.Mult, ast.Sub), ast.FloorDiv: (ast.Div,), ast.Pow: (ast.Mult,), ast.Mod: (ast.FloorDiv,),
}
_CMP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
}
_CONSTANTS = (0.5, 1, 2, 3, 0.1, 10, 0.25, 1.5)


@dataclass
class _Site:
    """A place holding an expression: `parent.field` (or `parent.field[index]`)."""

    parent: ast.AST
    field: str
    index: int | None
    scope: tuple[str, ...]

    def get(self) -> ast.expr:
        value = getattr(self.parent, self.field)
        return value[self.index] if self.index is not None else value  # type: ignore[no-any-return]

    def set(self, node: ast.expr) -> None:
        if self.index is not None:
            getattr(self.parent, self.field)[self.index] = node
        else:
            setattr(self.parent, self.field, node)


class OfflineMutator:
    """Proposes children by AST mutation; implements the same interface as the LLM mutators."""

    name = "offline"

    def __init__(self, crossover_rate: float = 0.15, max_tries: int = 20, max_steps: int = 3,
                 step_prob: float = 0.5, max_nodes: int | None = None) -> None:
        self.crossover_rate = crossover_rate
        self.max_tries = max_tries
        self.max_steps = max(1, int(max_steps))
        self.step_prob = step_prob
        #: a mutation may not grow an EVOLVE-BLOCK past this many AST nodes (None: no limit)
        self.max_nodes = max_nodes

    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
        return self.mutate(request.parent_code, [i.code for i in request.inspirations], rng)

    def mutate(self, code: str, donors: Sequence[str], rng: random.Random) -> Proposal:
        """A mutated child of `code`: one operator application, plus each further one (up to max_steps)
        with probability step_prob; `donors` feed crossover."""
        steps = 1
        while steps < self.max_steps and rng.random() < self.step_prob:
            steps += 1
        child = self._mutate_once(code, donors, rng)
        if steps == 1 or child.code is None:
            return child
        edits, kinds = [child.edit], [child.edit_kind]
        for _ in range(steps - 1):
            nxt = self._mutate_once(child.code, donors, rng)  # type: ignore[arg-type]
            if nxt.code is None:
                break
            if nxt.code == code:  # this step undid the earlier ones: keep the child it was applied to
                continue
            child = nxt
            edits.append(nxt.edit)
            kinds.append(nxt.edit_kind)
        if len(edits) == 1:
            return child
        ops = "+".join(k.removeprefix("offline:") for k in kinds)
        return Proposal(code=child.code, edit="; ".join(edits), edit_kind=f"offline:{ops}", model=self.name)

    def _mutate_once(self, code: str, donors: Sequence[str], rng: random.Random) -> Proposal:
        """One operator application to `code`."""
        try:
            blocks = find_blocks(code)
        except BlockError as exc:
            return Proposal(code=None, edit="", edit_kind="offline", model=self.name, status="parse_error",
                            error=str(exc))
        weights = list(WEIGHTS)
        if not donors:
            weights[OPERATORS.index("crossover")] = 0.0
        else:
            weights[OPERATORS.index("crossover")] = self.crossover_rate
        last_error = "no applicable mutation"
        for _ in range(self.max_tries):
            op = rng.choices(OPERATORS, weights=weights)[0]
            bi = rng.randrange(len(blocks))
            text = blocks[bi].text
            indent = _indent_of(text)
            try:
                tree = ast.parse(textwrap.dedent(text))
            except SyntaxError as exc:
                return Proposal(code=None, edit="", edit_kind=op, model=self.name, status="parse_error",
                                error=f"EVOLVE-BLOCK {bi} is not valid Python on its own: {exc}")
            donor_trees = _donor_trees(donors) if op == "crossover" else []
            before = _size(tree) if self.max_nodes is not None else 0
            desc = _apply(op, tree, donor_trees, rng)
            if desc is None:
                continue
            if self.max_nodes is not None and _size(tree) > max(self.max_nodes, before):
                last_error = f"every change grew the block past llm.max_nodes={self.max_nodes} AST nodes"
                continue
            ast.fix_missing_locations(tree)
            new_text = textwrap.indent(ast.unparse(tree) + "\n", indent)
            texts = [b.text for b in blocks]
            if new_text.strip() == text.strip():
                continue
            texts[bi] = new_text
            child = replace_blocks(code, texts)
            try:
                compile(child, "candidate.py", "exec")
            except (SyntaxError, ValueError) as exc:
                last_error = str(exc)
                continue
            return Proposal(code=child, edit=desc, edit_kind=f"offline:{op}", model=self.name)
        return Proposal(code=None, edit="", edit_kind="offline", model=self.name, status="parse_error",
                        error=f"the offline mutator found no valid change: {last_error}")

    def state(self) -> dict[str, object]:
        return {}

    def load_state(self, state: dict[str, object]) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _size(tree: ast.AST) -> int:
    return sum(1 for _ in ast.walk(tree))


def _indent_of(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return ""


def _donor_trees(donors: Sequence[str]) -> list[ast.Module]:
    trees = []
    for code in donors:
        try:
            for b in find_blocks(code):
                trees.append(ast.parse(textwrap.dedent(b.text)))
        except (BlockError, SyntaxError):
            continue
    return trees


def _scopes(tree: ast.Module) -> dict[int, tuple[str, ...]]:
    """For every node id, the plain names visible to an expression there (arguments and locals)."""
    scope_of: dict[int, tuple[str, ...]] = {}
    inside: set[int] = set()
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    for fn in functions:
        inside.update(id(sub) for sub in ast.walk(fn) if sub is not fn)
    module_names = tuple(sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                                 and isinstance(n.ctx, ast.Store) and id(n) not in inside}))
    for fn in functions:  # outer functions first (walk is breadth-first), inner ones override
        args = [a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)]
        local = [n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        names = tuple(dict.fromkeys([*args, *local]))
        for sub in ast.walk(fn):
            scope_of[id(sub)] = names
    for node in ast.walk(tree):
        scope_of.setdefault(id(node), module_names)
    return scope_of


def _is_docstring(parent: ast.AST, node: ast.AST) -> bool:
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str)


def _sites(tree: ast.Module) -> list[_Site]:
    """Every replaceable expression: loaded values, not call targets, attribute bases or strings."""
    scopes = _scopes(tree)
    out: list[_Site] = []
    for parent in ast.walk(tree):
        if isinstance(parent, (ast.JoinedStr, ast.FormattedValue)):
            continue
        for fname, value in ast.iter_fields(parent):
            items = [(None, value)] if not isinstance(value, list) else list(enumerate(value))
            for idx, node in items:
                if not isinstance(node, ast.expr):
                    continue
                if isinstance(parent, ast.Call) and fname == "func":
                    continue
                if isinstance(parent, ast.Attribute) or isinstance(parent, ast.keyword):
                    continue
                if isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)):
                    continue
                if isinstance(node, (ast.Starred, ast.Slice, ast.JoinedStr, ast.Lambda)):
                    continue
                if isinstance(node, ast.Constant) and not _is_number(node.value):
                    continue
                if _is_docstring(parent, node) or (isinstance(parent, (ast.comprehension,)) and fname == "target"):
                    continue
                if isinstance(parent, ast.arguments):
                    continue
                out.append(_Site(parent, fname, idx, scopes.get(id(node), ())))
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rand_expr(names: Sequence[str], rng: random.Random, depth: int = 2) -> ast.expr:
    """A random arithmetic expression over `names` and small constants."""
    if depth <= 0 or rng.random() < 0.35:
        if names and rng.random() < 0.7:
            return ast.Name(id=rng.choice(list(names)), ctx=ast.Load())
        return ast.Constant(value=rng.choice(_CONSTANTS))
    r = rng.random()
    if r < 0.7:
        op = rng.choice([ast.Add(), ast.Sub(), ast.Mult(), ast.Div()])
        return ast.BinOp(left=_rand_expr(names, rng, depth - 1), op=op, right=_rand_expr(names, rng, depth - 1))
    if r < 0.9:
        fn = rng.choice(["max", "min"])
        return ast.Call(func=ast.Name(id=fn, ctx=ast.Load()),
                        args=[_rand_expr(names, rng, depth - 1), _rand_expr(names, rng, depth - 1)], keywords=[])
    return ast.Call(func=ast.Name(id="abs", ctx=ast.Load()), args=[_rand_expr(names, rng, depth - 1)], keywords=[])


def _perturb(value: int | float, rng: random.Random) -> int | float:
    if isinstance(value, int) and rng.random() < 0.5:
        step = rng.choice([-2, -1, 1, 2]) if abs(value) < 10 else round(value * rng.uniform(-0.3, 0.3)) or 1
        return value + step
    base = float(value) if value != 0 else rng.choice([0.1, 1.0, -0.1])
    new = base * math.exp(rng.gauss(0.0, 0.35)) + rng.gauss(0.0, 0.05 * abs(base))
    return float(f"{new:.4g}")


def _free_names(node: ast.AST) -> set[str]:
    builtins = {"max", "min", "abs", "math", "np", "numpy", "len", "sum", "range", "int", "float", "round"}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id not in builtins}


def _apply(op: str, tree: ast.Module, donors: list[ast.Module], rng: random.Random) -> str | None:
    """Mutate `tree` in place with operator `op`; return a one-line description, or None if not applicable."""
    sites = _sites(tree)
    if not sites:
        return None
    if op == "constant":
        consts = [s for s in sites if isinstance(s.get(), ast.Constant)]
        if not consts:
            return None
        site = rng.choice(consts)
        old = site.get().value  # type: ignore[attr-defined]
        new = _perturb(old, rng)
        site.set(ast.Constant(value=new))
        return f"constant {old!r} -> {new!r}"
    if op == "operator":
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.BinOp, ast.Compare))
                 or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("min", "max"))]
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
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        old_src = ast.unparse(node)
        node.func.id = "min" if node.func.id == "max" else "max"
        return f"operator: {old_src} -> {ast.unparse(node)}"
    if op == "replace":
        site = rng.choice(sites)
        old_src = ast.unparse(site.get())
        new = _rand_expr(site.scope, rng)
        site.set(new)
        return f"replace: {old_src} -> {ast.unparse(new)}"
    if op == "wrap":
        site = rng.choice(sites)
        old = site.get()
        other = _rand_expr(site.scope, rng, depth=1 if rng.random() < 0.5 else 2)
        kind = rng.choice(["max", "min", "abs", "add", "mul"])
        if kind in ("max", "min"):
            new: ast.expr = ast.Call(func=ast.Name(id=kind, ctx=ast.Load()), args=[old, other], keywords=[])
        elif kind == "abs":
            new = ast.Call(func=ast.Name(id="abs", ctx=ast.Load()), args=[old], keywords=[])
        elif kind == "add":
            new = ast.BinOp(left=old, op=ast.Add(),
                            right=ast.BinOp(left=ast.Constant(value=rng.choice(_CONSTANTS)), op=ast.Mult(),
                                            right=other))
        else:
            new = ast.BinOp(left=old, op=ast.Mult(), right=other)
        site.set(new)
        return f"wrap: {ast.unparse(old)} -> {ast.unparse(new)}"
    if op == "crossover":
        if not donors:
            return None
        donor = rng.choice(donors)
        if rng.random() < 0.5:
            return _splice_statement(tree, donor, rng)
        site = rng.choice(sites)
        pool = [n for n in ast.walk(donor) if isinstance(n, ast.expr) and not isinstance(n, (ast.Constant,))
                and not isinstance(getattr(n, "ctx", None), (ast.Store, ast.Del))
                and _free_names(n) <= set(site.scope) and not isinstance(n, (ast.Starred, ast.Slice))]
        if not pool:
            return None
        donor_expr = copy.deepcopy(rng.choice(pool))
        old_src = ast.unparse(site.get())
        site.set(donor_expr)
        return f"crossover: {old_src} -> {ast.unparse(donor_expr)}"
    raise ValueError(f"unknown operator {op}")


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
