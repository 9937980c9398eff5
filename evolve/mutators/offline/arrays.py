"""Which expressions of a block may hold numpy arrays, and where a block asks an array for a truth value.

A child wraps an expression that may be an array with `np.maximum`/`np.minimum`/`np.abs`, never with
`max`/`min`/`abs`, and may not add a place where an array's truth value is asked for (`if`, `and`,
`not`, chained comparisons, builtin max/min of arrays). BlockFacts (facts.py) mixes this in.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

#: numpy functions whose result has the shape of their arguments (an array when one of them is)
NP_ELEMENTWISE = frozenset({
    "maximum", "minimum", "abs", "absolute", "where", "exp", "log", "log1p", "log2", "log10", "sqrt", "square",
    "sign", "clip", "power", "tanh", "floor", "ceil", "round", "rint", "fmax", "fmin", "reciprocal", "expm1",
    "logical_and", "logical_or", "logical_not", "isclose", "negative", "positive", "add", "subtract", "multiply",
    "divide", "true_divide", "floor_divide", "mod", "remainder", "hypot", "arctan", "sin", "cos"})
#: numpy functions (and array methods) that reduce an array to a number
REDUCTIONS = frozenset({
    "sum", "mean", "max", "min", "argmax", "argmin", "prod", "std", "var", "median", "any", "all", "amax",
    "amin", "count_nonzero", "dot", "item", "nanmax", "nanmin", "nansum", "ptp", "average"})
#: array attributes that are plain numbers or tuples
SCALAR_ATTRS = frozenset({"shape", "size", "ndim", "dtype", "itemsize", "nbytes"})
#: builtins the mutator may write around an expression, and numpy's element-wise counterparts
ELEMENTWISE_OF = {"max": "maximum", "min": "minimum", "abs": "abs"}


def arg_names(args: ast.arguments) -> list[str]:
    """The names a function's arguments bind."""
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return [a.arg for a in every]


class ArrayFacts:
    """Array reasoning over the scopes BlockFacts records (`np`, `owner`, `arrays`, `bools`)."""

    np: str | None
    owner: dict[int, ast.AST | None]
    arrays: dict[int, set[str]]
    bools: dict[int, set[str]]
    #: function name -> arguments known as arrays from elsewhere (the parent of a multi-step child)
    known_array_args: Mapping[str, frozenset[str]]

    def _array_names(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
        """Arguments annotated or used as arrays, and locals assigned from array expressions (none in a
        program without numpy: there a sliced or measured argument is a list)."""
        out: set[str] = set()
        if self.np is None:
            return out
        for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]:
            if a.annotation is not None and "array" in ast.unparse(a.annotation).lower():
                out.add(a.arg)
        params = set(arg_names(fn.args))
        out |= self.known_array_args.get(fn.name, frozenset()) & params
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
                out.update(a.id for a in node.args if isinstance(a, ast.Name) and a.id in params)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in params \
                    and (node.attr in SCALAR_ATTRS or node.attr in REDUCTIONS or node.attr == "astype"):
                out.add(node.value.id)
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in params \
                    and _has_slice(node.slice):
                out.add(node.value.id)
        assigns = [n for n in ast.walk(fn) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))]
        for _ in range(8):  # to a fixed point: b = a * 2; c = b + 1
            grew = False
            for n in assigns:
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                if n.value is None or not self.may_be_array(n.value, out):
                    continue
                for t in targets:
                    if isinstance(t, ast.Name) and t.id not in out:
                        out.add(t.id)
                        grew = True
            if not grew:
                break
        return out

    def arrays_at(self, node: ast.AST) -> set[str]:
        """The names that may hold arrays where `node` is."""
        fn = self.owner.get(id(node))
        return self.arrays.get(id(fn), set()) if fn is not None else set()

    def may_be_array(self, node: ast.AST, arrays: set[str]) -> bool:
        """Whether `node` may evaluate to an array, given the names that may hold one."""
        if isinstance(node, ast.Name):
            return node.id in arrays
        if isinstance(node, ast.BinOp):
            return self.may_be_array(node.left, arrays) or self.may_be_array(node.right, arrays)
        if isinstance(node, ast.UnaryOp):
            return self.may_be_array(node.operand, arrays)
        if isinstance(node, ast.Compare):
            return any(self.may_be_array(x, arrays) for x in [node.left, *node.comparators])
        if isinstance(node, ast.BoolOp):
            return any(self.may_be_array(x, arrays) for x in node.values)
        if isinstance(node, ast.IfExp):
            return self.may_be_array(node.body, arrays) or self.may_be_array(node.orelse, arrays)
        if isinstance(node, ast.Subscript):
            return (_has_slice(node.slice) or self.may_be_array(node.slice, arrays)) \
                and self.may_be_array(node.value, arrays)
        if isinstance(node, ast.Attribute):
            if node.attr in SCALAR_ATTRS or (isinstance(node.value, ast.Name) and node.value.id == self.np):
                return False
            return self.may_be_array(node.value, arrays)
        if isinstance(node, ast.Call):
            return self._call_may_be_array(node, arrays)
        return False

    def _call_may_be_array(self, node: ast.Call, arrays: set[str]) -> bool:
        f = node.func
        any_arg = any(self.may_be_array(a, arrays) for a in node.args)
        if isinstance(f, ast.Name):
            if f.id in ("max", "min"):
                return len(node.args) > 1 and any_arg
            return f.id == "abs" and any_arg
        if not isinstance(f, ast.Attribute):
            return False
        if isinstance(f.value, ast.Name) and f.value.id == self.np:
            if f.attr in REDUCTIONS:
                return False
            return f.attr not in NP_ELEMENTWISE or any_arg  # constructors (zeros, arange…) make arrays
        if isinstance(f.value, ast.Name) and f.value.id == "math":
            return False
        return f.attr not in REDUCTIONS and f.attr not in ("tolist", "index", "count") \
            and self.may_be_array(f.value, arrays)

    def _array_hazards(self, tree: ast.Module) -> int:
        """Places where an array's truth value would be asked for, or a builtin max/min compares arrays."""
        count = 0
        for node in ast.walk(tree):
            arrays = self.arrays_at(node)
            if not arrays:
                continue
            tests: list[ast.AST] = []
            if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                tests = [node.test]
            elif isinstance(node, ast.BoolOp):
                tests = list(node.values)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                tests = [node.operand]
            elif isinstance(node, ast.comprehension):
                tests = list(node.ifs)
            elif isinstance(node, ast.Compare) and len(node.ops) > 1:
                tests = [node]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "min"):
                tests = list(node.args) if len(node.args) > 1 else []
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
                count += self._bool_array(node.operand, arrays)  # numpy has no negative of booleans
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
                count += self._bool_array(node.left, arrays) and self._bool_array(node.right, arrays)
            count += sum(self.may_be_array(t, arrays) for t in tests)
        return count

    def _bool_array(self, node: ast.AST, arrays: set[str]) -> bool:
        """Whether `node` may be a boolean array (a comparison of arrays, or a name assigned one)."""
        if isinstance(node, ast.Compare):
            return self.may_be_array(node, arrays)
        fn = self.owner.get(id(node))
        return isinstance(node, ast.Name) and fn is not None and node.id in self.bools.get(id(fn), set())


def _has_slice(node: ast.AST) -> bool:
    if isinstance(node, ast.Slice):
        return True
    return isinstance(node, ast.Tuple) and any(isinstance(e, ast.Slice) for e in node.elts)
