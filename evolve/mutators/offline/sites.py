"""Where the offline mutator may change a block: the expressions that hold plain numeric values."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from evolve.mutators.offline.arrays import NP_ELEMENTWISE
from evolve.mutators.offline.facts import BlockFacts


@dataclass
@dataclass
class Site:
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


def _is_docstring(parent: ast.AST, node: ast.AST) -> bool:
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str)


#: calls whose arguments are values a random expression may replace (not shapes, types, sequences)
VALUE_CALLS = frozenset({"max", "min", "abs"})


def _value_call(call: ast.Call, facts: BlockFacts, local_functions: set[str]) -> bool:
    """Whether `call` takes plain values: builtin max/min/abs, numpy's element-wise functions, math, or a
    function of the block (not len, range, np.zeros, a method…, whose arguments are shapes or sequences)."""
    f = call.func
    if isinstance(f, ast.Name):
        return f.id in VALUE_CALLS or f.id in local_functions
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return (f.value.id == facts.np and f.attr in NP_ELEMENTWISE) or f.value.id == "math"
    return False


def find_sites(tree: ast.Module, facts: BlockFacts | None = None) -> list[Site]:
    """Every replaceable expression: loaded values, not call targets, attribute bases, subscripts, loop
    sequences, unpacked values, arguments of calls that take shapes or sequences, or names of builtins."""
    facts = facts or BlockFacts(tree, None)
    local_functions = {f.name for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    out: list[Site] = []
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
                    continue  # annotations say what a value is (facts.py reads them): never changed
                scope = facts.scope.get(id(node), ())
                if isinstance(node, ast.Name) and node.id not in scope:
                    continue  # a global, a builtin or a type: not a value to replace
                if not facts.numeric(node):
                    continue  # the mutator writes arithmetic: it replaces numbers only
                fn = facts.owner.get(id(node))
                opaque = facts.opaque.get(id(fn), set()) if fn is not None else set()
                out.append(Site(parent, fname, idx, tuple(n for n in scope if n not in opaque),
                                 frozenset(facts.arrays_at(node))))
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
