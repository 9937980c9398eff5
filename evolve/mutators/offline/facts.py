"""What the offline mutator knows about a block before it changes it, from its AST alone.

Which names are bound at each expression (arguments, and locals assigned on every path to it), so that a
child never reads a local before its assignment; which expressions are numbers (the mutator writes
arithmetic only); which may hold numpy arrays (arrays.py); and the hazards of a block (reads of unbound
or unknown names, `max`/`min`/`if`/`and`/`not` on arrays), which a child may not add to.
The facts are approximate in both directions; the sandbox remains the judge of what crashes.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Mapping

from evolve.mutators.offline.arrays import ArrayFacts, arg_names

_BUILTINS = frozenset(dir(builtins))
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def numpy_alias(tree: ast.Module | None) -> str | None:
    """The module-level name numpy is imported as (`np` for `import numpy as np`), if any."""
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    return alias.asname or "numpy"
    return None


def module_names(tree: ast.Module | None) -> set[str]:
    """Names bound at module level (imports, definitions, assignments): what a function may read as globals."""
    out: set[str] = set()
    for node in tree.body if tree is not None else ():
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            out.add(node.name)
        else:
            out.update(_stored(node))
    return out


def _stored(node: ast.AST) -> set[str]:
    """Names a statement binds in its own scope (not inside nested functions or comprehensions)."""
    if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
        return {node.name}
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        if n is not node and isinstance(n, (*_FUNCTIONS, ast.Lambda, *_COMPREHENSIONS)):
            continue
        stack.extend(ast.iter_child_nodes(n))
    return out


class BlockFacts(ArrayFacts):
    """Scopes, array-valued names and hazards of one block; `outer` are the program's module-level names."""

    def __init__(self, tree: ast.Module, np_name: str | None, outer: Iterable[str] = (),
                 known_array_args: Mapping[str, frozenset[str]] | None = None) -> None:
        self.np = np_name
        self.known_array_args = dict(known_array_args or {})
        #: function name -> its arguments that may hold arrays (what a later change of the block may not forget)
        self.array_args: dict[str, frozenset[str]] = {}
        self.known = set(outer) | module_names(tree) | _BUILTINS
        #: id(node) -> names bound there (function arguments and locals assigned on every path to it)
        self.scope: dict[int, tuple[str, ...]] = {}
        #: id(node) -> the function it is in (None at module level)
        self.owner: dict[int, ast.AST | None] = {}
        self.arrays: dict[int, set[str]] = {}  # id(function) -> names that may hold arrays
        self.locals: dict[int, set[str]] = {}
        self.bools: dict[int, set[str]] = {}  # id(function) -> names that may hold boolean arrays
        self.opaque: dict[int, set[str]] = {}  # id(function) -> names that hold something other than numbers
        self.unbound = 0
        self.unknown = 0
        self._fn: ast.AST | None = None
        self._bind(tree.body, set())
        self.hazards = self.unbound + self.unknown + self._array_hazards(tree)

    # -- which names are bound where ------------------------------------------------------------------------
    def _bind(self, stmts: list[ast.stmt], bound: set[str]) -> set[str] | None:
        """Record the scope of every expression in `stmts`; the names bound after them (None: never reached)."""
        bound = set(bound)
        for st in stmts:
            self._record_header(st, bound)
            if isinstance(st, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
                return None
            if isinstance(st, ast.If):
                a, b = self._bind(st.body, bound), self._bind(st.orelse, bound)
                if a is None:
                    if b is None:
                        return None
                    bound = b
                else:
                    bound = a if b is None else a & b
            elif isinstance(st, (ast.For, ast.AsyncFor)):
                self._bind(st.body, bound | _stored(st.target))
                self._bind(st.orelse, bound)
            elif isinstance(st, ast.While):
                self._bind(st.body, bound)
                self._bind(st.orelse, bound)
            elif isinstance(st, (ast.With, ast.AsyncWith)):
                inner = bound | {n for item in st.items if item.optional_vars is not None
                                 for n in _stored(item.optional_vars)}
                after = self._bind(st.body, inner)
                if after is None:
                    return None
                bound = after
            elif isinstance(st, ast.Try):
                self._bind(st.body, bound)
                for h in st.handlers:
                    self._bind(h.body, bound | ({h.name} if h.name else set()))
                self._bind(st.orelse, bound)
                self._bind(st.finalbody, bound)
            elif isinstance(st, _FUNCTIONS):
                self._function(st)
                bound.add(st.name)
            elif isinstance(st, ast.ClassDef):
                bound.add(st.name)
            else:
                bound |= _stored(st)
        return bound

    def _function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self._fn
        self._fn = fn
        args = arg_names(fn.args)
        declared = {n for st in ast.walk(fn) if isinstance(st, (ast.Global, ast.Nonlocal)) for n in st.names}
        self.locals[id(fn)] = ({*args} | {n for st in fn.body for n in _stored(st)}) - declared
        self._bind(fn.body, set(args))
        self.arrays[id(fn)] = arrays = self._array_names(fn)
        self.array_args[fn.name] = frozenset(arrays & set(args))
        self.opaque[id(fn)] = self._opaque_names(fn, arrays)
        self.bools[id(fn)] = {t.id for n in ast.walk(fn) if isinstance(n, ast.Assign)
                              and isinstance(n.value, ast.Compare) and self.may_be_array(n.value, arrays)
                              for t in n.targets if isinstance(t, ast.Name)}
        self._fn = outer

    def _record_header(self, st: ast.stmt, bound: set[str]) -> None:
        """Scopes of a statement's own expressions (a compound statement's body is bound separately)."""
        names = tuple(sorted(bound))
        self.scope[id(st)], self.owner[id(st)] = names, self._fn
        for fname, value in ast.iter_fields(st):
            if fname in ("body", "orelse", "finalbody", "handlers") or isinstance(st, _FUNCTIONS):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    self._record(child, names)
        if isinstance(st, _FUNCTIONS):
            for d in [*st.decorator_list, *st.args.defaults, *(d for d in st.args.kw_defaults if d)]:
                self._record(d, names)

    def _record(self, node: ast.AST, names: tuple[str, ...]) -> None:
        self.scope[id(node)], self.owner[id(node)] = names, self._fn
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and self._fn is not None:
            if node.id in self.locals[id(self._fn)]:
                self.unbound += node.id not in names
            elif node.id not in self.known:
                self.unknown += 1
        if isinstance(node, _COMPREHENSIONS):
            inner = names
            for gen in node.generators:
                self._record(gen.iter, inner)
                inner = tuple(sorted({*inner, *_stored(gen.target)}))
                self._record(gen.target, inner)
                for cond in gen.ifs:
                    self._record(cond, inner)
            for part in ((node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)):
                self._record(part, inner)
            return
        if isinstance(node, ast.Lambda):
            inner = tuple(sorted({*names, *arg_names(node.args)}))
            self._record(node.body, inner)
            return
        for child in ast.iter_child_nodes(node):
            self._record(child, names)

    # -- which expressions are numbers ---------------------------------------------------------------------------
    def _opaque_names(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, arrays: set[str]) -> set[str]:
        """Names used as containers, objects or strings (subscripted, iterated, called through, compared with
        a string, assigned a collection), other than arrays: the mutator's arithmetic never touches them."""
        out: set[str] = set()

        def name(n: ast.AST) -> str | None:
            return n.id if isinstance(n, ast.Name) and n.id not in arrays else None

        for node in ast.walk(fn):
            if isinstance(node, (ast.Subscript, ast.Attribute)):
                out.add(name(node.value) or "")
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                out.add(name(node.iter) or "")
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in sides):
                    out.update(name(x) or "" for x in sides)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _collection(node.value):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    out.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, ast.Call) and name(node.func):
                out.add(name(node.func) or "")
                if isinstance(node.func, ast.Name) and node.func.id in ("len", "enumerate", "zip", "sorted", "list",
                                                                         "reversed", "iter", "sum", "set"):
                    out.update(name(a) or "" for a in node.args)  # a sequence (an array would be in `arrays`)
        assigns = [n for n in ast.walk(fn) if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None]
        for _ in range(8):  # to a fixed point: a local assigned something that is not a number holds no number
            before = len(out)
            for n in assigns:
                if not self._numeric(n.value, out, arrays):  # type: ignore[arg-type]
                    for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                        out.update(x.id for x in ast.walk(t) if isinstance(x, ast.Name))
            if len(out) == before:
                break
        out.discard("")
        return out - arrays

    def numeric(self, node: ast.AST, fn_node: ast.AST | None = None) -> bool:
        """Whether `node` is a number or an array of numbers, as far as its form shows: arithmetic over
        numeric names and constants, len(), element-wise and math calls, calls of the block's functions."""
        fn = self.owner.get(id(fn_node if fn_node is not None else node))
        opaque = self.opaque.get(id(fn), set()) if fn is not None else set()
        arrays = self.arrays.get(id(fn), set()) if fn is not None else set()
        return self._numeric(node, opaque, arrays)

    def _numeric(self, node: ast.AST, opaque: set[str], arrays: set[str]) -> bool:
        if isinstance(node, ast.Name):
            return node.id not in opaque
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, ast.BinOp):
            return self._numeric(node.left, opaque, arrays) and self._numeric(node.right, opaque, arrays)
        if isinstance(node, ast.UnaryOp):
            return self._numeric(node.operand, opaque, arrays)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            parts = [node.left, *node.comparators] if isinstance(node, ast.Compare) else node.values
            return all(self._numeric(x, opaque, arrays) for x in parts)
        if isinstance(node, ast.Subscript):
            return self.may_be_array(node.value, arrays)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                if f.id == "len":
                    return True
                if f.id in ("max", "min", "abs", "round", "float", "int"):
                    return all(self._numeric(a, opaque, arrays) for a in node.args) and not node.keywords
                return f.id in self.known and f.id not in _BUILTINS  # a function of the program
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                return f.value.id in (self.np, "math") or f.value.id in arrays
            return False
        if isinstance(node, ast.Attribute):
            return isinstance(node.value, ast.Name) and (node.value.id in (self.np, "math")
                                                         or node.value.id in arrays)
        return False

def _collection(node: ast.AST) -> bool:
    """Whether `node` builds a collection, a string or an object rather than a number."""
    if isinstance(node, (ast.Dict, ast.List, ast.Set, ast.Tuple, ast.ListComp, ast.SetComp, ast.DictComp,
                         ast.GeneratorExp, ast.JoinedStr)):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Call):
        f = node.func
        fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        return fname in ("dict", "list", "set", "tuple", "sorted", "range", "enumerate", "zip", "Random",
                         "defaultdict", "deque", "Counter", "str")
    return False
