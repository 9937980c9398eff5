"""The offline mutator: evolution without an LLM, by AST operators on the code inside EVOLVE-BLOCKs.

Operators: perturb a numeric constant; swap an arithmetic or comparison operator or min/max; replace a
sub-expression with a random expression over the names in scope; wrap an expression in max/min/abs
with another; splice an expression or statement from an inspiration program (crossover). Generic: it
knows nothing about any problem. Seeded by the `random.Random` it is given; always returns code that
compiles (or reports that it could not find a change).

A child reads only names bound where it reads them, and where an expression may be a numpy array it is
wrapped with `np.maximum`/`np.minimum`/`np.abs`, never with `max`/`min`/`abs` (offline_facts.py says how
that is known); a change that adds such a hazard to the block is thrown away and another one is tried.
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
from evolve.llm.offline_facts import ELEMENTWISE_OF, NP_ELEMENTWISE, BlockFacts, module_names, numpy_alias

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
    arrays: frozenset[str] = frozenset()  # names in scope that may hold numpy arrays

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
        try:
            program = ast.parse(code)
        except SyntaxError:
            program = None
        env = _Env(numpy_alias(program), frozenset(module_names(program)))
        child = self._mutate_once(code, donors, rng, env)
        if steps == 1 or child.code is None:
            return child
        edits, kinds = [child.edit], [child.edit_kind]
        for _ in range(steps - 1):
            nxt = self._mutate_once(child.code, donors, rng, env)  # type: ignore[arg-type]
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

    def _mutate_once(self, code: str, donors: Sequence[str], rng: random.Random, env: _Env | None = None
                     ) -> Proposal:
        """One operator application to `code`."""
        env = env or _Env(None, frozenset())
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
            facts = BlockFacts(tree, env.np, env.outer)
            desc = _apply(op, tree, donor_trees, rng, facts)
            if desc is None:
                continue
            if BlockFacts(tree, env.np, env.outer).hazards > facts.hazards:
                last_error = "every change read an unbound name or used an array as a truth value"
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


@dataclass(frozen=True)
class _Env:
    """What a block's program provides around it: numpy's alias and the module-level names."""

    np: str | None
    outer: frozenset[str]


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


def _is_docstring(parent: ast.AST, node: ast.AST) -> bool:
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str)


#: calls whose arguments are values a random expression may replace (not shapes, types, sequences)
_VALUE_CALLS = frozenset({"max", "min", "abs"})


def _value_call(call: ast.Call, facts: BlockFacts, local_functions: set[str]) -> bool:
    """Whether `call` takes plain values: builtin max/min/abs, numpy's element-wise functions, math, or a
    function of the block (not len, range, np.zeros, a method…, whose arguments are shapes or sequences)."""
    f = call.func
    if isinstance(f, ast.Name):
        return f.id in _VALUE_CALLS or f.id in local_functions
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return (f.value.id == facts.np and f.attr in NP_ELEMENTWISE) or f.value.id == "math"
    return False


def _sites(tree: ast.Module, facts: BlockFacts | None = None) -> list[_Site]:
    """Every replaceable expression: loaded values, not call targets, attribute bases, subscripts, loop
    sequences, unpacked values, arguments of calls that take shapes or sequences, or names of builtins."""
    facts = facts or BlockFacts(tree, None)
    local_functions = {f.name for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
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
                if isinstance(parent, (ast.Attribute, ast.keyword, ast.Subscript, ast.List, ast.Tuple, ast.Set,
                                       ast.Dict)):
                    continue
                if isinstance(parent, ast.Call) and not _value_call(parent, facts, local_functions):
                    continue
                if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)) and fname == "iter":
                    continue
                if isinstance(parent, ast.Assign) and any(isinstance(t, (ast.Tuple, ast.List)) for t in parent.targets):
                    continue
                if isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)):
                    continue
                if isinstance(node, (ast.Starred, ast.Slice, ast.JoinedStr, ast.Lambda)):
                    continue
                if isinstance(node, ast.Constant) and not _is_number(node.value):
                    continue
                if _is_docstring(parent, node) or (isinstance(parent, (ast.comprehension,)) and fname == "target"):
                    continue
                if isinstance(parent, (ast.arguments, ast.arg)) or fname == "returns":
                    continue  # annotations say what a value is (offline_facts reads them): never changed
                scope = facts.scope.get(id(node), ())
                if isinstance(node, ast.Name) and node.id not in scope:
                    continue  # a global, a builtin or a type: not a value to replace
                if not facts.numeric(node):
                    continue  # the mutator writes arithmetic: it replaces numbers only
                fn = facts.owner.get(id(node))
                opaque = facts.opaque.get(id(fn), set()) if fn is not None else set()
                out.append(_Site(parent, fname, idx, tuple(n for n in scope if n not in opaque),
                                 frozenset(facts.arrays_at(node))))
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


def _apply(op: str, tree: ast.Module, donors: list[ast.Module], rng: random.Random,
           facts: BlockFacts | None = None) -> str | None:
    """Mutate `tree` in place with operator `op`; return a one-line description, or None if not applicable."""
    facts = facts or BlockFacts(tree, None)
    np_name = facts.np
    sites = _sites(tree, facts)
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
                and not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id not in _VALUE_CALLS)]
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
